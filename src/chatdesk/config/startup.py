"""The startup guard: a process that is not allowed to run stops here with every problem listed."""

from __future__ import annotations

import sys

from chatdesk.config.env import ConfigurationError, load_environment

# These commands exist to diagnose a broken configuration, so they run despite it.
DIAGNOSTIC_COMMANDS = frozenset(
    {"check", "check-env", "preflight", "help", "version", "generate-key", "generate-secret-key"}
)


def guard_startup(command: str | None = None) -> None:
    """Raise ConfigurationError when this process must not start.

    Invalid values stop every mode; production rules stop production. Diagnostic commands are let
    through so an operator can see the checklist.
    """
    if command in DIAGNOSTIC_COMMANDS:
        return
    environment = load_environment()
    if environment.blocking:
        raise ConfigurationError(environment.blocking, environment.settings.APP_ENV.value)


def exit_on_configuration_error(error: ConfigurationError) -> None:
    print(str(error), file=sys.stderr)
    raise SystemExit(2)
