"""The startup guard: a process that is not allowed to run stops here with every problem listed."""

from __future__ import annotations

import sys

from chatdesk.config.env import ConfigurationError, load_environment

# These commands exist to diagnose a broken configuration, so they run despite it.
DIAGNOSTIC_COMMANDS = frozenset(
    {"check", "check-env", "preflight", "help", "version", "generate-key", "generate-secret-key"}
)

# The exit status of a refused start. gunicorn respawns a worker that exits with any status other
# than its "app failed to load" code (4), so a refused gunicorn worker uses that one instead and
# the arbiter halts rather than looping over the same refusal.
EXIT_REFUSED = 2
_GUNICORN_APP_LOAD_ERROR = 4


def check_startup(command: str | None = None) -> None:
    """Raise ConfigurationError when this process must not start.

    Invalid values stop every mode; production rules stop production. Diagnostic commands are let
    through so an operator can see the checklist.
    """
    if command in DIAGNOSTIC_COMMANDS:
        return
    environment = load_environment()
    if environment.blocking:
        raise ConfigurationError(environment.blocking, environment.settings.APP_ENV.value)


def guard_startup(command: str | None = None) -> None:
    """Stop this process, listing every problem, when it must not start.

    Called by the `chatdesk` script and at import of the WSGI/ASGI modules, where an exception
    would end in a traceback: it prints the list (no secrets) and exits instead.
    """
    try:
        check_startup(command)
    except ConfigurationError as error:
        exit_on_configuration_error(error)


def exit_on_configuration_error(error: ConfigurationError) -> None:
    print(str(error), file=sys.stderr, flush=True)
    raise SystemExit(_GUNICORN_APP_LOAD_ERROR if _in_gunicorn_worker() else EXIT_REFUSED)


def _in_gunicorn_worker() -> bool:
    # The arbiter module is only imported inside a gunicorn master or worker process.
    return "gunicorn.arbiter" in sys.modules
