"""Every tenant URL of the project, found from the URL resolver, with sample arguments.

A tenant URL is any pattern with a `workspace_slug` argument. `SAMPLE_KWARGS` says how to build
the other arguments of each one from a TenantWorld (conftest.py), always using objects of that
world, so "B's URL" means B's slug and B's object ids. A new tenant view without an entry here
fails `test_every_tenant_url_has_sample_arguments`, so it cannot escape the cross-workspace tests.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.tenancy.factories import TenantWorld

WORKSPACE_KWARG = "workspace_slug"

# URL name -> extra kwargs (beyond workspace_slug) built from the world that owns the URL.
SAMPLE_KWARGS: dict[str, Callable[[TenantWorld], dict]] = {
    "tenancy:workspace-home": lambda world: {},
    "tenancy:team": lambda world: {},
    "tenancy:invitation-create": lambda world: {},
    "tenancy:invitation-revoke": lambda world: {"invitation_id": world.invitation.pk},
}

# Other areas declare their own samples in tests/<area>/tenant_url_samples.py (a SAMPLE_KWARGS
# dict of the same shape), so each area owns its entries and none are forgotten.
for _module in sorted(Path(__file__).resolve().parents[1].glob("*/tenant_url_samples.py")):
    SAMPLE_KWARGS.update(
        importlib.import_module(f"tests.{_module.parent.name}.tenant_url_samples").SAMPLE_KWARGS
    )


@dataclass(frozen=True)
class TenantUrl:
    name: str | None
    route: str


def _walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[TenantUrl]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}{entry.namespace}:"
            yield from _walk(entry.url_patterns, route, ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else None
            yield TenantUrl(name=name, route=route)


def tenant_urls() -> list[TenantUrl]:
    return [u for u in _walk(get_resolver().url_patterns) if f":{WORKSPACE_KWARG}>" in u.route]


def tenant_url(name: str, world: TenantWorld) -> str:
    kwargs = {WORKSPACE_KWARG: world.workspace.slug, **SAMPLE_KWARGS[name](world)}
    return reverse(name, kwargs=kwargs)
