# Counts what the tests assert on: token-endpoint POSTs by grant type, invalid_grant
# answers, revocations. GET /_stats gives them as JSON (POST /_stats resets), loopback only.
# Every change is also printed as a `STATS {...}` line on stdout before the answer leaves,
# so that the Node side (tests/servers/dot.mjs) sees the counters without asking.
import json
import sys
import threading

from django.http import HttpResponseForbidden, JsonResponse
from django.views.decorators.csrf import csrf_exempt

TOKEN_PATH = "/o/token/"
REVOKE_PATH = "/o/revoke_token/"
_lock = threading.Lock()
_stats = {}
_events = []


def _reset():
    _stats.clear()
    _stats.update(tokenRequests=0, refreshRequests=0, refreshOk=0, invalidGrant=0,
                  codeExchanges=0, revocations=0)
    del _events[:]


_reset()


def _publish():
    sys.stdout.write("STATS " + json.dumps(_stats) + "\n")
    sys.stdout.flush()


def _error_of(response):
    try:
        return json.loads(response.content).get("error")
    except (ValueError, AttributeError):
        return None


class StatsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method != "POST" or request.path not in (TOKEN_PATH, REVOKE_PATH):
            return self.get_response(request)
        if request.path == REVOKE_PATH:
            with _lock:
                _stats["revocations"] += 1
                _publish()
            return self.get_response(request)
        grant = request.POST.get("grant_type")
        response = self.get_response(request)
        error = _error_of(response) if response.status_code >= 400 else None
        with _lock:
            _stats["tokenRequests"] += 1
            if grant == "refresh_token":
                _stats["refreshRequests"] += 1
                if response.status_code == 200:
                    _stats["refreshOk"] += 1
            if grant == "authorization_code":
                _stats["codeExchanges"] += 1
            if error == "invalid_grant":
                _stats["invalidGrant"] += 1
            if error:
                _events.append({"type": "grant.error", "grantType": grant, "error": error})
            _publish()
        return response


@csrf_exempt
def stats_view(request):
    if request.META.get("REMOTE_ADDR") != "127.0.0.1":
        return HttpResponseForbidden()
    with _lock:
        if request.method == "POST":
            _reset()
            _publish()
        return JsonResponse({"stats": dict(_stats), "events": list(_events)})
