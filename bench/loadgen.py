"""Load generation for bench/webhook_ingest.py: signed Meta webhooks over loopback HTTP.

Two shapes of load, both with asyncio + httpx.AsyncClient over keep-alive connections:
- closed loop (`run_closed`): N senders, each sends its next event as soon as the previous one is
  acknowledged, for a fixed time or a fixed count. Measures capacity at a given concurrency.
- open loop (`run_open`): events are *scheduled* at a fixed rate whatever the server does, and
  latency is measured from the scheduled time, so a server (or client) that falls behind shows up
  as latency instead of silently lowering the offered rate (no coordinated omission). This is what
  "the highest rate sustained with p99 < 100 ms" is measured with.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

# A Meta retry re-sends the same bytes; so do we after a transport error (for example a
# connection closed by a gunicorn worker recycled by --max-requests). The server deduplicates.
TRANSPORT_RETRIES = 2
REQUEST_TIMEOUT_S = 30.0
# Pooled connections idle longer than this are not reused: gunicorn closes them after its
# keep-alive of 5 s, and a request written into a closing connection gets no answer.
IDLE_REUSE_S = 4.0

WABA_ID = "102290129340398"
TEXT_MARKER = "café ☕"  # bench/ingest_db.py counts it
NAMES = (
    "José Álvarez",
    "Zoë Müller",
    "Siti Rahmawati 🌸",
    "Παναγιώτης Νικολάου",
    "Nguyễn Văn An",
    "Олена Коваль",
)
TEXTS = (
    "¿Lo tienen en azul? Gracias 🙏",
    "Halo kak, kamar tanggal 17 Agustus masih ada?",
    "Olá! Posso remarcar a consulta de amanhã às 9h?",
    "日本語で問い合わせても大丈夫ですか",
    "Is it available in blue?",
)


class MetaTextEvents:
    """Unique, correctly signed Meta text-message deliveries (the envelope Meta posts).

    The body is compact JSON with non-ASCII characters \\u-escaped, which is how Meta serialises
    (and signs) it; each event has its own wamid, so each is a new message and a new raw event.
    Senders rotate over `customers` phone numbers, as real traffic spreads over many threads.
    """

    def __init__(
        self,
        *,
        secret: bytes,
        phone_number_id: str,
        display_number: str,
        customers: int = 500,
    ) -> None:
        self._secret = secret
        self._metadata = {
            "display_phone_number": display_number,
            "phone_number_id": phone_number_id,
        }
        self._customers = customers
        self._run = os.urandom(3).hex()
        self.issued = 0

    def next(self) -> tuple[bytes, dict[str, str]]:
        n = self.issued
        self.issued += 1
        customer = n % self._customers
        wa_id = f"4915{customer:08d}"
        wamid = "wamid.HBgM" + base64.b64encode(f"{wa_id}{self._run}{n:010d}".encode()).decode()
        envelope = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": WABA_ID,
                    "changes": [
                        {
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": self._metadata,
                                "contacts": [
                                    {
                                        "profile": {"name": NAMES[customer % len(NAMES)]},
                                        "wa_id": wa_id,
                                    }
                                ],
                                "messages": [
                                    {
                                        "from": wa_id,
                                        "id": wamid,
                                        "timestamp": str(int(time.time())),
                                        "type": "text",
                                        "text": {
                                            "body": f"{TEXTS[n % len(TEXTS)]} — {TEXT_MARKER} n°{n}"
                                        },
                                    }
                                ],
                            },
                            "field": "messages",
                        }
                    ],
                }
            ],
        }
        body = json.dumps(envelope, separators=(",", ":")).encode()  # ensure_ascii: \u escapes
        digest = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": f"sha256={digest}",
            "User-Agent": "facebookexternalua",
        }
        return body, headers


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an already sorted list; NaN when empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class CpuMeter:
    """CPU seconds of the machine, of this process (the client), of the server's process group
    and of the PostgreSQL backends serving the benchmark database (by their process title)."""

    def __init__(self, server_pid: int | None, db_name: str | None = None) -> None:
        self.server_pid = server_pid
        self._db_title = f" {db_name} ".encode() if db_name else None
        self._tick = os.sysconf("SC_CLK_TCK")

    def sample(self) -> tuple[float, float, float, float, dict[int, float]]:
        """(wall time, machine busy core-seconds, client CPU s, server CPU s, {backend: CPU s})."""
        server, backends = self._processes()
        return time.perf_counter(), self._machine_busy(), time.process_time(), server, backends

    def _machine_busy(self) -> float:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return (sum(fields[:8]) - idle) / self._tick

    def _processes(self) -> tuple[float, dict[int, float]]:
        server = 0
        backends: dict[int, float] = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat") as stat:
                    raw = stat.read()
                fields = raw[raw.rfind(")") + 2 :].split()
                if self.server_pid is not None and int(fields[3]) == self.server_pid:
                    # fields[3] is the session id: the server was started in its own session.
                    server += int(fields[11]) + int(fields[12])  # utime + stime
                    if int(name) == self.server_pid:
                        server += int(fields[13]) + int(fields[14])  # reaped (recycled) workers
                elif self._db_title and raw[raw.find("(") + 1 :].startswith("postgres)"):
                    with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                        if self._db_title in cmdline.read():
                            backends[int(name)] = (int(fields[11]) + int(fields[12])) / self._tick
            except (OSError, IndexError, ValueError):
                continue  # gone between listdir and open
        return server / self._tick, backends


class TransportFailure(Exception):
    """No HTTP answer (connection refused, reset or closed early, timeout)."""


@dataclass
class PhaseResult:
    server: str  # "ingest" or "floor"
    name: str
    mode: str  # "closed", "open" or "burst"
    concurrency: int | None = None
    target_rate: float | None = None
    sent: int = 0  # unique events sent (each once, plus transport retries of the same bytes)
    ok: int = 0
    statuses: Counter = field(default_factory=Counter)  # non-200 answers by status code
    transport_errors: Counter = field(default_factory=Counter)  # after retries, by exception
    retries: int = 0
    error_sample: str = ""
    latencies_ms: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    machine_cpu_pct: float = 0.0  # share of all cores busy (any process)
    client_cpu_pct: float = 0.0  # this load generator, percent of one core
    server_cpu_pct: float = 0.0  # gunicorn master + workers, percent of one core
    db_cpu_pct: float = 0.0  # PostgreSQL backends of the benchmark database, percent of one core
    other_cpu_pct: float = 0.0  # everything else busy on the machine (other jobs, kernel)
    max_send_lag_ms: float = 0.0  # open loop: how late the client issued a scheduled send
    _sorted: list[float] = field(default_factory=list, repr=False)

    @property
    def errors(self) -> int:
        return sum(self.statuses.values()) + sum(self.transport_errors.values())

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s else 0.0

    def p(self, q: float) -> float:
        if len(self._sorted) != len(self.latencies_ms):
            self._sorted = sorted(self.latencies_ms)
        return percentile(self._sorted, q)

    def summary(self) -> dict:
        return {
            "server": self.server,
            "name": self.name,
            "mode": self.mode,
            "concurrency": self.concurrency,
            "target_rate": self.target_rate,
            "sent": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "statuses": dict(self.statuses),
            "transport_errors": dict(self.transport_errors),
            "retries": self.retries,
            "elapsed_s": round(self.elapsed_s, 3),
            "throughput_rps": round(self.throughput, 1),
            "p50_ms": round(self.p(50), 2),
            "p95_ms": round(self.p(95), 2),
            "p99_ms": round(self.p(99), 2),
            "max_ms": round(self.p(100), 2),
            "machine_cpu_pct": round(self.machine_cpu_pct, 1),
            "client_cpu_pct": round(self.client_cpu_pct, 1),
            "server_cpu_pct": round(self.server_cpu_pct, 1),
            "db_cpu_pct": round(self.db_cpu_pct, 1),
            "other_cpu_pct": round(self.other_cpu_pct, 1),
            "max_send_lag_ms": round(self.max_send_lag_ms, 2),
        }


class RawConnection:
    """One keep-alive HTTP/1.1 connection, spoken by hand.

    httpx costs about 2 ms of CPU per request on this machine, which on 2 cores is CPU taken from
    the server being measured (the floor most of all). Writing the request and reading the
    status, headers and Content-Length (or chunked) body directly costs a small fraction of that.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = time.monotonic()

    def usable(self) -> bool:
        """Not closed by the server, and idle for less than its keep-alive (gunicorn: 5 s)."""
        return not self.reader.at_eof() and time.monotonic() - self.idle_since < IDLE_REUSE_S

    @classmethod
    async def open(cls, host: str, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, head: bytes, body: bytes) -> tuple[int, bytes, bool]:
        """(status, body, reusable) of one request; raises OSError/IncompleteReadError."""
        self.writer.write(head + body)
        await self.writer.drain()
        header = await self.reader.readuntil(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, chunked, reusable = None, False, lines[0].startswith("HTTP/1.1")
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection":
                reusable = value != "close"  # gunicorn says close when a worker recycles
        if chunked:
            content = bytearray()
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                content += await self.reader.readexactly(size + 2)
                del content[-2:]
            await self.reader.readuntil(b"\r\n")
            content = bytes(content)
        elif length is not None:
            content = await self.reader.readexactly(length)
        else:
            content, reusable = await self.reader.read(), False  # body ends at close
        return status, content, reusable

    def close(self) -> None:
        self.writer.close()


class LoadGenerator:
    def __init__(
        self,
        *,
        base_url: str,
        path: str,
        events: MetaTextEvents,
        meter: CpuMeter,
        max_connections: int,
        client: str = "raw",
        keep_alive: bool = True,
    ) -> None:
        self.url = path
        self.events = events
        self.meter = meter
        self.client_kind = client
        # False: one connection per request, as a proxy without upstream keep-alive (nginx's
        # default) talks to gunicorn; each request then goes to whichever worker accepts first.
        self.keep_alive = keep_alive
        parts = httpx.URL(base_url)
        self.host, self.port = parts.host, parts.port
        self._idle: list[RawConnection] = []
        self.client = httpx.AsyncClient(
            base_url=base_url,
            timeout=REQUEST_TIMEOUT_S,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            trust_env=False,  # loopback only: never through a configured proxy
        )

    async def aclose(self) -> None:
        await self.client.aclose()
        while self._idle:
            self._idle.pop().close()

    def _head(self, body: bytes, headers: dict[str, str]) -> bytes:
        lines = [f"POST {self.url} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        if not self.keep_alive:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _post_raw(self, body: bytes, headers: dict[str, str], fresh: bool) -> tuple[int, str]:
        connection = None
        while self._idle and not fresh and self.keep_alive:
            candidate = self._idle.pop()
            if candidate.usable():
                connection = candidate
                break
            candidate.close()
        if connection is None:
            connection = await RawConnection.open(self.host, self.port)
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                status, content, reusable = await connection.request(
                    self._head(body, headers), body
                )
        except BaseException:
            connection.close()
            raise
        if reusable and self.keep_alive:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()
        return status, content[:200].decode("utf-8", "replace")

    async def _post(self, body: bytes, headers: dict[str, str], retry: bool) -> tuple[int, str]:
        if self.client_kind == "raw":
            try:
                # A retry never reuses a pooled connection: it may be as stale as the last one.
                return await self._post_raw(body, headers, fresh=retry)
            except (
                OSError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                TimeoutError,
                ValueError,
            ) as error:
                raise TransportFailure(type(error).__name__) from error
        try:
            response = await self.client.post(self.url, content=body, headers=headers)
        except httpx.TransportError as error:
            raise TransportFailure(type(error).__name__) from error
        return response.status_code, response.text[:200]

    async def _send(self, phase: PhaseResult, scheduled: float | None = None) -> None:
        body, headers = self.events.next()
        phase.sent += 1
        started = time.perf_counter() if scheduled is None else scheduled
        last_error = ""
        for attempt in range(1 + TRANSPORT_RETRIES):
            try:
                status, text = await self._post(body, headers, retry=attempt > 0)
            except TransportFailure as error:
                last_error = str(error)
                if attempt < TRANSPORT_RETRIES:
                    phase.retries += 1
                continue
            break
        else:
            phase.transport_errors[last_error] += 1
            return
        if status == 200:
            phase.ok += 1
            phase.latencies_ms.append((time.perf_counter() - started) * 1000)
        else:
            phase.statuses[status] += 1
            if not phase.error_sample:
                phase.error_sample = f"{status} {text}"

    def _measure(self, phase: PhaseResult, before, after) -> None:
        wall = after[0] - before[0]
        phase.elapsed_s = wall
        cores = os.cpu_count() or 1
        phase.machine_cpu_pct = 100 * (after[1] - before[1]) / (wall * cores)
        phase.client_cpu_pct = 100 * (after[2] - before[2]) / wall
        phase.server_cpu_pct = 100 * (after[3] - before[3]) / wall
        db = sum(cpu - before[4].get(pid, 0.0) for pid, cpu in after[4].items())
        phase.db_cpu_pct = 100 * db / wall
        phase.other_cpu_pct = max(
            0.0,
            100 * (after[1] - before[1]) / wall
            - phase.client_cpu_pct
            - phase.server_cpu_pct
            - phase.db_cpu_pct,
        )

    async def run_closed(
        self,
        phase: PhaseResult,
        *,
        concurrency: int,
        duration_s: float | None = None,
        total: int | None = None,
    ) -> PhaseResult:
        """`concurrency` senders back to back, until `duration_s` passed or `total` were sent."""
        before = self.meter.sample()
        deadline = before[0] + duration_s if duration_s is not None else math.inf
        remaining = [total if total is not None else math.inf]

        async def sender() -> None:
            while time.perf_counter() < deadline and remaining[0] > 0:
                remaining[0] -= 1
                await self._send(phase)

        await asyncio.gather(*(sender() for _ in range(concurrency)))
        self._measure(phase, before, self.meter.sample())
        return phase

    async def run_open(
        self, phase: PhaseResult, *, rate: float, duration_s: float, max_in_flight: int
    ) -> PhaseResult:
        """Send at `rate` per second for `duration_s`, latency counted from each scheduled time."""
        count = max(1, round(rate * duration_s))
        limiter = asyncio.Semaphore(max_in_flight)
        tasks: set[asyncio.Task] = set()

        async def limited(scheduled: float) -> None:
            async with limiter:  # waiting here counts as latency: it is measured from `scheduled`
                await self._send(phase, scheduled)

        before = self.meter.sample()
        start = before[0]
        for i in range(count):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                phase.max_send_lag_ms = max(phase.max_send_lag_ms, -delay * 1000)
            task = asyncio.create_task(limited(scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
        self._measure(phase, before, self.meter.sample())
        return phase
