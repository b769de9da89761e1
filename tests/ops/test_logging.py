"""Log output as an operator reads it: the real handler and formatters, captured on a stream."""

import json
import logging
import re
from datetime import datetime, timedelta

import pytest
from django.test import Client

from chatdesk.config.logging import build_logging_config
from chatdesk.ops import redaction
from chatdesk.ops.request_id import request_id_context

BEARER = "eyZ0bearer-token-4f1c9a7e"
ACCESS_TOKEN = "qs-access-token-77d1e0"
PASSWORD = "correct horse battery staple"
API_KEY = "body-api-key-5b2e8c"
SIGNATURE = "9f" * 32
CONFIGURED = "configured-secret-0a1b2c3d"  # matches no pattern: only settings can mask it
RUNTIME = "decrypted-provider-secret-31337"  # likewise: only register_secret can mask it
HEADER_API_KEY = "sk-live-provider-key-0000000001"

SECRETS = [BEARER, ACCESS_TOKEN, PASSWORD, API_KEY, SIGNATURE, CONFIGURED, RUNTIME]
FORMATS = ["json", "text"]


def lines_of(stream) -> list[str]:
    return stream.getvalue().splitlines()


def post_carrying_secrets(client: Client):
    return client.post(
        f"/test/log?access_token={ACCESS_TOKEN}&page=2",
        data=json.dumps(
            {
                "password": PASSWORD,
                "api_key": API_KEY,
                "note": CONFIGURED,
                "credential_hint": RUNTIME,
                "customer": "Ada Lovelace",
            }
        ),
        content_type="application/json",
        headers={
            "Authorization": f"Bearer {BEARER}",
            "X-Hub-Signature-256": f"sha256={SIGNATURE}",
            "User-Agent": "meta-webhooks/1.0",
        },
    )


@pytest.fixture
def secrets_configured(settings):
    settings.REDACTED_VALUES = [CONFIGURED]
    redaction.register_secret(RUNTIME)


@pytest.mark.urls("tests.ops.urls")
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_request_carrying_secrets_is_logged_without_any_of_them(
    fmt, install_logging, secrets_configured, client
):
    stream = install_logging(fmt)
    response = post_carrying_secrets(client)
    assert response.status_code == 200
    output = stream.getvalue()
    assert "chatdesk.tests.webhook" in output
    for secret in SECRETS:
        assert secret not in output, f"{secret!r} leaked into the {fmt} log"
    # Everything that is not a secret stays readable.
    for readable in ["/test/log?access_token=", "page=2", "Ada Lovelace", "meta-webhooks/1.0"]:
        assert readable in output
    assert "[REDACTED]" in output
    if fmt == "json":
        assert all(json.loads(line) for line in lines_of(stream))


@pytest.mark.urls("tests.ops.urls")
def test_without_configuration_the_configured_value_would_have_leaked(install_logging, client):
    # Proves the test above depends on settings.REDACTED_VALUES, not on a pattern.
    stream = install_logging("text")
    post_carrying_secrets(client)
    assert CONFIGURED in stream.getvalue()


@pytest.mark.urls("tests.ops.urls")
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_traceback_mentioning_a_secret_is_redacted(fmt, install_logging, secrets_configured):
    stream = install_logging(fmt)
    client = Client(raise_request_exception=False)
    response = client.get(
        f"/test/fail?token={ACCESS_TOKEN}",
        headers={"X-Api-Key": HEADER_API_KEY, "Authorization": f"Bearer {BEARER}"},
    )
    assert response.status_code == 500
    output = stream.getvalue()
    assert "Internal Server Error: /test/fail" in output
    assert "RuntimeError: provider rejected api key" in output
    for secret in [HEADER_API_KEY, ACCESS_TOKEN, BEARER]:
        assert secret not in output
    if fmt == "json":
        (record,) = [json.loads(line) for line in lines_of(stream)]
        assert record["exc_info"].startswith("Traceback")


def test_logging_with_a_secret_in_the_traceback_outside_a_request(install_logging, settings):
    settings.REDACTED_VALUES = [CONFIGURED]
    stream = install_logging("json")
    try:
        raise ValueError(f"could not decrypt with {CONFIGURED}")
    except ValueError:
        logging.getLogger("chatdesk.jobs").exception("job failed")
    (line,) = lines_of(stream)
    record = json.loads(line)
    assert "ValueError: could not decrypt with [REDACTED]" in record["exc_info"]
    assert CONFIGURED not in line


