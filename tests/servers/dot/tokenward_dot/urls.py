from django.contrib.auth import views as auth_views
from django.urls import include, path
from oauth2_provider import urls as oauth2_urls

from . import admin_views, stats

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    # DOT under /o/ (issuer http://127.0.0.1:PORT/o) and its RFC 8414 document also at
    # the root, in RFC 8414 §3's path form: /.well-known/oauth-authorization-server/o.
    path("o/", include(oauth2_urls)),
    path("", include((oauth2_urls.metadata_urlpatterns, "root_metadata"))),
    path("_stats", stats.stats_view),
    path("_redirect_uri", admin_views.add_redirect_uri),
    path("_ttl", admin_views.access_token_ttl),
]
