import io
import logging
import sys
import time

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from chatdesk.ops import redaction
from chatdesk.ops.logging import JsonFormatter, RequestIdFilter, TextFormatter
from chatdesk.ops.redaction import RedactionFilter, redact_text, redact_value, register_secret

R = "[REDACTED]"


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("Authorization: Bearer abc.DEF-123_x", "abc.DEF-123_x", "Authorization: "),
        ("calling with bearer ya29.a0AfH6SM", "ya29.a0AfH6SM", "calling with bearer"),
        ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy", "Authorization: "),
        ("proxy sent Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy", "proxy sent Basic"),
        ("X-Hub-Signature-256: sha256=" + "a1" * 32, "a1" * 32, "X-Hub-Signature-256: "),
        ("{'HTTP_X_HUB_SIGNATURE_256': 'sha256=" + "b2" * 32 + "'}", "b2" * 32, "HTTP_X_HUB"),
        ("X-Webhook-Signature: " + "c3" * 32, "c3" * 32, "X-Webhook-Signature: "),
        ("GET /hook?access_token=tok-123&page=2", "tok-123", "&page=2"),
        ("GET /hook?hub.verify_token=vt-998&hub.challenge=42", "vt-998", "hub.challenge=42"),
        ("form: apikey=AK998877&name=Ann", "AK998877", "name=Ann"),
        ("key=k-abcdef other=1", "k-abcdef", "other=1"),
        ('{"password": "hunter2", "name": "Ann"}', "hunter2", '"name": "Ann"'),
        ('{"api_key":"ak_998877"}', "ak_998877", '"api_key":'),
        ("{'client_secret': 'cs-4242'}", "cs-4242", "'client_secret': "),
        ('payload="{\\"password\\": \\"pw-in-json\\"}"', "pw-in-json", "payload="),
        ("<QueryDict: {'access_token': ['qd-token-1']}>", "qd-token-1", "QueryDict"),
        ("password=hunter2", "hunter2", "password="),
        ("password1=hunter2 password2=hunter2", "hunter2", "password1="),
        ("accessToken: xyz-123-abc", "xyz-123-abc", "accessToken"),
        ("Cookie: sessionid=s3ss10n; csrftoken=csrf99", "s3ss10n", "Cookie"),
        ("llm key sk-proj-abcdefghijklmnop1234", "abcdefghijklmnop1234", "llm key"),
        ("stripe sk_live_51HxYzAbCdEf", "51HxYzAbCdEf", "stripe"),
        ("resend re_AbC12345_XyZabcdefghijkl", "re_AbC12345_XyZabcdefghijkl", "resend"),
        ("stored gAAAAABlZ3Jvb3QtZmVybmV0LXRva2VuLXZhbHVl==", "gAAAAABlZ3Jvb3Q", "stored"),
        ("meta EAAGm0PX4ZCpsBAAbcdefghijklmnopqrstuvwxyz12", "EAAGm0PX4ZCps", "meta"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig-part", "eyJzdWIiOiIxMjM0In0", "jwt"),
        ("db postgres://app:pg-pass-1@db.internal:5432/app", "pg-pass-1", "@db.internal:5432"),
        ("cache redis://:redis-pass-1@cache:6379/0", "redis-pass-1", "@cache:6379/0"),
        ("alert https://hooks.slack.com/services/T000/B000/XXXXsecret", "XXXXsecret", "slack"),
        ("token 6f1e2d3c4b5a69788796a5b4c3d2e1f0", "6f1e2d3c4b5a69788796a5b4c3d2e1f0", "token "),
    ],
)
def test_token_like_values_are_masked_and_their_context_kept(text, secret, kept):
    redacted = redact_text(text)
    assert secret not in redacted
    assert kept in redacted
    assert R in redacted


@pytest.mark.parametrize(
    "text",
    [
        "usage prompt_tokens=120 completion_tokens=30",
        "request 6f1e2d3c4b5a69788796a5b4c3d2e1f0 done",  # a request id is not a secret
        "customer asked about the Basic plan",
        "keyboard=1 monkeys=2 status=delivered",
        "GET /w/acme/inbox?page=3&q=refund",
        "mailto user@example.com",
        "signature verified for channel 42",
    ],
)
def test_ordinary_log_text_is_left_alone(text):
    assert redact_text(text) == text


def test_redaction_is_idempotent():
    once = redact_text('Authorization: Bearer abc {"password": "x"} token=y sha256=' + "a" * 64)
    assert redact_text(once) == once


def test_configured_secrets_are_masked_wherever_they_appear(settings):
    settings.REDACTED_VALUES = ["s3cr3t/with+specials", "tiny"]
    text = "raw s3cr3t/with+specials, quoted s3cr3t%2Fwith%2Bspecials, short tiny"
    assert redact_text(text) == f"raw {R}, quoted {R}, short tiny"


def test_registered_secrets_are_masked_from_then_on_and_short_ones_ignored():
    assert "kapso-key-7781" in redact_text("using kapso-key-7781")
    register_secret("kapso-key-7781")
    register_secret("abc")  # too short to mask without wrecking ordinary text
    register_secret(None)
    assert redact_text("using kapso-key-7781 for abc") == f"using {R} for abc"


