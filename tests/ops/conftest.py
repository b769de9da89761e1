import io
import logging.config
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings

from chatdesk.config.logging import build_logging_config


@pytest.fixture
def install_logging() -> Iterator[Callable[[str], io.StringIO]]:
    """Install the real logging configuration, writing to a StringIO; restore it afterwards."""

    def install(fmt: str, level: str = "INFO") -> io.StringIO:
        stream = io.StringIO()
        logging.config.dictConfig(build_logging_config(level=level, fmt=fmt, stream=stream))
        return stream

    yield install
    logging.config.dictConfig(settings.LOGGING)
