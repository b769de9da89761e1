"""Writing the audit log. Call `audit_record` in the same transaction as the change it records,
so a change is never saved without its entry (nor an entry without its change).

    audit_record(
        workspace=workspace,
        action=AuditAction.ASSISTANT_CONFIG_CHANGED,
        actor=audit_actor(request),
        target=config,
        details={"fields": ["threshold"], "threshold": {"from": 0.7, "to": 0.8}},
    )

`details` names what changed and holds before/after values that are not secret. Keys that
look like secrets (token, secret, password, ...) are refused with ValueError: write
`{"fields": ["api_token"]}`, never the value.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from allauth.account.adapter import get_adapter
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import models
from django.http import HttpRequest

from chatdesk.audit.models import AuditAction, AuditEvent
from chatdesk.tenancy.models import Workspace

_SECRET_KEY = re.compile(
    r"secret|token|password|passwd|api_?key|credential|authorization|signature|cookie",
    re.IGNORECASE,
)
USER_AGENT_MAX = 300


@dataclass(frozen=True)
class AuditActor:
    """Who did it and from where. `user` is None for commands and jobs (then `label` names them)."""

    user: AbstractBaseUser | None
    ip_address: str | None = None
    user_agent: str = ""
    label: str = ""

    @property
    def display(self) -> str:
        if self.user is not None:
            return getattr(self.user, "email", "") or self.user.get_username()
        return self.label


def audit_actor(request: HttpRequest) -> AuditActor:
    """The signed-in user of `request`, with the client IP and user agent."""
    user = request.user if request.user.is_authenticated else None
    return AuditActor(
        user=user,
        ip_address=_client_ip(request),
        user_agent=request.headers.get("User-Agent", "")[:USER_AGENT_MAX],
    )


def audit_system_actor(label: str) -> AuditActor:
    """For changes made by a command or a job, e.g. `audit_system_actor("chatdesk demo")`."""
    return AuditActor(user=None, label=label[:254])


def audit_record(
    *,
    workspace: Workspace,
    action: AuditAction | str,
    actor: AuditActor,
    target: models.Model | None = None,
    target_label: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    action = AuditAction(action)  # an unknown action is a programming error: ValueError
    details = details or {}
    _refuse_secret_keys(details, path="details")
    return AuditEvent.objects.for_workspace(workspace).create(
        workspace=workspace,
        actor=actor.user,
        actor_label=actor.display[:254],
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=(target_label or (str(target) if target is not None else ""))[:200],
        details=details,
        ip_address=actor.ip_address,
        user_agent=actor.user_agent[:USER_AGENT_MAX],
    )


def _refuse_secret_keys(value: Any, *, path: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if _SECRET_KEY.search(str(key)):
                raise ValueError(
                    f"audit {path} must not hold secrets: key {key!r} looks like one. Record "
                    "which field changed (e.g. {'fields': ['api_token']}), never its value."
                )
            _refuse_secret_keys(item, path=f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_secret_keys(item, path=path)


def _client_ip(request: HttpRequest) -> str | None:
    # allauth's reading honours ALLAUTH_TRUSTED_PROXY_COUNT (the last X-Forwarded-For entry
    # behind our one proxy), the same address login throttling uses.
    try:
        ip = get_adapter(request).get_client_ip(request)
    except (PermissionDenied, ImproperlyConfigured):
        ip = request.META.get("REMOTE_ADDR")
    try:
        return str(ipaddress.ip_address(ip)) if ip else None
    except ValueError:
        return None