def test_register_secret_is_safe_from_many_threads():
    import threading

    values = [f"thread-secret-{i:04d}" for i in range(200)]
    threads = [threading.Thread(target=register_secret, args=(v,)) for v in values]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(v not in redact_text(" ".join(values)) for v in values)


def test_containers_are_redacted_recursively_and_secret_names_masked_whole():
    value = {
        "password": 1234,
        "headers": {"Authorization": "Bearer abc", "Accept": "text/html"},
        "items": ["token=t1", ("ok", b"api_key=b2")],
        "flag": True,
    }
    assert redact_value(value) == {
        "password": R,
        "headers": {"Authorization": R, "Accept": "text/html"},
        "items": [f"token={R}", ["ok", f"api_key={R}"]],
        "flag": True,
    }


def test_a_self_referencing_structure_does_not_recurse_forever():
    loop: list = []
    loop.append(loop)
    redact_value({"loop": loop})


def test_a_long_line_is_redacted_in_reasonable_time():
    text = ("a_" * 20000) + " token=abc " + ("Zz9+" * 20000) + " " + ("x" * 50000)
    started = time.perf_counter()
    assert "token=abc" not in redact_text(text)
    assert time.perf_counter() - started < 2


def make_record(msg, args=(), **extra) -> logging.LogRecord:
    record = logging.LogRecord("chatdesk.t", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def format_both(record: logging.LogRecord) -> list[str]:
    RequestIdFilter().filter(record)
    assert RedactionFilter().filter(record) is True
    return [TextFormatter().format(record), JsonFormatter().format(record)]


class Unprintable:
    def __str__(self):
        raise RuntimeError("no str for you")

    __repr__ = __str__


def test_a_message_whose_arguments_do_not_fit_is_kept_and_still_redacted():
    for output in format_both(make_record("user %s logged in with %d", ("ann", "password=pw1"))):
        assert "user %s logged in with %d" in output
        assert "pw1" not in output


def test_unprintable_arguments_and_extras_do_not_lose_the_line():
    for output in format_both(make_record("value %s", (Unprintable(),), thing=Unprintable())):
        assert "chatdesk.t" in output


def test_when_redaction_itself_fails_the_line_is_withheld_not_leaked(monkeypatch):
    def broken(text):
        raise RuntimeError("bug in a pattern")

    monkeypatch.setattr(redaction, "redact_text", broken)
    record = make_record("password=%s", ("pw-leak-1",), detail="pw-leak-1")
    assert RedactionFilter().filter(record) is True
    assert record.getMessage().startswith("log record from chatdesk.t withheld")
    assert not hasattr(record, "detail")


def test_settings_not_yet_configured_does_not_break_redaction(monkeypatch):
    from django.conf import LazySettings

    monkeypatch.setattr(LazySettings, "configured", property(lambda self: False))
    assert redact_text("token=abc") == f"token={R}"


def test_the_filter_redacts_exception_text_for_any_formatter():
    try:
        raise ValueError("bad token=tb-123")
    except ValueError:
        record = make_record("failed")
        record.exc_info = sys.exc_info()
    RedactionFilter().filter(record)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # a plain formatter, not ours
    handler.emit(record)
    assert "tb-123" not in stream.getvalue()
    assert "ValueError: bad token=" in stream.getvalue()


SECRET = "hypothesis-registered-secret-9931"
register_secret(SECRET)

weird_values = st.one_of(
    st.text(),
    st.integers(),
    st.floats(allow_nan=True),
    st.none(),
    st.binary(max_size=20),
    st.builds(Unprintable),
    st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3),
    st.lists(st.text(max_size=20), max_size=3),
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    before=st.text(max_size=60),
    after=st.text(max_size=60),
    args=st.lists(weird_values, max_size=4),
    extra=st.dictionaries(
        st.from_regex(r"[a-z_]{1,12}", fullmatch=True).filter(
            lambda k: k not in redaction.STANDARD_RECORD_ATTRS
        ),
        weird_values,
        max_size=3,
    ),
    as_tuple=st.booleans(),
)
def test_the_filter_never_raises_and_never_lets_a_registered_secret_through(
    before, after, args, extra, as_tuple
):
    args = [*args, SECRET]
    msg = before + SECRET + after + " %s" * len(args)
    record = make_record(msg, tuple(args) if as_tuple else (args,), **extra, leak=SECRET)
    for output in format_both(record):
        assert SECRET not in output


def test_channel_keys_in_webhook_paths_are_shortened_in_logs():
    from chatdesk.ops.redaction import redact_text

    line = "Bad Request: /webhooks/kapso/AbCdEfGhIjKlMnOpQrStUvWx1234 (400)"
    assert redact_text(line) == "Bad Request: /webhooks/kapso/AbCd… (400)"
    assert "AbCdEfGhIjKl" not in redact_text("POST /webhooks/whatsapp/AbCdEfGhIjKlMnOp HTTP/1.1")
