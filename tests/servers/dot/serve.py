"""Starts the Django OAuth Toolkit test server on 127.0.0.1 and a free port.

Usage: python serve.py STATE_DIR. Environment: DOT_ACCESS_TOKEN_TTL (seconds),
DOT_CORS_MODE ("django-cors-headers" or "dot"), DOT_REFRESH_TOKEN_GRACE_PERIOD
(seconds, default 0), DOT_API_SECRET (the introspecting API's
client secret), DOT_REDIRECT_URIS (space-separated). Generates the RS256 key and Django
secret in STATE_DIR (never in the repository), migrates a fresh sqlite database there,
creates the clients and users, then prints one JSON line {"port": N} and serves (waitress).
"""
import json
import os
import secrets
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from waitress.server import create_server

HERE = Path(__file__).resolve().parent
USERS = ("dana", "alice")
PASSWORD = "correct horse"


def prepare_state(state):
    state.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    for name, data in (("oidc-rsa.pem", pem), ("django-secret", secrets.token_urlsafe(48).encode())):
        path = state / name
        path.write_bytes(data)
        path.chmod(0o600)


class Lazy:
    """The WSGI app, set once Django is configured (the issuer needs the port first)."""
    app = None

    def __call__(self, environ, start_response):
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"starting"]
        return self.app(environ, start_response)


def bootstrap():
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from oauth2_provider.models import get_application_model

    call_command("migrate", verbosity=0, interactive=False)
    User = get_user_model()
    for name in USERS:
        User.objects.create_user(name, password=PASSWORD)
    Application = get_application_model()
    uris = os.environ.get("DOT_REDIRECT_URIS", "").split()
    origins = sorted({u.split("/", 3)[0] + "//" + u.split("/", 3)[2] for u in uris if u.count("/") >= 2})
    Application.objects.create(  # DOT's docs for single-page apps: public, code + PKCE, no secret
        client_id="tokenward-dot", name="tokenward SPA",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        client_secret="", hash_client_secret=False,
        redirect_uris=" ".join(uris), post_logout_redirect_uris=" ".join(uris),
        allowed_origins=" ".join(origins),
        skip_authorization=True, algorithm=Application.RS256_ALGORITHM,
    )
    Application.objects.create(  # the test API: introspects tokens with its own credentials
        client_id="tokenward-api", name="tokenward API",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=os.environ["DOT_API_SECRET"],
    )


def main():
    state = Path(sys.argv[1])
    prepare_state(state)
    lazy = Lazy()
    server = create_server(lazy, host="127.0.0.1", port=0, threads=8, ident="tokenward-dot",
                           clear_untrusted_proxy_headers=True)
    port = int(server.effective_port)
    os.environ["DOT_STATE_DIR"] = str(state)
    os.environ["DOT_ISSUER"] = f"http://127.0.0.1:{port}/o"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tokenward_dot.settings"
    sys.path.insert(0, str(HERE))
    import django
    from django.core.wsgi import get_wsgi_application

    django.setup()
    bootstrap()
    lazy.app = get_wsgi_application()
    print(json.dumps({"port": port}), flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
