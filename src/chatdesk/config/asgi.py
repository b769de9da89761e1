import os

from chatdesk.config.startup import guard_startup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatdesk.config.settings")
guard_startup()

from django.core.asgi import get_asgi_application  # noqa: E402

application = get_asgi_application()
