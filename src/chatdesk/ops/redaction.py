"""Secret redaction for log records: known secret values and token-like patterns, everywhere.

Three sources of secrets:
- `settings.REDACTED_VALUES`: every secret in the environment (read on each record, lazily,
  because logging is configured before the apps are ready);
- `register_secret(value)`: values known only at run time (provider credentials decrypted from
  the database);
- patterns: authorization headers, signature headers, `name=value` / `"name": "value"` pairs whose
  name looks secret, API-key shapes (OpenAI, Stripe, Resend, Meta, Slack, GitHub, AWS, JWT),
  Fernet tokens and passwords in URLs.

`RedactionFilter` sits on the handler (so it sees the records of every logger) and the
formatters in `chatdesk.ops.logging` redact their output once more, so a record that skipped the
filter, or an object whose `str()` only runs at format time, cannot leak either.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote

REDACTED = "[REDACTED]"
# Shorter values would mask ordinary words and numbers all over the logs.
MIN_SECRET_LENGTH = 6
_MAX_DEPTH = 8

_registered: frozenset[str] = frozenset()
_registered_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask `value` in every log line from now on (for this process)."""
    global _registered
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return
    with _registered_lock:
        # Readers take the frozenset reference without the lock; replacing it is atomic.
        _registered = _registered | {value}


def _configured_secrets() -> tuple[str, ...]:
    try:
        from django.conf import settings

        # Never trigger settings loading from inside a log call: a record emitted while the
        # settings module is still importing would freeze a half-built settings object.
        if not settings.configured:
            return ()
        values = getattr(settings, "REDACTED_VALUES", None) or ()
        return tuple(v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH)
    except Exception:
        return ()


@lru_cache(maxsize=16)
def _literal_pattern(values: frozenset[str]) -> re.Pattern[str] | None:
    variants: set[str] = set()
    for value in values:
        variants.add(value)
        # The same secret as it appears in a query string or inside a JSON string.
        variants.add(quote(value, safe=""))
        variants.add(json.dumps(value)[1:-1])
    variants = {v for v in variants if len(v) >= MIN_SECRET_LENGTH}
    if not variants:
        return None
    # Longest first, so a secret that contains another is masked whole.
    ordered = sorted(variants, key=len, reverse=True)
    return re.compile("|".join(re.escape(v) for v in ordered))


# A name that marks its value as secret: token, access_token, hub.verify_token, api_key, apikey,
# X-Api-Key, secret, client_secret, password, password1, passwd, pwd, signature,
# X-Hub-Signature-256, authorization, cookie, sessionid, csrfmiddlewaretoken, credentials, dsn,
# private_key, key. Not "tokens" (LLM usage counts) nor "keyboard".
_SECRET_NAME = (
    r"(?:[A-Za-z0-9_.-]*[_.-])?[A-Za-z]*"
    r"(?:token|secrets?|passw(?:or)?d|pwd|passphrase|key|signature|sig|authorization|cookie"
    r"|credentials?|dsn|sessionid)"
    r"(?:[_.-]?\d+)?"
)
_SECRET_NAME_RE = re.compile(_SECRET_NAME, re.IGNORECASE)

_NAMED_VALUE_RE = re.compile(
    r"(?<![\w.-])"
    r"(?P<name>\\?(?P<q>[\"']?)" + _SECRET_NAME + r"\\?(?P=q))"
    r"(?P<sep>\s*(?:=>|[:=])\s*)"
    r"(?P<value>"
    r"\"(?:[^\"\\\n]|\\.)*\""  # "double quoted"
    r"|'(?:[^'\\\n]|\\.)*'"  # 'single quoted'
    r"|\\\"(?:(?!\\\")[^\n])*\\\""  # \"escaped quoted\" (JSON inside a string)
    r"|\[[^\]\n]*\]"  # [list]
    r"|\{[^{}\n]*\}"  # {object}
    r"|(?:bearer|basic|digest|token|negotiate|ntlm)\s+[^\s&,;\"'<>]+"  # Authorization: Bearer x
    r"|[^\s&,;\"'<>)\]}]+"  # bare value, up to a separator
    r")",
    re.IGNORECASE,
)


def _named_value_replace(match: re.Match[str]) -> str:
    value = match["value"]
    if value.startswith('\\"'):
        masked = f'\\"{REDACTED}\\"'
    elif value[0] in "\"'":
        masked = f"{value[0]}{REDACTED}{value[0]}"
    else:
        masked = REDACTED
    return f"{match['name']}{match['sep']}{masked}"


_BEARER_RE = re.compile(r"\b(?P<scheme>bearer)(?P<space>\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_BASIC_RE = re.compile(
    r"\b(?P<scheme>basic)(?P<space>\s+)(?P<cred>[A-Za-z0-9+/]{4,}={0,2})", re.IGNORECASE
)


def _basic_replace(match: re.Match[str]) -> str:
    # "Basic plan" stays; "Basic dXNlcjpwYXNz" (user:pass in base64) does not.
    try:
        decoded = base64.b64decode(match["cred"], validate=True)
    except (binascii.Error, ValueError):
        return match[0]
    if b":" not in decoded:
        return match[0]
    return f"{match['scheme']}{match['space']}{REDACTED}"


