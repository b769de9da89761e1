"""The simulator's HTTP side: provider send endpoints, the control API and the page.

Routes:
  POST /graph/<version>/<phone_number_id>/messages                 Meta Cloud API (Bearer token)
  POST /kapso/meta/whatsapp/<version>/<phone_number_id>/messages   Kapso's Meta proxy (X-API-Key)
  POST /control/customer-message  {"from", "name", "text" | "texts", "phone_number_id"?, "kind"?}
  GET|POST|DELETE /control/faults (see faults.py)
  GET  /control/state             what the simulator received and emitted (no secrets)
  POST /control/reset             forget conversations, sends, webhook log and faults
  GET  /                          a page to chat as the customer
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import httpx

from chatdesk.devtools.simulator import payloads
from chatdesk.devtools.simulator.channels import SimChannel, SimulatorConfigError
from chatdesk.devtools.simulator.emitter import WebhookEmitter
from chatdesk.devtools.simulator.faults import STATUSES, FaultError, Faults, faults_update
from chatdesk.devtools.simulator.payloads import PROVIDER_CODES, CustomerText, graph_error
from chatdesk.devtools.simulator.state import SimulatorState

logger = logging.getLogger("chatdesk.simulator")

MAX_BODY_BYTES = 1024 * 1024
MAX_TEXT_LENGTH = 4096  # WhatsApp's limit for a text body
_VERSION = r"v[0-9]{1,3}\.[0-9]{1,2}"
_GRAPH_SEND = re.compile(rf"/graph/(?P<version>{_VERSION})/(?P<pnid>[0-9]{{1,64}})/messages")
_KAPSO_SEND = re.compile(
    rf"/kapso/meta/whatsapp/(?P<version>{_VERSION})/(?P<pnid>[0-9]{{1,64}})/messages"
)
_WA_ID = re.compile(r"[0-9]{5,15}")
_PHONE_PUNCTUATION = re.compile(r"[\s+()\-.]")


class Reply:
    """An HTTP answer: JSON (dict), text (str) or a page (bytes)."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        self.status = status
        self.body = body
        self.headers = headers or {}


class BadRequest(Exception):
    pass


def _wa_id(value: Any) -> str:
    digits = _PHONE_PUNCTUATION.sub("", value) if isinstance(value, str) else ""
    return digits if _WA_ID.fullmatch(digits) else ""


def _page() -> bytes:
    return resources.files(__package__).joinpath("static/index.html").read_bytes()


