"""Tests for the QStash emulator, driven by the real ``qstash`` SDK and Receiver."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from qstash import AsyncQStash, Receiver
from qstash.errors import QStashError, SignatureError

from tests.fakes.qstash_emulator import (
    CANCELLED,
    DELIVERED,
    DEV_CURRENT_SIGNING_KEY,
    DEV_NEXT_SIGNING_KEY,
    DEV_TOKEN,
    FAILED,
    QStashEmulator,
    body_hash,
    parse_duration,
    sign,
)

PROCESS_PATH = "/ai/generatejobopportunities/process"
FAILED_PATH = "/ai/jobs/failed"
WRONG_KEY = "sig_" + "W" * 28


# --------------------------------------------------------------------------
# A tiny destination server that records what QStash delivers
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """How the sink answers one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    """A request the sink got: lower-cased headers and the raw body."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Sink:
    """Records requests and answers from per-path scripts (default 200)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._scripts: dict[str, deque[Answer]] = {}
        self._defaults: dict[str, Answer] = {}
        self._in_flight = 0
        self.max_in_flight = 0
        self._server = _SinkServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )

    def __enter__(self) -> Sink:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def script(self, path: str, *answers: Answer, then: Answer | None = None) -> None:
        """Answer ``path`` with ``answers`` in order, then with ``then``."""
        with self._lock:
            self._scripts[path] = deque(answers)
            if then is not None:
                self._defaults[path] = then

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self._received if path is None or r.path == path]

    def begin(self, request: Received) -> Answer:
        with self._lock:
            self._received.append(request)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            script = self._scripts.get(request.path)
            if script:
                return script.popleft()
            return self._defaults.get(request.path, Answer())

    def end(self) -> None:
        with self._lock:
            self._in_flight -= 1


class _SinkServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many deliveries may connect at once

    def __init__(self, sink: Sink) -> None:
        super().__init__(("127.0.0.1", 0), _SinkHandler)
        self.sink = sink