_URL_USERINFO_RE = re.compile(
    r"\b(?P<scheme>[a-z][a-z0-9+.-]{0,30}://)[^/\s@'\"<>]+@", re.IGNORECASE
)
_DIGEST_RE = re.compile(r"\b(?P<algo>sha1|sha256|sha512)=[0-9a-f]{16,}", re.IGNORECASE)
# A long hex or base64 blob after a secret-sounding word and a space: "token 6f1e...".
_WORD_THEN_BLOB_RE = re.compile(
    r"\b(?P<word>token|secret|password|signature|api[_ -]?key|key)(?P<space>\s+)"
    r"(?:[0-9a-f]{32,}|(?=[A-Za-z0-9+/_-]*\d)[A-Za-z0-9+/_-]{24,}={0,2})(?![\w+/=-])",
    re.IGNORECASE,
)
# Well-known credential shapes, matched anywhere (case-sensitive on purpose).
_SHAPES_RE = re.compile(
    "|".join(
        [
            r"\bsk-[A-Za-z0-9_-]{16,}",  # OpenAI-style
            r"\b[rsp]k_(?:live|test)_[A-Za-z0-9]{8,}",  # Stripe-style
            r"\bre_(?=[A-Za-z0-9_]*\d)[A-Za-z0-9_]{16,}",  # Resend
            r"\bgAAAAA[A-Za-z0-9_-]{20,}={0,2}",  # Fernet token
            r"\bEAA[A-Za-z0-9]{32,}",  # Meta (WhatsApp Cloud API) access token
            r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",  # JWT
            r"\bxox[abprs]-[A-Za-z0-9-]{10,}",  # Slack token
            r"\bgh[pousr]_[A-Za-z0-9]{30,}",  # GitHub token
            r"\bAKIA[0-9A-Z]{16}\b",  # AWS access key id
        ]
    )
)
_SLACK_WEBHOOK_RE = re.compile(r"(?P<base>hooks\.slack\.com/services/)[^\s\"'<>]+")
# A channel key in a webhook path is a capability (whoever knows it may post forged-looking
# events that still fail the signature check, but it should not spread): keep a short prefix.
_WEBHOOK_PATH_RE = re.compile(
    r"(?P<base>/webhooks/(?:whatsapp|kapso|leads)/)(?P<head>[A-Za-z0-9_-]{4})[A-Za-z0-9_-]+"
)


def redact_text(text: str) -> str:
    """`text` with every known secret and token-like value replaced by `[REDACTED]`."""
    secrets = frozenset(_configured_secrets()) | _registered
    if secrets:
        literal = _literal_pattern(secrets)
        if literal is not None:
            text = literal.sub(REDACTED, text)
    text = _NAMED_VALUE_RE.sub(_named_value_replace, text)
    text = _BEARER_RE.sub(lambda m: f"{m['scheme']}{m['space']}{REDACTED}", text)
    text = _BASIC_RE.sub(_basic_replace, text)
    text = _URL_USERINFO_RE.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)
    text = _DIGEST_RE.sub(lambda m: f"{m['algo']}={REDACTED}", text)
    text = _WORD_THEN_BLOB_RE.sub(lambda m: f"{m['word']}{m['space']}{REDACTED}", text)
    text = _SHAPES_RE.sub(REDACTED, text)
    text = _WEBHOOK_PATH_RE.sub(lambda m: f"{m['base']}{m['head']}…", text)
    return _SLACK_WEBHOOK_RE.sub(lambda m: f"{m['base']}{REDACTED}", text)


def is_secret_name(name: str) -> bool:
    """True for a field name whose value is a secret (`password`, `X-Hub-Signature-256`...)."""
    return _SECRET_NAME_RE.fullmatch(name) is not None


def redact_value(value: object, *, name: str | None = None, _depth: int = 0) -> object:
    """A copy of `value` with secrets masked in every string, recursively through containers.

    A value stored under a secret-sounding name is masked whole. Objects other than strings,
    bytes and containers are returned as they are: the formatters redact their `str()`.
    """
    if (
        name is not None
        and value is not None
        and not isinstance(value, bool)
        and is_secret_name(name)
    ):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes | bytearray):
        return redact_text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, dict | list | tuple | set | frozenset) and _depth >= _MAX_DEPTH:
        return "[...]"
    if isinstance(value, dict):
        return {
            (redact_text(k) if isinstance(k, str) else k): redact_value(
                v, name=k if isinstance(k, str) else None, _depth=_depth + 1
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v, _depth=_depth + 1) for v in value]
    return value


# Attributes every LogRecord has; anything else on a record came from `extra`.
STANDARD_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "request_id",
}


def record_extra_names(record: logging.LogRecord) -> Iterable[str]:
    return [k for k in record.__dict__ if k not in STANDARD_RECORD_ATTRS]


def _safe_text(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _rendered_message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:
        # A format string that does not match its arguments: keep both, readable and redacted,
        # instead of the "--- Logging error ---" traceback the handler would print.
        try:
            args = repr(record.args)
        except Exception:
            args = "<unprintable arguments>"
        return f"{_safe_text(record.msg)} (unformattable log arguments: {args})"


_FORMATTER = logging.Formatter()


class RedactionFilter(logging.Filter):
    """Masks secrets in the message, the traceback and every `extra` field of each record.

    The message is rendered (`msg % args`) before masking and the arguments cleared, so a secret
    passed as an argument is masked too. Never raises: a filter that throws loses the line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._redact(record)
        except Exception as exc:
            _make_safe(record, exc)
        return True

    def _redact(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, dict) and not record.args:
            # A dict message becomes JSON fields in the JSON formatter: keep it a dict.
            record.msg = redact_value(record.msg)
        else:
            record.msg = redact_text(_rendered_message(record))
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        for name in record_extra_names(record):
            record.__dict__[name] = redact_value(record.__dict__[name], name=name)


def _make_safe(record: logging.LogRecord, exc: Exception) -> None:
    try:
        record.msg = (
            f"log record from {record.name} withheld: redaction failed ({type(exc).__name__})"
        )
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        for name in record_extra_names(record):
            del record.__dict__[name]
    except Exception:  # noqa: S110 - the record is already as safe as it can be made
        pass