class Simulator:
    """Plays WhatsApp for one or more channels: `start()`, use, `stop()` (or a `with` block)."""

    def __init__(
        self,
        *,
        channels: list[SimChannel],
        app_url: str,
        host: str = "127.0.0.1",
        port: int = 8025,
        webhook_client: httpx.Client | None = None,
    ):
        if not channels:
            raise SimulatorConfigError("the simulator needs at least one channel to play")
        self.channels: dict[tuple[str, str], SimChannel] = {}
        for channel in channels:
            if channel.key in self.channels:
                raise SimulatorConfigError(
                    f"two {channel.kind} channels share phone number id {channel.phone_number_id}"
                )
            self.channels[channel.key] = channel
        self.app_url = app_url.rstrip("/")
        self.host, self.port = host, port
        self.state = SimulatorState()
        self._faults = Faults()
        self._faults_lock = threading.Lock()
        self.emitter = WebhookEmitter(on_result=self.state.record_webhook, client=webhook_client)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> Simulator:
        """Bind and serve in background threads. Raises OSError when the port is taken."""
        server = ThreadingHTTPServer((self.host, self.port), _Handler)
        server.daemon_threads = True
        server.simulator = self  # type: ignore[attr-defined]
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.1,), name="simulator-http", daemon=True
        )
        self._thread.start()
        self.emitter.start()
        if not _is_loopback(self.host):
            logger.warning(
                "the simulator listens on %s: its control API has no authentication", self.host
            )
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.emitter.stop()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # --- control ---------------------------------------------------------------------------

    def faults(self) -> Faults:
        with self._faults_lock:
            return self._faults

    def set_faults(self, data: Any) -> dict:
        with self._faults_lock:
            self._faults = faults_update(self._faults, data)
            return self._faults.public()

    def clear_faults(self) -> dict:
        with self._faults_lock:
            self._faults = Faults()
            return self._faults.public()

    def reset(self) -> None:
        self.clear_faults()
        self.state.reset()

    def snapshot(self) -> dict:
        return {
            "app_url": self.app_url,
            "channels": [c.public(self.app_url) for c in self.channels.values()],
            "faults": self.faults().public(),
            "pending_webhooks": self.emitter.pending(),
            **self.state.snapshot(),
        }

    def customer_message(
        self,
        *,
        wa_id: str,
        texts: list[str],
        name: str = "",
        kind: str | None = None,
        phone_number_id: str | None = None,
        reply_to: str = "",
    ) -> list[str]:
        """A customer writes: record it and emit one signed inbound webhook. Returns the wamids."""
        channel = self._channel_for(kind, phone_number_id)
        customer = _wa_id(wa_id)
        if not customer:
            raise BadRequest(
                "from must be the customer's number: 5 to 15 digits, e.g. 6281234567890"
            )
        if not isinstance(name, str) or len(name) > 200:
            raise BadRequest("name must be text of at most 200 characters")
        if not texts or len(texts) > 100:
            raise BadRequest("send one text (text) or a list of 1 to 100 (texts)")
        for text in texts:
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT_LENGTH:
                raise BadRequest(f"each text must be non-empty and at most {MAX_TEXT_LENGTH} chars")
        if not isinstance(reply_to, str) or len(reply_to) > 128:
            raise BadRequest("reply_to must be a wamid")
        stamp = payloads.now()
        messages = [
            CustomerText(
                wamid=payloads.new_wamid(),
                wa_id=customer,
                name=name,
                text=text,
                timestamp=stamp,
                reply_to=reply_to,
            )
            for text in texts
        ]
        for message in messages:
            self.state.add_customer_message(
                kind=channel.kind,
                phone_number_id=channel.phone_number_id,
                wa_id=customer,
                name=name,
                wamid=message.wamid,
                text=message.text,
            )
        build = (
            payloads.meta_customer_messages
            if channel.kind == "meta"
            else payloads.kapso_customer_messages
        )
        faults = self.faults()
        self.emitter.schedule(
            channel.webhook_url(self.app_url),
            build(channel, messages),
            delay=faults.delay_ms / 1000,
            copies=faults.duplicates,
        )
        return [m.wamid for m in messages]

    def _channel_for(self, kind: str | None, phone_number_id: str | None) -> SimChannel:
        if not phone_number_id:
            matching = [c for c in self.channels.values() if kind in (None, c.kind)]
            if not matching:
                raise BadRequest(f"no {kind} channel is simulated")
            return matching[0]
        for channel in self.channels.values():
            if channel.phone_number_id == phone_number_id and kind in (None, channel.kind):
                return channel
        raise BadRequest("no simulated channel has that phone_number_id")

    # --- the provider's send endpoint ------------------------------------------------------

    def handle_send(self, *, kind: str, phone_number_id: str, headers, raw: bytes) -> Reply:
        channel = self.channels.get((kind, phone_number_id))
        if channel is None:
            return Reply(
                400,
                graph_error(
                    100,
                    f"Unsupported post request. Object with ID '{phone_number_id}' does not "
                    "exist, cannot be loaded due to missing permissions, or does not support "
                    "this operation",
                    type_="GraphMethodException",
                ),
            )
        if not self._authorised(channel, headers):
            self.state.count("sends_unauthorised")
            if kind == "kapso":
                return Reply(401, {"error": "Invalid API key"})
            return Reply(401, graph_error(190, "Invalid OAuth access token - Cannot parse token"))
        try:
            body = json.loads(raw)
        except ValueError:
            return Reply(400, graph_error(100, "Invalid parameter", "Request body is not JSON"))
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return Reply(
                400,
                graph_error(100, "Invalid parameter", 'messaging_product must be "whatsapp"'),
            )
        if body.get("status") == "read":
            return self._mark_read(body)
        try:
            to, wa_id, message_type, text = _read_send(body)
        except BadRequest as error:
            self.state.count("sends_invalid")
            return Reply(400, graph_error(100, "Invalid parameter", str(error)))

        refusal, async_error = self._injected_error(channel, wa_id)
        if refusal is not None:
            self.state.count("sends_refused")
            return refusal
        wamid = payloads.new_wamid()
        self.state.add_sent(
            kind=kind,
            phone_number_id=phone_number_id,
            wa_id=wa_id,
            wamid=wamid,
            type=message_type,
            text=text,
            body=body,
        )
        logger.info("received %s send %s to %s", kind, wamid, wa_id)
        self._report_statuses(channel, wamid=wamid, wa_id=wa_id, text=text, error=async_error)
        return Reply(200, payloads.send_accepted(wa_id, to, wamid))

    def _authorised(self, channel: SimChannel, headers) -> bool:
        if channel.kind == "meta":
            given, expected = headers.get("Authorization", ""), f"Bearer {channel.api_token}"
        else:
            given, expected = headers.get("X-API-Key", ""), channel.api_token
        return hmac.compare_digest(given.encode(), expected.encode())

    def _mark_read(self, body: dict) -> Reply:
        wamid = body.get("message_id")
        if not isinstance(wamid, str) or not wamid:
            return Reply(400, graph_error(100, "Invalid parameter", "message_id is required"))
        indicator = body.get("typing_indicator")
        typing = isinstance(indicator, dict) and indicator.get("type") == "text"
        if not self.state.mark_read(wamid=wamid, typing=typing):
            # The simulator only knows messages its own customers sent.
            self.state.count("mark_read_unknown")
        self.state.count("typing" if typing else "mark_read")
        return Reply(200, {"success": True})

    def _injected_error(self, channel: SimChannel, wa_id: str) -> tuple[Reply | None, dict | None]:
        """(refusal answer, error to report asynchronously); both None for a normal send."""
        with self._faults_lock:
            fault = self._faults.errors.popleft() if self._faults.errors else None
            throughput, pair = self._faults.throughput_per_second, self._faults.pair_per_minute
        if fault is None:
            limited = None
            if throughput and self.state.over_limit(("tp", *channel.key), throughput, 1.0):
                limited = PROVIDER_CODES["130429"]
            elif pair and self.state.over_limit(("pair", *channel.key, wa_id), pair, 60.0):
                limited = PROVIDER_CODES["131056"]
            if limited is None:
                return None, None
            return Reply(limited.http_status, _provider_error(limited)), None
        logger.info("injecting %s (%s)", fault.kind, fault.mode)
        if fault.kind == "timeout":
            # Hold the request past the client's read timeout, then accept it: the client cannot
            # know it went through (exactly the case that must never be re-sent).
            self.state.count("sends_held")
            time.sleep(fault.seconds)
            return None, None
        if fault.kind == "http_500":
            return Reply(500, graph_error(1, "An unknown error occurred")), None
        if fault.kind == "http_503":
            return Reply(503, "Service Unavailable"), None
        if fault.kind == "http_429":
            code = PROVIDER_CODES["130429"]
            return Reply(429, _provider_error(code), {"Retry-After": "1"}), None
        code = PROVIDER_CODES[fault.kind]
        if fault.mode == "async":
            return None, payloads.webhook_error(code)
        return Reply(code.http_status, _provider_error(code)), None

    def _report_statuses(
        self, channel: SimChannel, *, wamid: str, wa_id: str, text: str, error: dict | None
    ) -> None:
        faults = self.faults()
        sequence = ["failed"] if error else list(faults.statuses)
        if faults.reorder and len(sequence) > 1:
            shuffled = random.sample(sequence, len(sequence))
            sequence = shuffled if shuffled != sequence else sequence[::-1]
        url = channel.webhook_url(self.app_url)
        reason = (error or {}).get("title", "")
        for position, status in enumerate(sequence, start=1):
            if channel.kind == "meta":
                outgoing = payloads.meta_status(
                    channel, status=status, wamid=wamid, wa_id=wa_id, error=error
                )
            else:
                # Kapso lists Meta's status history in true order, whatever order it arrives in.
                earlier = STATUSES[: STATUSES.index(status)] if status in STATUSES else ()
                outgoing = payloads.kapso_status(
                    channel,
                    status=status,
                    wamid=wamid,
                    wa_id=wa_id,
                    text=text,
                    history=[s for s in earlier if s in faults.statuses],
                    error=error,
                )
            self.emitter.schedule(
                url,
                outgoing,
                delay=(faults.delay_ms + position * faults.status_interval_ms) / 1000,
                copies=faults.duplicates,
                on_first_attempt=lambda _code, s=status: self.state.set_status(wamid, s, reason),
            )


