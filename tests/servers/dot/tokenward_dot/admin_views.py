# Loopback-only helpers for the tests: register one more redirect URI (and its origin, for
# DOT's own CORS) on the SPA client.
from urllib.parse import urlsplit

from django.http import HttpResponseBadRequest, HttpResponseForbidden, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings

SPA_CLIENT_ID = "tokenward-dot"


@csrf_exempt
def add_redirect_uri(request):
    if request.META.get("REMOTE_ADDR") != "127.0.0.1":
        return HttpResponseForbidden()
    uri = request.POST.get("uri", "")
    parts = urlsplit(uri)
    if request.method != "POST" or parts.scheme not in ("http", "https") or not parts.netloc:
        return HttpResponseBadRequest()
    app = get_application_model().objects.get(client_id=SPA_CLIENT_ID)
    uris = app.redirect_uris.split()
    origins = app.allowed_origins.split()
    origin = f"{parts.scheme}://{parts.netloc}"
    if uri not in uris:
        uris.append(uri)
    if origin not in origins:
        origins.append(origin)
    app.redirect_uris = " ".join(uris)
    app.post_logout_redirect_uris = " ".join(uris)
    app.allowed_origins = " ".join(origins)
    app.save()
    return JsonResponse({"redirect_uris": uris})


@csrf_exempt
def access_token_ttl(request):
    """Sets ACCESS_TOKEN_EXPIRE_SECONDS for the tokens issued from now on."""
    if request.META.get("REMOTE_ADDR") != "127.0.0.1":
        return HttpResponseForbidden()
    try:
        seconds = int(request.POST.get("seconds", ""))
    except ValueError:
        return HttpResponseBadRequest()
    if request.method != "POST" or seconds <= 0:
        return HttpResponseBadRequest()
    oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS = seconds
    return JsonResponse({"seconds": seconds})