class _SinkHandler(BaseHTTPRequestHandler):
    server: _SinkServer

    def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        sink = self.server.sink
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = sink.begin(Received(self.command, self.path, headers, body))
        try:
            time.sleep(answer.delay)
            self._reply(answer)
        finally:
            sink.end()

    def _reply(self, answer: Answer) -> None:
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except ConnectionError:
            return

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Stay quiet."""


# --------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[QStashEmulator]:
    with QStashEmulator(retry_delay_seconds=0.01) as server:
        yield server


@pytest.fixture
def sink() -> Iterator[Sink]:
    with Sink() as server:
        yield server


def client_for(emulator: QStashEmulator, token: str | None = None) -> AsyncQStash:
    return AsyncQStash(token or emulator.token, base_url=emulator.url, retry=False)


def receiver_for(emulator: QStashEmulator) -> Receiver:
    return Receiver(emulator.current_signing_key, emulator.next_signing_key)


def verify(emulator: QStashEmulator, request: Received, url: str) -> None:
    """Check ``request`` the way our handler will: raw body text, exact URL."""
    receiver_for(emulator).verify(
        signature=request.headers["upstash-signature"],
        body=request.body.decode(),
        url=url,
    )


def b64decode(text: str) -> bytes:
    return base64.b64decode(text)


# --------------------------------------------------------------------------
# Publishing and delivery
# --------------------------------------------------------------------------


async def test_publish_json_delivers_body_signed_for_the_exact_url(
    emulator: QStashEmulator, sink: Sink
) -> None:
    destination = sink.url(PROCESS_PATH)
    client = client_for(emulator)

    result = await client.message.publish_json(
        url=destination,
        body={"jobId": "job-1"},
        deduplication_id="genjob-job-1",
        retries=2,
        timeout="30s",
        headers={"X-Trace": "abc"},
    )
    emulator.wait_idle()

    [request] = sink.received()
    assert request.path == PROCESS_PATH
    assert request.body == json.dumps({"jobId": "job-1"}).encode()
    assert request.headers["upstash-message-id"] == result.message_id
    assert request.headers["upstash-retried"] == "0"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "Upstash-QStash"
    assert request.headers["upstash-caller-ip"] == "127.0.0.1"
    assert request.headers["x-trace"] == "abc"
    assert not any(name.startswith("upstash-forward") for name in request.headers)
    assert result.deduplicated is False

    verify(emulator, request, destination)
    claims = jwt.decode(
        request.headers["upstash-signature"],
        emulator.current_signing_key,
        algorithms=["HS256"],
        issuer="Upstash",
    )
    assert claims["sub"] == destination
    assert claims["body"] == body_hash(request.body)
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"].startswith("jwt_")

    [message] = emulator.messages
    assert (message.state, message.max_retries, message.timeout_seconds) == (
        DELIVERED,
        2,
        30.0,
    )
    [attempt] = emulator.attempts
    assert (attempt.message_id, attempt.status, attempt.attempt) == (
        result.message_id,
        200,
        1,
    )


async def test_receiver_rejects_the_delivery_for_a_wrong_url_or_tampered_body(
    emulator: QStashEmulator, sink: Sink
) -> None:
    destination = sink.url(PROCESS_PATH)
    await client_for(emulator).message.publish_json(
        url=destination, body={"jobId": "job-2"}
    )
    emulator.wait_idle()
    [request] = sink.received()
    signature = request.headers["upstash-signature"]
    receiver = receiver_for(emulator)

    wrong_urls = [
        destination.replace("http://", "https://"),
        destination + "/",
        sink.url("/ai/other"),
    ]
    for url in wrong_urls:
        with pytest.raises(SignatureError):
            receiver.verify(signature=signature, body=request.body.decode(), url=url)
    tampered = request.body.decode().replace("job-2", "job-3")
    with pytest.raises(SignatureError):
        receiver.verify(signature=signature, body=tampered, url=destination)
    receiver.verify(signature=signature, body=request.body.decode(), url=destination)


async def test_failed_deliveries_are_retried_then_a_signed_failure_callback_arrives(
    emulator: QStashEmulator, sink: Sink
) -> None:
    failing = Answer(500, {"Content-Type": "text/plain"}, b"boom")
    sink.script(PROCESS_PATH, then=failing)
    destination, failure_url = sink.url(PROCESS_PATH), sink.url(FAILED_PATH)
    client = client_for(emulator)

    result = await client.message.publish_json(
        url=destination,
        body={"jobId": "job-3"},
        retries=2,
        failure_callback=failure_url,
        failure_callback_headers={"Forward-X-Callback-Key": "k1"},
    )
    emulator.wait_idle()

    deliveries = sink.received(PROCESS_PATH)
    assert [d.headers["upstash-retried"] for d in deliveries] == ["0", "1", "2"]
    assert {d.headers["upstash-message-id"] for d in deliveries} == {result.message_id}
    for delivery in deliveries:
        verify(emulator, delivery, destination)

    [callback] = sink.received(FAILED_PATH)
    verify(emulator, callback, failure_url)
    assert callback.headers["content-type"] == "application/json"
    assert callback.headers["x-callback-key"] == "k1"
    payload = callback.json()
    [entry] = emulator.dlq
    assert payload["status"] == 500
    assert b64decode(payload["body"]) == b"boom"
    assert payload["header"]["Content-Type"] == ["text/plain"]
    assert payload["sourceMessageId"] == result.message_id
    assert payload["url"] == destination
    assert payload["method"] == "POST"
    assert (payload["retried"], payload["maxRetries"]) == (2, 2)
    assert payload["dlqId"] == entry.dlq_id
    assert b64decode(payload["sourceBody"]) == deliveries[0].body
    assert payload["sourceHeader"]["Content-Type"] == ["application/json"]
    assert isinstance(payload["createdAt"], int)
    assert emulator.messages[0].state == FAILED

    listing = await client.dlq.list()
    [dlq_message] = listing.messages
    assert listing.cursor is None
    assert (dlq_message.message_id, dlq_message.dlq_id) == (
        result.message_id,
        entry.dlq_id,
    )
    assert (dlq_message.response_status, dlq_message.response_body) == (500, "boom")
    await client.dlq.delete(entry.dlq_id)
    assert emulator.dlq == []


async def test_transient_failures_recover_and_retry_after_is_capped(
    emulator: QStashEmulator, sink: Sink
) -> None:
    emulator.max_retry_delay_seconds = 0.05
    sink.script(
        PROCESS_PATH,
        Answer(503, {"Retry-After": "3600"}),
        Answer(500),
        then=Answer(200),
    )
    started = time.monotonic()

    await client_for(emulator).message.publish_json(
        url=sink.url(PROCESS_PATH), body={"jobId": "job-4"}, retries=3
    )
    emulator.wait_idle()

    statuses = [attempt.status for attempt in emulator.attempts]
    assert statuses == [503, 500, 200]
    [message] = emulator.messages
    assert message.state == DELIVERED
    assert message.retry_delays == pytest.approx([0.05, 0.02])
    assert emulator.dlq == []
    assert time.monotonic() - started < 2


async def test_non_retryable_489_stops_retries_at_once(
    emulator: QStashEmulator, sink: Sink
) -> None:
    sink.script(
        PROCESS_PATH,
        then=Answer(489, {"upstash-nonretryable-error": "true"}, b"unknown job"),
    )
    sink.script("/plain-489", then=Answer(489, body=b"no header"))
    client = client_for(emulator)

    await client.message.publish_json(
        url=sink.url(PROCESS_PATH),
        body={"jobId": "gone"},
        retries=3,
        failure_callback=sink.url(FAILED_PATH),
    )
    await client.message.publish_json(
        url=sink.url("/plain-489"), body={"jobId": "x"}, retries=1
    )
    emulator.wait_idle()

    assert len(sink.received(PROCESS_PATH)) == 1
    assert len(sink.received("/plain-489")) == 2
    statuses = sorted(entry.response_status for entry in emulator.dlq)
    assert statuses == [489, 489]
    [callback] = sink.received(FAILED_PATH)
    payload = callback.json()
    assert (payload["status"], payload["retried"]) == (489, 0)
    assert b64decode(payload["body"]) == b"unknown job"


async def test_attempt_timeout_counts_as_a_failed_attempt(
    emulator: QStashEmulator, sink: Sink
) -> None:
    sink.script(PROCESS_PATH, then=Answer(200, delay=0.5))

    await client_for(emulator).message.publish_json(
        url=sink.url(PROCESS_PATH), body={"jobId": "slow"}, retries=0, timeout="100ms"
    )
    emulator.wait_idle()

    [attempt] = emulator.attempts
    assert attempt.status == 0
    assert attempt.error is not None and "Timeout" in attempt.error
    assert attempt.duration_seconds < 0.4
    [entry] = emulator.dlq
    assert entry.response_status == 0


async def test_callback_after_every_attempt_reports_the_response(
    emulator: QStashEmulator, sink: Sink
) -> None:
    sink.script(PROCESS_PATH, Answer(500), then=Answer(201, body=b"created"))
    callback_url = sink.url("/ai/jobs/attempted")

    result = await client_for(emulator).message.publish(
        url=sink.url(PROCESS_PATH),
        body="plain text",
        content_type="text/plain",
        retries=1,
        callback=callback_url,
    )
    emulator.wait_idle()

    callbacks = sink.received("/ai/jobs/attempted")
    assert len(callbacks) == 2
    for callback in callbacks:
        verify(emulator, callback, callback_url)
    payloads = sorted((c.json() for c in callbacks), key=lambda p: p["retried"])
    assert [(p["status"], p["retried"]) for p in payloads] == [(500, 0), (201, 1)]
    assert all(p["sourceMessageId"] == result.message_id for p in payloads)
    assert all("dlqId" not in p for p in payloads)
    assert b64decode(payloads[1]["body"]) == b"created"
    assert sink.received(PROCESS_PATH)[0].headers["content-type"] == "text/plain"


# --------------------------------------------------------------------------
# Deduplication, auth and validation
# --------------------------------------------------------------------------


async def test_deduplication_id_suppresses_repeats(
    emulator: QStashEmulator, sink: Sink
) -> None:
    client = client_for(emulator)
    destination = sink.url(PROCESS_PATH)

    first = await client.message.publish_json(
        url=destination, body={"jobId": "a"}, deduplication_id="genjob-a"
    )
    repeat = await client.message.publish_json(
        url=destination, body={"jobId": "a"}, deduplication_id="genjob-a"
    )
    other = await client.message.publish_json(
        url=destination, body={"jobId": "b"}, deduplication_id="genjob-b"
    )
    by_content = [
        await client.message.publish(
            url=destination, body="same", content_based_deduplication=True
        )
        for _ in range(2)
    ]
    emulator.wait_idle()

    assert (repeat.message_id, repeat.deduplicated) == (first.message_id, True)
    assert first.deduplicated is False and other.message_id != first.message_id
    assert [r.deduplicated for r in by_content] == [False, True]
    assert by_content[0].message_id == by_content[1].message_id
    bodies = sorted(r.body for r in sink.received())
    assert bodies == [b"same", b'{"jobId": "a"}', b'{"jobId": "b"}']
    assert [m.duplicates for m in emulator.messages] == [1, 0, 1]


async def test_wrong_token_is_refused_with_401(
    emulator: QStashEmulator, sink: Sink
) -> None:
    client = client_for(emulator, token="not-the-token")

    with pytest.raises(QStashError, match="401"):
        await client.message.publish_json(url=sink.url(PROCESS_PATH), body={})

    publish_url = f"{emulator.url}/v2/publish/{sink.url(PROCESS_PATH)}"
    with httpx.Client(trust_env=False) as raw:
        refused = raw.post(publish_url, headers={"Authorization": "Bearer nope"})
        by_query = raw.post(publish_url, params={"qstash_token": emulator.token})
    assert refused.status_code == 401
    assert "error" in refused.json()
    assert by_query.status_code == 200
    emulator.wait_idle()
    assert len(emulator.messages) == 1
    assert len(sink.received()) == 1


async def test_invalid_destination_scheme_is_a_400(emulator: QStashEmulator) -> None:
    client = client_for(emulator)

    with pytest.raises(QStashError, match="invalid scheme"):
        await client.message.publish_json(url="ftp://127.0.0.1/x", body={})

    assert emulator.messages == []


async def test_destination_query_string_survives_the_sdk(
    emulator: QStashEmulator, sink: Sink
) -> None:
    destination = sink.url(PROCESS_PATH) + "?source=api&x=1"

    await client_for(emulator).message.publish_json(url=destination, body={})
    emulator.wait_idle()

    [request] = sink.received()
    assert request.path == PROCESS_PATH + "?source=api&x=1"
    verify(emulator, request, destination)


# --------------------------------------------------------------------------
# Signing and forged tokens
# --------------------------------------------------------------------------

BODY = b'{"jobId":"forged"}'
URL = "http://127.0.0.1:9/ai/generatejobopportunities/process"


def test_dev_defaults_match_the_official_dev_server() -> None:
    emulator = QStashEmulator()
    assert emulator.token == DEV_TOKEN
    assert emulator.current_signing_key == DEV_CURRENT_SIGNING_KEY
    assert emulator.next_signing_key == DEV_NEXT_SIGNING_KEY
    assert DEV_CURRENT_SIGNING_KEY == "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"
    assert DEV_NEXT_SIGNING_KEY == "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(sign(BODY, URL, expires_in=-30), id="expired"),
        pytest.param(sign(BODY, URL, key=WRONG_KEY), id="wrong-key"),
        pytest.param(sign(BODY, URL, issuer="Elsewhere"), id="wrong-issuer"),
        pytest.param(sign(BODY + b" ", URL), id="other-body"),
        pytest.param(sign(BODY, URL + "x"), id="other-url"),
    ],
)
def test_receiver_rejects_forged_tokens(signature: str) -> None:
    receiver = Receiver(DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY)

    with pytest.raises(SignatureError):
        receiver.verify(signature=signature, body=BODY.decode(), url=URL)


def test_receiver_accepts_current_and_next_key_tokens() -> None:
    emulator = QStashEmulator()
    receiver = receiver_for(emulator)

    for key in (emulator.current_signing_key, emulator.next_signing_key):
        token = emulator.sign(BODY, URL, key=key)
        receiver.verify(signature=token, body=BODY.decode(), url=URL)
    expired = emulator.sign(BODY, URL, issued_at=int(time.time()) - 600)
    with pytest.raises(SignatureError):
        receiver.verify(signature=expired, body=BODY.decode(), url=URL)


async def test_sign_with_key_switch_makes_deliveries_fail_verification(
    emulator: QStashEmulator, sink: Sink
) -> None:
    emulator.sign_with_key = WRONG_KEY
    destination = sink.url(PROCESS_PATH)

    await client_for(emulator).message.publish_json(url=destination, body={})
    emulator.wait_idle()

    [request] = sink.received()
    with pytest.raises(SignatureError):
        verify(emulator, request, destination)


# --------------------------------------------------------------------------
# Fault injection
# --------------------------------------------------------------------------


@pytest.mark.parametrize("copies", [2, 3])
async def test_duplicate_copies_arrive_concurrently(
    emulator: QStashEmulator, sink: Sink, copies: int
) -> None:
    if copies == 2:
        emulator.deliver_twice = True
    else:
        emulator.concurrent_duplicates = copies
    sink.script(PROCESS_PATH, then=Answer(200, delay=0.2))
    destination = sink.url(PROCESS_PATH)

    result = await client_for(emulator).message.publish_json(
        url=destination, body={"jobId": "twice"}
    )
    emulator.wait_idle()

    received = sink.received()
    assert len(received) == copies
    assert sink.max_in_flight == copies
    assert {r.headers["upstash-message-id"] for r in received} == {result.message_id}
    assert len({r.headers["upstash-signature"] for r in received}) == copies
    for request in received:
        verify(emulator, request, destination)
    assert sorted(a.copy for a in emulator.attempts) == list(range(copies))
    assert emulator.messages[0].state == DELIVERED


async def test_pause_holds_messages_and_shuffle_releases_them_out_of_order(
    emulator: QStashEmulator, sink: Sink
) -> None:
    emulator.out_of_order = True
    emulator.pause()
    client = client_for(emulator)
    destination = sink.url(PROCESS_PATH)

    for number in range(20):
        await client.message.publish_json(url=destination, body={"n": number})
    await asyncio.sleep(0.1)
    assert sink.received() == []
    assert emulator.pending_count == 20
    with pytest.raises(TimeoutError):
        emulator.wait_idle(timeout=0.05)

    emulator.resume()
    emulator.wait_idle()

    order = [request.json()["n"] for request in sink.received()]
    assert sorted(order) == list(range(20))
    assert order != list(range(20))


async def test_cancelled_message_is_never_delivered(
    emulator: QStashEmulator, sink: Sink
) -> None:
    emulator.pause()
    client = client_for(emulator)
    result = await client.message.publish_json(url=sink.url(PROCESS_PATH), body={})

    fetched = await client.message.get(result.message_id)
    await client.message.cancel(result.message_id)
    emulator.resume()
    emulator.wait_idle()

    assert fetched.url == sink.url(PROCESS_PATH)
    assert sink.received() == []
    assert emulator.messages[0].state == CANCELLED


async def test_enqueue_is_fifo_and_batch_delivers_every_item(
    emulator: QStashEmulator, sink: Sink
) -> None:
    emulator.shuffle = True
    sink.script(PROCESS_PATH, then=Answer(200, delay=0.02))
    client = client_for(emulator)
    destination = sink.url(PROCESS_PATH)

    for number in range(5):
        await client.message.enqueue_json(
            queue="jobs", url=destination, body={"n": number}
        )
    emulator.wait_idle()
    order = [request.json()["n"] for request in sink.received(PROCESS_PATH)]
    assert order == list(range(5))
    assert sink.max_in_flight == 1

    results = await client.message.batch_json(
        [
            {"url": sink.url("/batch/a"), "body": {"item": "a"}},
            {"url": sink.url("/batch/b"), "body": {"item": "b"}, "retries": 0},
        ]
    )
    emulator.wait_idle()
    assert len({result.message_id for result in results}) == 2
    assert [r.json() for r in sink.received("/batch/a")] == [{"item": "a"}]
    assert [r.json() for r in sink.received("/batch/b")] == [{"item": "b"}]


async def test_signing_keys_endpoint_reports_the_emulator_keys(
    emulator: QStashEmulator,
) -> None:
    keys = await client_for(emulator).signing_key.get()

    assert (keys.current, keys.next) == (
        emulator.current_signing_key,
        emulator.next_signing_key,
    )
    assert emulator.env() == {
        "QSTASH_URL": emulator.url,
        "QSTASH_TOKEN": emulator.token,
        "QSTASH_CURRENT_SIGNING_KEY": emulator.current_signing_key,
        "QSTASH_NEXT_SIGNING_KEY": emulator.next_signing_key,
    }


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30.0), ("10s", 10.0), ("1d10h30m", 124200.0), ("250ms", 0.25)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)
