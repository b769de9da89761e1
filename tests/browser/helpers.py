"""Shared by the browser tests and their fixtures."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from chatdesk.devtools.seed import DemoLogin
from chatdesk.devtools.simulator import Simulator

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class LiveApp:
    """The running app (its base URL), the demo workspace's login, and the simulator."""

    url: str
    demo: DemoLogin
    simulator: Simulator

    def path(self, path: str) -> str:
        return f"{self.url}{path}"


def sign_in_directly(page, live: LiveApp) -> None:
    """A session for the demo owner, handed to the browser as its cookie: quicker than the
    form, which test_the_demo_owner_signs_in_... drives."""
    client = Client()
    client.force_login(get_user_model().objects.get(email=live.demo.email))
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": cookie.key, "value": cookie.value, "url": live.url, "httpOnly": True}]
    )
