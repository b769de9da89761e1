"""Answer health probes before host validation, redirects and sessions.

Load balancers probe an instance by its IP, which is not (and should not be) in ALLOWED_HOSTS;
CommonMiddleware would answer 400 and SecurityMiddleware might redirect to https. The probes
expose nothing but ok/fail, so they are served here, right after the request id is set.
"""

from chatdesk.ops.views import healthz, readyz

PROBES = {"/healthz": healthz, "/readyz": readyz}


class HealthProbeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)
