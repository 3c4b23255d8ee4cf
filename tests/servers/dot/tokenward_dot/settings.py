# Django settings for the DOT test authorization server. Everything that differs per run
# comes from the environment that serve.py sets: state dir, issuer, token lifetime, CORS mode.
import os
from pathlib import Path

STATE_DIR = Path(os.environ["DOT_STATE_DIR"])
SECRET_KEY = (STATE_DIR / "django-secret").read_text()
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = "tokenward_dot.urls"
USE_TZ = True
LOGIN_URL = "/accounts/login/"

# "django-cors-headers" (what DOT's docs tell SPAs to use: every answer carries CORS for the
# app origin) or "dot" (only DOT's own Application.allowed_origins, which covers only
# successful token-endpoint answers).
CORS_MODE = os.environ.get("DOT_CORS_MODE", "django-cors-headers")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
    "tokenward_dot",
]
if CORS_MODE == "django-cors-headers":
    INSTALLED_APPS.append("corsheaders")

MIDDLEWARE = [
    "tokenward_dot.stats.StatsMiddleware",
    *(["corsheaders.middleware.CorsMiddleware"] if CORS_MODE == "django-cors-headers" else []),
    "django.middleware.common.CommonMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

CORS_ALLOWED_ORIGIN_REGEXES = [r"^http://127\.0\.0\.1:\d+$"]
CORS_ALLOW_HEADERS = ["authorization", "content-type", "dpop"]

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
}]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(STATE_DIR / "db.sqlite3")}}
# Several test tabs refresh at once: wait for sqlite's write lock instead of failing.
DATABASES["default"]["OPTIONS"] = {"timeout": 20}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # test speed, not security
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

OAUTH2_PROVIDER = {
    "PKCE_REQUIRED": True,
    # RFC 9207: `iss` in every authorization response (then advertised in both metadata documents).
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "OAUTH2_VALIDATOR_CLASS": "tokenward_dot.validators.Validator",
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": (STATE_DIR / "oidc-rsa.pem").read_text(),
    "OIDC_ISS_ENDPOINT": os.environ["DOT_ISSUER"],
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # How long a rotated refresh token is still honoured (0: not at all, DOT's default):
    # a client that never received the answer of its refresh can repeat it.
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": int(os.environ.get("DOT_REFRESH_TOKEN_GRACE_PERIOD", "0")),
    "ACCESS_TOKEN_EXPIRE_SECONDS": int(os.environ.get("DOT_ACCESS_TOKEN_TTL", "300")),
    # api:read is the scope the shared scenarios ask for (oidc-provider's resource scope).
    "SCOPES": {"openid": "OpenID Connect", "api:read": "Read the test API", "introspection": "Introspect tokens"},
    "DEFAULT_SCOPES": ["openid", "api:read"],
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    "ALLOWED_SCHEMES": ["http", "https"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