@pytest.mark.urls("tests.ops.urls")
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_line_of_a_request_carries_the_id_the_response_returns(fmt, install_logging):
    stream = install_logging(fmt)
    client = Client(raise_request_exception=False)
    for path in ["/test/log", "/test/fail", "/no-such-page"]:
        stream.truncate(0)
        stream.seek(0)
        response = client.get(path, headers={"X-Api-Key": "x"})
        request_id = response["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)
        records = [line for line in lines_of(stream) if line.startswith(("{", "20"))]
        assert records, f"nothing logged for {path}"
        for line in records:
            if fmt == "json":
                assert json.loads(line)["request_id"] == request_id
            else:
                assert f"[req={request_id}]" in line


@pytest.mark.parametrize("fmt", FORMATS)
def test_lines_outside_a_request_say_so_and_jobs_can_carry_an_id(fmt, install_logging):
    stream = install_logging(fmt)
    logger = logging.getLogger("chatdesk.jobs")
    logger.info("reaper ran")
    with request_id_context("enqueued-by-req-0042"):
        logger.info("processing inbound message")
    first, second = lines_of(stream)
    if fmt == "json":
        assert json.loads(first)["request_id"] == "-"
        assert json.loads(second)["request_id"] == "enqueued-by-req-0042"
    else:
        assert "[req=-]" in first
        assert "[req=enqueued-by-req-0042]" in second


def test_json_lines_have_the_documented_fields(install_logging):
    stream = install_logging("json")
    with request_id_context("abcdef0123456789"):
        logging.getLogger("chatdesk.crm").warning(
            "contact %s merged", "c-17", extra={"workspace": "acme", "merged": 2}
        )
    (line,) = lines_of(stream)
    record = json.loads(line)
    assert record["level"] == "WARNING"
    assert record["logger"] == "chatdesk.crm"
    assert record["message"] == "contact c-17 merged"
    assert record["request_id"] == "abcdef0123456789"
    assert record["workspace"] == "acme"
    assert record["merged"] == 2
    timestamp = datetime.fromisoformat(record["timestamp"])
    assert timestamp.utcoffset() == timedelta(0)


def test_text_lines_are_single_readable_lines(install_logging):
    stream = install_logging("text")
    logging.getLogger("chatdesk.crm").info(
        "contact merged\nFAKE 2026-01-01 ERROR forged line", extra={"workspace": "acme", "n": 2}
    )
    (line,) = lines_of(stream)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO chatdesk\.crm \[req=-\] "
        r"contact merged\\nFAKE 2026-01-01 ERROR forged line workspace=acme n=2",
        line,
    )


@pytest.mark.parametrize(
    ("configured", "logger_name"),
    [
        ("django", "django.request"),
        ("django.security", "django.security.csrf"),
        ("gunicorn.access", "gunicorn.access"),
        ("gunicorn.error", "gunicorn.error"),
        ("django_tasks_db", "django_tasks_db"),
        ("django.tasks", "django.tasks"),
    ],
)
def test_framework_loggers_go_through_the_one_redacting_handler(
    install_logging, configured, logger_name
):
    # gunicorn (and Django's defaults) install their own handlers and stop propagation before our
    # configuration runs; the configuration must take those back.
    own = logging.getLogger(configured)
    stray = logging.StreamHandler()
    own.addHandler(stray)
    own.propagate = False
    stream = install_logging("json")
    assert stray not in own.handlers
    logging.getLogger(logger_name).warning(
        '"GET /webhooks/x?access_token=%s HTTP/1.1" 200', "tok12345"
    )
    (line,) = lines_of(stream)
    assert json.loads(line)["logger"] == logger_name
    assert "tok12345" not in line
    assert len(logging.getLogger().handlers) == 1


def test_an_unknown_format_or_level_is_a_clear_error():
    with pytest.raises(ValueError, match="json, text"):
        build_logging_config(level="INFO", fmt="yaml")
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        build_logging_config(level="loud", fmt="json")


def test_debug_level_keeps_django_internals_at_info(install_logging):
    stream = install_logging("text", level="DEBUG")
    logging.getLogger("chatdesk.crm").debug("app debug line")
    logging.getLogger("django.db.backends").debug("SELECT secret_column FROM t")
    assert "app debug line" in stream.getvalue()
    assert "SELECT" not in stream.getvalue()


def test_gunicorn_access_lines_carry_the_id_of_the_response_they_describe(install_logging):
    from gunicorn.glogging import SafeAtoms

    stream = install_logging("text")
    atoms = SafeAtoms(
        {
            "h": "10.0.0.9",
            "r": "GET /webhooks/kapso/ch-1?access_token=tok98765 HTTP/1.1",
            "s": "200",
            "{x-request-id}o": "0123456789abcdef0123456789abcdef",
        }
    )
    logging.getLogger("gunicorn.access").info('%(h)s "%(r)s" %(s)s', atoms)
    (line,) = lines_of(stream)
    assert "[req=0123456789abcdef0123456789abcdef]" in line
    assert '10.0.0.9 "GET /webhooks/kapso/ch-1?access_token=[REDACTED] HTTP/1.1" 200' in line
