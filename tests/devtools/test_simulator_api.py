"""The simulator on its own: what it answers chatdesk's sends and what it delivers, checked against
a small recording server instead of the app (no database involved)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from chatdesk.devtools.simulator import SimChannel, Simulator, SimulatorConfigError

META = SimChannel(
    kind="meta",
    phone_number_id="106540352242922",
    channel_key="meta-key",
    signing_secret="meta-app-secret-0001",
    api_token="meta-access-token-0001",
)
KAPSO = SimChannel(
    kind="kapso",
    phone_number_id="123456789012345",
    channel_key="kapso-key",
    signing_secret="kapso-webhook-secret-0001",
    api_token="kapso-api-key-0001",
)
GRAPH_SEND = f"/graph/v24.0/{META.phone_number_id}/messages"
KAPSO_SEND = f"/kapso/meta/whatsapp/v24.0/{KAPSO.phone_number_id}/messages"
BEARER = {"Authorization": f"Bearer {META.api_token}"}
TEXT = {"messaging_product": "whatsapp", "to": "+6281234567890", "type": "text"}


class Recorder:
    """Stands in for chatdesk: records every webhook; answers the queued statuses, then 200."""

    def __init__(self):
        self.requests: list[tuple[str, dict, bytes]] = []
        self.answers: list[int] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                recorder.requests.append((self.path, dict(self.headers), body))
                self.send_response(recorder.answers.pop(0) if recorder.answers else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.1,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def recorder():
    recorder = Recorder()
    yield recorder
    recorder.server.shutdown()
    recorder.server.server_close()


@pytest.fixture
def simulator(recorder):
    with Simulator(channels=[META, KAPSO], app_url=recorder.url, port=0) as simulator:
        yield simulator


def call(simulator, method, path, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{simulator.url}{path}", timeout=5, **kwargs)


def write_as_customer(simulator, **body) -> list[str]:
    response = call(simulator, "POST", "/control/customer-message", json=body)
    assert response.status_code == 202, response.text
    return response.json()["wamids"]


def test_meta_webhooks_are_signed_over_the_exact_unicode_escaped_bytes(simulator, recorder):
    [wamid] = write_as_customer(simulator, **{"from": "6281234567890", "text": "Halo é 🙂"})
    assert simulator.emitter.wait_idle(timeout=5)

    [(path, headers, body)] = recorder.requests
    assert path == "/webhooks/whatsapp/meta-key"
    expected = hmac.new(META.signing_secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == f"sha256={expected}"
    assert body.isascii()  # Meta escapes non-ASCII characters; the signature covers the escapes
    value = json.loads(body)["entry"][0]["changes"][0]["value"]
    assert value["metadata"]["phone_number_id"] == META.phone_number_id
    assert value["messages"][0] == {
        "from": "6281234567890",
        "id": wamid,
        "timestamp": value["messages"][0]["timestamp"],
        "type": "text",
        "text": {"body": "Halo é 🙂"},
    }


def test_kapso_duplicates_repeat_the_same_bytes_and_idempotency_key(simulator, recorder):
    call(simulator, "POST", "/control/faults", json={"duplicates": 3})
    write_as_customer(simulator, kind="kapso", **{"from": "6281234567890", "text": "Halo é"})
    assert simulator.emitter.wait_idle(timeout=5)

    assert len(recorder.requests) == 3
    assert len({body for _, _, body in recorder.requests}) == 1
    _, headers, body = recorder.requests[0]
    assert (
        headers["X-Webhook-Signature"]
        == hmac.new(KAPSO.signing_secret.encode(), body, hashlib.sha256).hexdigest()
    )
    assert headers["X-Webhook-Event"] == "whatsapp.message.received"
    assert headers["X-Webhook-Payload-Version"] == "v2"
    assert len({h["X-Idempotency-Key"] for _, h, _ in recorder.requests}) == 1
    assert json.loads(body)["message"]["text"]["body"] == "Halo é"


def test_a_webhook_the_app_answered_with_a_5xx_is_delivered_again(simulator, recorder):
    recorder.answers = [503]
    write_as_customer(simulator, **{"from": "6281234567890", "text": "Lagi"})
    assert simulator.emitter.wait_idle(timeout=5)

    recent = call(simulator, "GET", "/control/state").json()["webhooks"]["recent"]
    assert [(w["status_code"], w["attempt"]) for w in recent] == [(503, 1), (200, 2)]
    assert recorder.requests[0][2] == recorder.requests[1][2]


def test_an_accepted_send_is_answered_like_meta_and_reported_sent_delivered_read(
    simulator, recorder
):
    response = call(
        simulator, "POST", GRAPH_SEND, headers=BEARER, json={**TEXT, "text": {"body": "Hi"}}
    )

    assert response.status_code == 200
    wamid = response.json()["messages"][0]["id"]
    assert response.json()["contacts"] == [{"input": "+6281234567890", "wa_id": "6281234567890"}]
    assert simulator.emitter.wait_idle(timeout=5)
    statuses = [
        json.loads(body)["entry"][0]["changes"][0]["value"]["statuses"][0]
        for _, _, body in recorder.requests
    ]
    assert [(s["id"], s["status"]) for s in statuses] == [
        (wamid, "sent"),
        (wamid, "delivered"),
        (wamid, "read"),
    ]
    state = call(simulator, "GET", "/control/state").json()
    assert state["sent_by_text"] == {"Hi": {"count": 1, "wamids": [wamid]}}


def test_kapso_status_events_carry_the_status_history(simulator, recorder):
    response = call(
        simulator,
        "POST",
        KAPSO_SEND,
        headers={"X-API-Key": KAPSO.api_token},
        json={**TEXT, "text": {"body": "Hi"}},
    )
    assert response.status_code == 200
    assert simulator.emitter.wait_idle(timeout=5)

    events = [headers["X-Webhook-Event"] for _, headers, _ in recorder.requests]
    assert events == [
        "whatsapp.message.sent",
        "whatsapp.message.delivered",
        "whatsapp.message.read",
    ]
    read = json.loads(recorder.requests[-1][2])
    assert [s["status"] for s in read["message"]["kapso"]["statuses"]] == [
        "sent",
        "delivered",
        "read",
    ]


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        (GRAPH_SEND, {"Authorization": "Bearer wrong"}, {"code": 190}),
        (GRAPH_SEND, {}, {"code": 190}),
        (KAPSO_SEND, {"X-API-Key": "wrong"}, "Invalid API key"),
        (KAPSO_SEND, BEARER, "Invalid API key"),
    ],
)
def test_sends_with_a_wrong_credential_are_refused_and_not_recorded(
    simulator, path, headers, expected
):
    response = call(simulator, "POST", path, headers=headers, json={**TEXT, "text": {"body": "x"}})

    assert response.status_code == 401
    error = response.json()["error"]
    assert error == expected if isinstance(expected, str) else error["code"] == expected["code"]
    state = call(simulator, "GET", "/control/state").json()
    assert state["sent"] == [] and state["counters"]["sends_unauthorised"] == 1


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({**TEXT, "text": {}}, "text.body is required"),
        ({**TEXT, "to": "abc", "text": {"body": "x"}}, "to must be"),
        ({"to": "6281234567890", "text": {"body": "x"}}, "messaging_product"),
        ({**TEXT, "type": "template", "template": {"name": "x"}}, "template.language.code"),
    ],
)
def test_invalid_send_bodies_get_a_graph_error_naming_the_field(simulator, body, detail):
    response = call(simulator, "POST", GRAPH_SEND, headers=BEARER, json=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 100 and detail in error["error_data"]["details"]


def test_a_send_to_an_unknown_number_is_refused_like_the_graph_api(simulator):
    response = call(
        simulator,
        "POST",
        "/graph/v24.0/999/messages",
        headers=BEARER,
        json={**TEXT, "text": {"body": "x"}},
    )

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "GraphMethodException"


def test_templates_mark_read_and_typing_show_on_the_customer_side(simulator):
    [wamid] = write_as_customer(simulator, **{"from": "6281234567890", "text": "Halo"})
    read = call(
        simulator,
        "POST",
        GRAPH_SEND,
        headers=BEARER,
        json={
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": wamid,
            "typing_indicator": {"type": "text"},
        },
    )
    template = call(
        simulator,
        "POST",
        GRAPH_SEND,
        headers=BEARER,
        json={
            **TEXT,
            "type": "template",
            "template": {"name": "hello", "language": {"code": "id"}},
        },
    )

    assert read.json() == {"success": True}
    assert template.status_code == 200
    [conversation] = call(simulator, "GET", "/control/state").json()["conversations"]
    first, second = conversation["messages"]
    assert (first["direction"], first["status"]) == ("in", "read")
    assert (second["type"], second["text"]) == ("template", "[template hello (id)]")


@pytest.mark.parametrize("code", ["4", "80007", "130429", "131056", "131057", "131047", "131026"])
def test_each_injected_provider_code_refuses_exactly_the_next_send(simulator, code):
    call(simulator, "POST", "/control/faults", json={"errors": [code]})
    body = {**TEXT, "text": {"body": "x"}}

    refused = call(simulator, "POST", GRAPH_SEND, headers=BEARER, json=body)
    accepted = call(simulator, "POST", GRAPH_SEND, headers=BEARER, json=body)

    assert refused.json()["error"]["code"] == int(code)
    assert refused.json()["error"]["error_data"]["details"]
    assert accepted.status_code == 200


def test_http_faults_answer_like_a_failing_server(simulator):
    call(
        simulator, "POST", "/control/faults", json={"errors": ["http_500", "http_503", "http_429"]}
    )
    body = {**TEXT, "text": {"body": "x"}}

    answers = [call(simulator, "POST", GRAPH_SEND, headers=BEARER, json=body) for _ in range(3)]

    assert [a.status_code for a in answers] == [500, 503, 429]
    assert answers[1].text == "Service Unavailable"
    assert answers[2].headers["Retry-After"] == "1"


def test_the_throughput_limit_answers_130429_beyond_the_configured_rate(simulator):
    call(simulator, "POST", "/control/faults", json={"throughput_per_second": 2})
    body = {**TEXT, "text": {"body": "x"}}

    codes = [call(simulator, "POST", GRAPH_SEND, headers=BEARER, json=body) for _ in range(3)]

    assert [c.status_code for c in codes] == [200, 200, 400]
    assert codes[2].json()["error"]["code"] == 130429


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ({"errors": ["999"]}, "error code must be one of: 4, 80007, 130429"),
        ({"errors": [{"code": "http_500", "mode": "async"}]}, "only provider codes"),
        ({"duplicates": 0}, "duplicates must be an integer from 1 to 20"),
        ({"shuffle": True}, "unknown key(s): shuffle"),
        ({"statuses": ["seen"]}, "statuses must be a list of: sent, delivered, read"),
    ],
)
def test_bad_fault_requests_get_a_clear_400(simulator, faults, message):
    response = call(simulator, "POST", "/control/faults", json=faults)

    assert response.status_code == 400
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"from": "12", "text": "x"}, "from must be the customer's number"),
        ({"from": "6281234567890", "text": ""}, "must be non-empty"),
        ({"from": "6281234567890", "text": "x", "phone_number_id": "1"}, "no simulated channel"),
    ],
)
def test_bad_customer_messages_get_a_clear_400(simulator, recorder, body, message):
    response = call(simulator, "POST", "/control/customer-message", json=body)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert recorder.requests == []


def test_the_page_and_the_state_never_show_a_secret_or_token(simulator):
    write_as_customer(simulator, **{"from": "6281234567890", "text": "Halo"})
    page = call(simulator, "GET", "/")
    state = call(simulator, "GET", "/control/state")

    assert page.status_code == 200 and "Type as the customer" in page.text
    for secret in (META.signing_secret, META.api_token, KAPSO.signing_secret, KAPSO.api_token):
        assert secret not in page.text and secret not in state.text


def test_a_channel_without_credentials_is_refused_with_the_missing_one_named():
    with pytest.raises(SimulatorConfigError, match="app secret is missing"):
        SimChannel(kind="meta", phone_number_id="1", channel_key="k", api_token="t")
    with pytest.raises(SimulatorConfigError, match="API key is missing"):
        SimChannel(kind="kapso", phone_number_id="1", channel_key="k", signing_secret="s")
