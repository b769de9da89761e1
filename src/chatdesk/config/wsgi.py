import os

from chatdesk.config.startup import guard_startup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatdesk.config.settings")
# A production web process with a bad configuration refuses to serve (gunicorn shows the list).
guard_startup()

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
