"""Django system checks for the configuration (ids chatdesk.E001 ...)."""
