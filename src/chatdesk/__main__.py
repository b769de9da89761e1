"""The `chatdesk` console script: Django's management utility with chatdesk's settings."""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatdesk.config.settings")
    from chatdesk.config.env import ConfigurationError
    from chatdesk.config.startup import exit_on_configuration_error, guard_startup

    command = argv[1] if len(argv) > 1 else "help"
    if command.startswith("-"):
        command = "help"
    try:
        guard_startup(command)
    except ConfigurationError as error:
        exit_on_configuration_error(error)

    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
