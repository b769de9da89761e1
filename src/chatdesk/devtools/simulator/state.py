"""What the simulator knows, in memory: conversations as the customer sees them, every send it
accepted, and the webhooks it delivered. One lock; every read for the page is a snapshot."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field

TYPING_SECONDS = 25  # WhatsApp clears the indicator after 25 s (or on the next message)
STATUS_ORDER = {"accepted": 0, "sent": 1, "failed": 2, "delivered": 3, "read": 4}


@dataclass
class SimMessage:
    wamid: str
    direction: str  # "in": customer -> business; "out": business (chatdesk) -> customer
    type: str
    text: str
    at: float
    # out: accepted, then what the simulator reported (sent, delivered, read) or failed;
    # in: "sent", then "read" once the business marks it read.
    status: str
    error: str = ""


@dataclass
class SimConversation:
    kind: str
    phone_number_id: str
    wa_id: str
    name: str
    messages: list[SimMessage] = field(default_factory=list)
    typing_until: float = 0.0


class SimulatorState:
    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._conversations: dict[tuple[str, str, str], SimConversation] = {}
            self._messages: dict[str, tuple[SimConversation, SimMessage]] = {}
            self._sent: list[dict] = []
            self._counters: Counter[str] = Counter()
            self._webhooks: deque[dict] = deque(maxlen=500)
            self._webhook_totals: Counter[str] = Counter()
            self._windows: dict[tuple, deque[float]] = {}

    def _conversation(self, kind: str, phone_number_id: str, wa_id: str) -> SimConversation:
        key = (kind, phone_number_id, wa_id)
        if key not in self._conversations:
            self._conversations[key] = SimConversation(kind, phone_number_id, wa_id, name="")
        return self._conversations[key]

    def add_customer_message(
        self, *, kind: str, phone_number_id: str, wa_id: str, name: str, wamid: str, text: str
    ) -> None:
        with self._lock:
            conversation = self._conversation(kind, phone_number_id, wa_id)
            conversation.name = name or conversation.name
            message = SimMessage(wamid, "in", "text", text, time.time(), "sent")
            conversation.messages.append(message)
            self._messages[wamid] = (conversation, message)

    def add_sent(
        self,
        *,
        kind: str,
        phone_number_id: str,
        wa_id: str,
        wamid: str,
        type: str,
        text: str,
        body: dict,
    ) -> None:
        with self._lock:
            conversation = self._conversation(kind, phone_number_id, wa_id)
            conversation.typing_until = 0.0  # a message from the business clears "typing…"
            message = SimMessage(wamid, "out", type, text, time.time(), "accepted")
            conversation.messages.append(message)
            self._messages[wamid] = (conversation, message)
            self._sent.append(
                {
                    "wamid": wamid,
                    "kind": kind,
                    "phone_number_id": phone_number_id,
                    "to": wa_id,
                    "type": type,
                    "text": text,
                    "at": message.at,
                    "body": body,
                }
            )
            self._counters["sends_accepted"] += 1

    def set_status(self, wamid: str, status: str, error: str = "") -> None:
        """Record a status the simulator reported; like WhatsApp, never move it backwards."""
        with self._lock:
            found = self._messages.get(wamid)
            if found is None:
                return
            message = found[1]
            if STATUS_ORDER.get(status, -1) > STATUS_ORDER.get(message.status, -1):
                message.status = status
                message.error = error

    def mark_read(self, *, wamid: str, typing: bool) -> bool:
        """The business read a customer's message (and maybe shows "typing…"). False: unknown."""
        with self._lock:
            found = self._messages.get(wamid)
            if found is None or found[1].direction != "in":
                return False
            conversation, message = found
            message.status = "read"
            if typing:
                conversation.typing_until = time.time() + TYPING_SECONDS
            return True

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counters[name] += amount

    def over_limit(self, key: tuple, limit: int, seconds: float) -> bool:
        """Count one request against a sliding window; True when it exceeds `limit`."""
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(key, deque())
            while window and window[0] <= now - seconds:
                window.popleft()
            if len(window) >= limit:
                return True
            window.append(now)
            return False

    def record_webhook(self, result: dict) -> None:
        with self._lock:
            self._webhooks.append(result)
            code = result["status_code"]
            self._webhook_totals["ok" if code and 200 <= code < 300 else "failed"] += 1

    def snapshot(self) -> dict:
        now = time.time()
        with self._lock:
            by_text: dict[str, dict] = {}
            for sent in self._sent:
                entry = by_text.setdefault(sent["text"], {"count": 0, "wamids": []})
                entry["count"] += 1
                entry["wamids"].append(sent["wamid"])
            return {
                "conversations": [
                    {
                        "kind": c.kind,
                        "phone_number_id": c.phone_number_id,
                        "wa_id": c.wa_id,
                        "name": c.name,
                        "typing": c.typing_until > now,
                        "messages": [asdict(m) for m in c.messages],
                    }
                    for c in self._conversations.values()
                ],
                "sent": [dict(s) for s in self._sent],
                "sent_by_text": by_text,
                "counters": dict(self._counters),
                "webhooks": {
                    "ok": self._webhook_totals["ok"],
                    "failed": self._webhook_totals["failed"],
                    "recent": list(self._webhooks)[-50:],
                },
            }

    def webhook_log(self) -> list[dict]:
        with self._lock:
            return list(self._webhooks)