def _provider_error(code) -> dict:
    return graph_error(code.code, code.title, code.details)


def _read_send(body: dict) -> tuple[str, str, str, str]:
    """(to, wa_id, type, text shown on the page) of a send, or BadRequest."""
    to = body.get("to")
    wa_id = _wa_id(to)
    if not wa_id:
        raise BadRequest("to must be the customer's phone number")
    message_type = body.get("type", "text")
    content = body.get(message_type) if isinstance(message_type, str) else None
    if not isinstance(content, dict):
        raise BadRequest(f"the {message_type} object is required for type {message_type}")
    if message_type == "text":
        text = content.get("body")
        if not isinstance(text, str) or not text:
            raise BadRequest("text.body is required")
        if len(text) > MAX_TEXT_LENGTH:
            raise BadRequest(f"text.body is longer than {MAX_TEXT_LENGTH} characters")
        return to, wa_id, "text", text
    if message_type == "template":
        language = content.get("language")
        if not isinstance(content.get("name"), str) or not (
            isinstance(language, dict) and isinstance(language.get("code"), str)
        ):
            raise BadRequest("template.name and template.language.code are required")
        shown = f"[template {content['name']} ({language['code']})]"
        if parameters := _template_body_parameters(content):
            shown += ": " + " · ".join(parameters)  # what the customer's copy would fill in
        return to, wa_id, "template", shown
    caption = content.get("caption") if isinstance(content.get("caption"), str) else ""
    return to, wa_id, message_type, caption or f"[{message_type}]"


def _template_body_parameters(template: dict) -> list[str]:
    """The text parameters of a template's body component (the simulator knows no bodies)."""
    components = template.get("components")
    found = []
    for component in components if isinstance(components, list) else []:
        if isinstance(component, dict) and component.get("type") == "body":
            for parameter in component.get("parameters") or []:
                if isinstance(parameter, dict) and isinstance(parameter.get("text"), str):
                    found.append(parameter["text"])
    return found


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "chatdesk-whatsapp-simulator"

    @property
    def simulator(self) -> Simulator:
        return self.server.simulator  # type: ignore[attr-defined]

    def log_message(self, format: str, *args) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        try:
            raw = self._body()
        except BadRequest as error:
            self.close_connection = True
            self._send(Reply(413, {"error": str(error)}))
            return
        try:
            reply = self._route(method, path, raw)
        except BadRequest as error:
            reply = Reply(400, {"error": str(error)})
        except FaultError as error:
            reply = Reply(400, {"error": str(error)})
        except Exception:
            logger.exception("simulator request failed")
            reply = Reply(500, {"error": "the simulator failed; see its log"})
        self._send(reply)

    def _route(self, method: str, path: str, raw: bytes) -> Reply:
        sim = self.simulator
        if method == "POST":
            for pattern, kind in ((_GRAPH_SEND, "meta"), (_KAPSO_SEND, "kapso")):
                match = pattern.fullmatch(path)
                if match:
                    return sim.handle_send(
                        kind=kind, phone_number_id=match["pnid"], headers=self.headers, raw=raw
                    )
        routes = {
            ("GET", "/"): lambda: Reply(200, _page()),
            ("GET", "/healthz"): lambda: Reply(200, {"status": "ok"}),
            ("GET", "/control/state"): lambda: Reply(200, sim.snapshot()),
            ("GET", "/control/faults"): lambda: Reply(200, sim.faults().public()),
            ("POST", "/control/faults"): lambda: Reply(200, sim.set_faults(_json(raw))),
            ("DELETE", "/control/faults"): lambda: Reply(200, sim.clear_faults()),
            ("POST", "/control/reset"): lambda: (sim.reset(), Reply(200, {"status": "reset"}))[1],
            ("POST", "/control/customer-message"): lambda: self._customer_message(raw),
        }
        handler = routes.get((method, path))
        if handler is None:
            known = {p for _, p in routes}
            status = 405 if path in known else 404
            return Reply(status, {"error": f"{method} {path} is not a simulator route"})
        return handler()

    def _customer_message(self, raw: bytes) -> Reply:
        data = _json(raw)
        if not isinstance(data, dict):
            raise BadRequest("send a JSON object")
        texts = data.get("texts")
        if texts is None:
            texts = [data.get("text")]
        if not isinstance(texts, list):
            raise BadRequest("texts must be a list")
        wamids = self.simulator.customer_message(
            wa_id=data.get("from", ""),
            name=data.get("name", "") or "",
            texts=texts,
            kind=data.get("kind"),
            phone_number_id=data.get("phone_number_id"),
            reply_to=data.get("reply_to", "") or "",
        )
        return Reply(202, {"wamids": wamids})

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length", "0") or "0"
        if not length.isdigit():
            raise BadRequest("Content-Length is not a number")
        if int(length) > MAX_BODY_BYTES:
            raise BadRequest(f"body over {MAX_BODY_BYTES} bytes")
        return self.rfile.read(int(length)) if int(length) else b""

    def _send(self, reply: Reply) -> None:
        if isinstance(reply.body, bytes):
            data, content_type = reply.body, "text/html; charset=utf-8"
        elif isinstance(reply.body, str):
            data, content_type = reply.body.encode(), "text/plain; charset=utf-8"
        else:
            data, content_type = json.dumps(reply.body).encode(), "application/json"
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (the timeout fault does this on purpose).
            self.close_connection = True


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        raise BadRequest("the body is not valid JSON") from None
