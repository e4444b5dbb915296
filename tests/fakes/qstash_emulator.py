"""A small in-process emulator of Upstash QStash for tests.

`QStashEmulator` serves the part of the QStash REST API that the ``qstash`` SDK
(3.4.x) uses, on ``127.0.0.1`` (a free port by default) from a daemon thread.
Point ``AsyncQStash(token, base_url=emulator.url)`` (or ``QSTASH_URL``) at it
and every accepted message is delivered over HTTP the way QStash does it: a
fresh HS256 ``Upstash-Signature`` per request that ``qstash.Receiver`` accepts,
the ``Upstash-*`` delivery headers, forwarded headers, retries with backoff,
489 + ``Upstash-NonRetryable-Error: true``, callbacks after every attempt,
signed failure callbacks and a dead-letter queue.

Routes: ``POST /v2/publish/<url>``, ``POST /v2/enqueue/<queue>/<url>`` (FIFO,
one at a time per queue), ``POST /v2/batch``, ``GET|DELETE /v2/messages/<id>``,
``DELETE /v2/messages``, ``GET|DELETE /v2/dlq``, ``GET|DELETE /v2/dlq/<id>``,
``POST /v2/dlq/retry/<id>`` and ``GET /v2/keys``. Test-only routes without
auth: ``GET /__emulator/events`` and ``POST /__emulator/reset|drain|pause|resume``.

Fault switches tests may flip at any time: ``deliver_twice`` /
``concurrent_duplicates`` (copies of every attempt sent concurrently),
``shuffle`` / ``out_of_order`` (a random delay before each first attempt),
``pause()`` / ``resume()`` and ``sign_with_key`` (sign deliveries with another
key). `sign` forges tokens (wrong key, expired, other issuer) for verifier tests.

Known differences from real QStash:

* No URL groups, ``api`` destinations, schedules, flow control, workflows,
  logs, queue management or ``Upstash-Header-Forward``; redaction, labels and
  DLQ list filters or cursors are accepted and ignored.
* Backoff is compressed: retry n waits ``retry_delay_seconds * n``. A
  ``Retry-After`` / ``X-RateLimit-Reset*`` answer or an ``Upstash-Retry-Delay``
  expression is honoured but capped at ``max_retry_delay_seconds``.
* State lives in memory only; there is no daily quota, no 429, no size limit
  and no plan cap on retries or timeouts.
* Destinations are not resolved at publish time, so ``localhost`` is accepted.
* Transport errors and timeouts are reported as status 0 in attempts,
  callbacks and the DLQ (the real value is unconfirmed).
* ``Upstash-Timeout`` bounds each network step (connect, read, write) rather
  than the whole attempt; redirects are not followed (a 3xx is a failure).
* Callback payloads fill ``sourceHeader`` with the content type and forwarded
  headers, and give ``notBefore``/``createdAt`` as numbers (ms).
* A repeat within the dedup window answers 202 with the first message id even
  after that message finished; ``GET /v2/messages/<id>`` also finds finished
  messages, while cancelling one answers 404.
* Every response closes the connection, so unclosed SDK clients leave no
  sockets behind.

Run it standalone with ``python -m tests.fakes.qstash_emulator --port 8081``.
"""

from __future__ import annotations

import argparse
import ast
import base64
import contextlib
import functools
import hashlib
import hmac
import json
import math
import operator
import os
import queue
import random
import re
import secrets
import shlex
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote_plus

import httpx

from tests.fakes import _serving

JsonObject = dict[str, Any]
HeaderPairs = Iterable[tuple[str, str]]

HOST = _serving.HOST
DEFAULT_PORT = 8080
# The public credentials of the official dev server (test user 1).
DEV_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="
DEV_CURRENT_SIGNING_KEY = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"
DEV_NEXT_SIGNING_KEY = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"

ISSUER = "Upstash"
TOKEN_LIFETIME_SECONDS = 300
USER_AGENT = "Upstash-QStash"
DEFAULT_RETRIES = 3
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_RETRY_DELAY_SECONDS = 0.05
DEDUP_WINDOW_SECONDS = 600.0
MAX_HINTED_DELAY_SECONDS = 86400.0
NON_RETRYABLE_STATUS = 489
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
RETRY_HINT_HEADERS = (
    "Retry-After",
    "X-RateLimit-Reset",
    "X-RateLimit-Reset-Requests",
    "X-RateLimit-Reset-Tokens",
)
BAD_SCHEME_ERROR = (
    "invalid destination url: endpoint has invalid scheme, add http:// or https://"
)

# Message kinds and states.
MESSAGE = "message"
CALLBACK = "callback"
FAILURE_CALLBACK = "failure_callback"
CREATED = "CREATED"
ACTIVE = "ACTIVE"
RETRY = "RETRY"
DELIVERED = "DELIVERED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
FINAL_STATES = frozenset({DELIVERED, FAILED, CANCELLED})

JWT_HEADER = {"alg": "HS256", "typ": "JWT"}


# --------------------------------------------------------------------------
# Signing
# --------------------------------------------------------------------------


def sign(
    body: bytes,
    url: str,
    *,
    key: str | None = None,
    expires_in: int = TOKEN_LIFETIME_SECONDS,
    issuer: str = ISSUER,
    issued_at: int | None = None,
) -> str:
    """Return an ``Upstash-Signature`` JWT for ``body`` delivered to ``url``.

    Built like QStash's: HS256 keyed with the UTF-8 bytes of ``key`` (the dev
    server's current key by default, ``sig_`` prefix included), claims ``iss``,
    ``sub`` (the exact URL), ``iat``, ``nbf`` (0, as QStash sends since 2024),
    ``exp`` (``iat + expires_in``), a ``jti`` and ``body``, the padded
    base64url SHA-256 of the raw bytes. Forge bad tokens with another key, a
    negative ``expires_in``, another issuer, or a different body or URL.
    """
    now = int(time.time()) if issued_at is None else issued_at
    claims = {
        "iss": issuer,
        "sub": url,
        "iat": now,
        "nbf": 0,
        "exp": now + expires_in,
        "jti": f"jwt_{uuid.uuid4().hex}",
        "body": body_hash(body),
    }
    return _jwt(claims, key or DEV_CURRENT_SIGNING_KEY)


def body_hash(body: bytes) -> str:
    """The ``body`` claim: padded base64url of the SHA-256 of the raw body."""
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()


def _jwt(claims: JsonObject, key: str) -> str:
    signing_input = f"{_segment(JWT_HEADER)}.{_segment(claims)}"
    mac = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(mac)}"


def _segment(value: JsonObject) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# --------------------------------------------------------------------------
# Parsing helpers: durations, retry delay expressions, headers
# --------------------------------------------------------------------------

_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")


def parse_duration(text: str) -> float:
    """Seconds in ``"30"``, ``"10s"``, ``"1d10h30m"`` or Go-style ``"6m5.5s"``."""
    text = text.strip()
    if text.isdigit():
        return float(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"invalid duration: {text!r}")
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


_DELAY_FUNCTIONS: dict[str, Callable[..., float]] = {
    "pow": math.pow,
    "exp": math.exp,
    "sqrt": math.sqrt,
    "abs": abs,
    "floor": math.floor,
    "ceil": math.ceil,
    "round": round,
    "min": min,
    "max": max,
}
_DELAY_OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


def evaluate_retry_delay(expression: str, retried: int) -> float:
    """Milliseconds given by an ``Upstash-Retry-Delay`` expression."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
        return float(_evaluate(tree.body, retried))
    except (SyntaxError, TypeError, ArithmeticError) as exc:
        raise ValueError(f"invalid retry delay expression: {expression!r}") from exc


def _evaluate(node: ast.AST, retried: int) -> float:
    match node:
        case ast.Constant(value=int() | float() as value) if not isinstance(
            value, bool
        ):
            return value
        case ast.Name(id="retried"):
            return retried
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -_evaluate(operand, retried)
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _DELAY_OPERATORS:
            apply = _DELAY_OPERATORS[type(op)]
            return apply(_evaluate(left, retried), _evaluate(right, retried))
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if (
            name in _DELAY_FUNCTIONS
        ):
            return _DELAY_FUNCTIONS[name](*(_evaluate(a, retried) for a in args))
    raise ValueError(f"unsupported retry delay expression: {ast.unparse(node)}")


class _Headers:
    """Case-insensitive lookups over header pairs that keep the sender's case."""

    def __init__(self, pairs: HeaderPairs) -> None:
        self._pairs = [(str(name), str(value)) for name, value in pairs]

    def get(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for n, v in self._pairs if n.lower() == wanted), None)

    def with_prefix(self, prefix: str) -> dict[str, str]:
        """Headers starting with ``prefix``, keyed by the rest of their name."""
        size, lowered = len(prefix), prefix.lower()
        return {n[size:]: v for n, v in self._pairs if n.lower().startswith(lowered)}

    def extended(self, pairs: HeaderPairs) -> _Headers:
        """A copy with ``pairs`` added after (so overridden by) these headers."""
        return _Headers([*self._pairs, *pairs])


def canonical_header(name: str) -> str:
    """Go's canonical header name, as QStash reports it: ``Content-Type``."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _header_lists(pairs: HeaderPairs) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(canonical_header(name), []).append(value)
    return grouped


def _body_fields(name: str, raw: bytes) -> JsonObject:
    try:
        return {name: raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}Base64": _b64(raw)}


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _method(value: str | None) -> str:
    method = (value or "POST").strip().upper()
    if method not in METHODS:
        raise ValueError(f"invalid method: {value!r}")
    return method


def _optional_retries(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        retries = int(value)
    except ValueError:
        raise ValueError(f"invalid retries: {value!r}") from None
    if retries < 0:
        raise ValueError(f"invalid retries: {value!r}")
    return retries


def _optional_duration(value: str | None) -> float | None:
    return None if value is None else parse_duration(value)


def _checked_expression(value: str | None) -> str | None:
    if value is not None:
        evaluate_retry_delay(value, 0)
    return value


def _optional_url(value: str | None, what: str) -> str | None:
    if value is not None and not _has_http_scheme(value):
        raise ValueError(f"invalid {what} url: {value!r}")
    return value


def _has_http_scheme(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _not_before_ms(headers: _Headers, created_ms: int) -> int:
    absolute = headers.get("Upstash-Not-Before")
    if absolute is not None:
        try:
            return int(absolute) * 1000
        except ValueError:
            raise ValueError(f"invalid Upstash-Not-Before: {absolute!r}") from None
    delay = _optional_duration(headers.get("Upstash-Delay")) or 0.0
    return created_ms + int(delay * 1000)


def _split_query(destination: str, query: str) -> tuple[str, list[tuple[str, str]]]:
    """Give the destination back its own query; ``upstash-*`` params are config."""
    kept: list[str] = []
    config: list[tuple[str, str]] = []
    for part in filter(None, query.split("&")):
        raw_name, _, raw_value = part.partition("=")
        name = _unquote(raw_name).lower()
        if name == "qstash_token" or name.startswith("upstash-"):
            config.append((name, _unquote(raw_value)))
        else:
            kept.append(part)
    return destination + ("?" + "&".join(kept) if kept else ""), config


def _unquote(text: str) -> str:
    return unquote_plus(text)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _new_message_id() -> str:
    return f"msg_{secrets.token_hex(16)}"


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


# --------------------------------------------------------------------------
# Records tests can inspect
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackSettings:
    """``Upstash-(Failure-)Callback-*`` settings for a callback message."""

    forward: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    retries: int | None = None
    retry_delay: str | None = None
    timeout_seconds: float | None = None
    delay_seconds: float = 0.0


def _callback_settings(headers: _Headers, prefix: str) -> CallbackSettings:
    own = _Headers(headers.with_prefix(prefix).items())
    return CallbackSettings(
        forward=own.with_prefix("Forward-"),
        method=_method(own.get("Method")),
        retries=_optional_retries(own.get("Retries")),
        retry_delay=_checked_expression(own.get("Retry-Delay")),
        timeout_seconds=_optional_duration(own.get("Timeout")),
        delay_seconds=_optional_duration(own.get("Delay")) or 0.0,
    )


@dataclass(eq=False)
class MessageRecord:
    """One accepted message (or callback message) with its live delivery state.

    ``retried`` is the ``Upstash-Retried`` value of the latest attempt,
    ``retry_delays`` the waits chosen before each retry, and ``duplicates``
    how many repeat publishes deduplication absorbed. Times are Unix ms.
    """

    message_id: str
    url: str
    body: bytes
    method: str
    content_type: str | None
    forward: dict[str, str]
    max_retries: int
    timeout_seconds: float
    not_before: int
    created_at: int
    caller_ip: str
    retry_delay: str | None = None
    callback: str | None = None
    failure_callback: str | None = None
    callback_settings: CallbackSettings = field(default_factory=CallbackSettings)
    failure_callback_settings: CallbackSettings = field(
        default_factory=CallbackSettings
    )
    label: str | None = None
    queue_name: str | None = None
    deduplication_id: str | None = None
    kind: str = MESSAGE
    source_message_id: str | None = None
    state: str = CREATED
    retried: int = 0
    retry_delays: list[float] = field(default_factory=list)
    duplicates: int = 0
    cancelled: bool = False

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def source_headers(self) -> list[tuple[str, str]]:
        """The content type and forwarded headers the destination receives."""
        pairs = [("Content-Type", self.content_type)] if self.content_type else []
        return pairs + list(self.forward.items())

    def to_json(self) -> JsonObject:
        """The ``GET /v2/messages/<id>`` shape the SDK parses."""
        data: JsonObject = {
            "messageId": self.message_id,
            "url": self.url,
            "method": self.method,
            "header": _header_lists(self.source_headers()),
            "maxRetries": self.max_retries,
            "notBefore": self.not_before,
            "createdAt": self.created_at,
            "callerIP": self.caller_ip,
            **_body_fields("body", self.body),
        }
        optional = {
            "callback": self.callback,
            "failureCallback": self.failure_callback,
            "label": self.label,
            "queueName": self.queue_name,
            "retryDelayExpression": self.retry_delay,
        }
        data.update({key: value for key, value in optional.items() if value})
        return data


@dataclass(frozen=True)
class DeliveryAttempt:
    """One HTTP request the emulator sent (one copy of one attempt).

    ``status`` is 0 when no response came back (``error`` then says why).
    ``retried`` is the ``Upstash-Retried`` header sent, so ``attempt`` is 1-based.
    """

    message_id: str
    url: str
    kind: str
    retried: int
    copy: int
    status: int
    error: str | None
    started_at: float
    duration_seconds: float

    @property
    def attempt(self) -> int:
        return self.retried + 1

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def to_json(self) -> JsonObject:
        return {
            "messageId": self.message_id,
            "url": self.url,
            "kind": self.kind,
            "retried": self.retried,
            "copy": self.copy,
            "status": self.status,
            "error": self.error,
            "time": int(self.started_at * 1000),
            "durationMs": round(self.duration_seconds * 1000, 1),
        }


@dataclass(frozen=True)
class DlqEntry:
    """A message that failed for good, with the last response it got."""

    dlq_id: str
    message: MessageRecord
    response_status: int
    response_headers: dict[str, list[str]]
    response_body: bytes

    def to_json(self) -> JsonObject:
        """The ``GET /v2/dlq`` item shape ``client.dlq.list()`` needs."""
        return {
            **self.message.to_json(),
            "dlqId": self.dlq_id,
            "responseStatus": self.response_status,
            "responseHeader": self.response_headers,
            **_body_fields("responseBody", self.response_body),
        }


@dataclass(frozen=True)
class _Outcome:
    """What one delivery request came back with."""

    status: int
    headers: httpx.Headers
    body: bytes
    error: str | None = None

    @property
    def success(self) -> bool:
        return 200 <= self.status < 300

    @property
    def non_retryable(self) -> bool:
        flag = self.headers.get("upstash-nonretryable-error", "")
        return self.status == NON_RETRYABLE_STATUS and flag.strip().lower() == "true"


def _merge(outcomes: list[_Outcome]) -> _Outcome:
    """One copy succeeding is enough; else a non-retryable answer wins."""
    return (
        next((o for o in outcomes if o.success), None)
        or next((o for o in outcomes if o.non_retryable), None)
        or outcomes[0]
    )


def _http_call(
    method: str, url: str, headers: dict[str, str], body: bytes, timeout: float
) -> _Outcome:
    limits = httpx.Timeout(timeout, connect=min(timeout, 5.0))
    try:
        with httpx.Client(
            verify=_ssl_context(), trust_env=False, timeout=limits
        ) as client:
            response = client.request(method, url, headers=headers, content=body)
    except (httpx.HTTPError, httpx.InvalidURL, UnicodeError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        return _Outcome(0, httpx.Headers(), error.encode(), error)
    return _Outcome(response.status_code, response.headers, response.content)


def _hinted_delay(headers: httpx.Headers) -> float | None:
    """Seconds asked for by ``Retry-After`` and friends, if any (at most a day)."""
    for name in RETRY_HINT_HEADERS:
        value = headers.get(name)
        seconds = None if value is None else _hint_seconds(value.strip())
        if seconds is not None and 0 <= seconds <= MAX_HINTED_DELAY_SECONDS:
            return seconds
    return None


def _hint_seconds(value: str) -> float | None:
    with contextlib.suppress(ValueError):
        return float(value)
    with contextlib.suppress(ValueError):
        return parse_duration(value)
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    return None


# --------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: str
    headers: _Headers
    body: bytes
    client_ip: str


@dataclass(frozen=True)
class _Reply:
    status: int
    payload: Any = None


def _error(status: int, message: str) -> _Reply:
    return _Reply(status, {"error": message})


def _json_body(request: _Request) -> Any:
    try:
        return json.loads(request.body) if request.body else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _query_value(query: str, wanted: str) -> str | None:
    for part in filter(None, query.split("&")):
        name, _, value = part.partition("=")
        if _unquote(name).lower() == wanted:
            return _unquote(value)
    return None


Route = tuple[str, re.Pattern[str], Callable[[_Request, re.Match[str]], _Reply]]


# --------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------


class QStashEmulator(_serving.BackgroundServer):
    """A QStash look-alike on ``127.0.0.1`` for one test or session.

    Attributes tests may change at any time: ``token``,
    ``current_signing_key``, ``next_signing_key``, ``retry_delay_seconds``,
    ``max_retry_delay_seconds``, ``default_retries``,
    ``default_timeout_seconds``, ``dedup_window_seconds`` and the fault
    switches ``concurrent_duplicates`` (alias ``deliver_twice``), ``shuffle``
    (alias ``out_of_order``), ``shuffle_max_delay_seconds`` and
    ``sign_with_key`` (None signs with the current key).

    ``attempts``, ``messages``, ``callbacks`` and ``dlq`` are snapshots in
    arrival order; `wait_idle` blocks until every message is finished.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        token: str = DEV_TOKEN,
        current_signing_key: str = DEV_CURRENT_SIGNING_KEY,
        next_signing_key: str = DEV_NEXT_SIGNING_KEY,
        retry_delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS,
        max_retry_delay_seconds: float | None = None,
        default_retries: int = DEFAULT_RETRIES,
        default_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        dedup_window_seconds: float = DEDUP_WINDOW_SECONDS,
        shuffle_max_delay_seconds: float = 0.05,
        seed: int | None = None,
    ) -> None:
        super().__init__(_EmulatorHandler, port=port, thread_name="qstash-emulator")
        self.token = token
        self.current_signing_key = current_signing_key
        self.next_signing_key = next_signing_key
        self.retry_delay_seconds = retry_delay_seconds
        self.max_retry_delay_seconds = (
            retry_delay_seconds * 10
            if max_retry_delay_seconds is None
            else max_retry_delay_seconds
        )
        self.default_retries = default_retries
        self.default_timeout_seconds = default_timeout_seconds
        self.dedup_window_seconds = dedup_window_seconds
        self.concurrent_duplicates = 1
        self.shuffle = False
        self.shuffle_max_delay_seconds = shuffle_max_delay_seconds
        self.sign_with_key: str | None = None
        self._random = random.Random(seed)
        self._cond = threading.Condition()
        self._messages: dict[str, MessageRecord] = {}
        self._dedup: dict[str, tuple[MessageRecord, float]] = {}
        self._attempts: list[DeliveryAttempt] = []
        self._dlq: list[DlqEntry] = []
        self._dlq_sequence = 0
        self._active = 0
        self._queues: dict[str, queue.Queue[MessageRecord | None]] = {}
        self._workers: list[threading.Thread] = []
        self._released = threading.Event()
        self._released.set()
        self._routes = self._build_routes()

    # -- lifecycle (start, stop and with come from BackgroundServer) --------

    def _wake_waiters(self) -> None:
        """Flag the stop and un-pause, so every worker wakes up."""
        super()._wake_waiters()
        self._released.set()

    def _after_stop(self) -> None:
        """Tell the queue workers to finish and join every worker briefly."""
        with self._cond:
            queues, self._queues = list(self._queues.values()), {}
            workers, self._workers = list(self._workers), []
        for pending in queues:
            pending.put(None)
        deadline = time.monotonic() + 2.0
        for worker in workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))

    @property
    def port(self) -> int:
        """The port the running emulator listens on."""
        return self._bound_port

    @property
    def url(self) -> str:
        """The base URL for the SDK and ``QSTASH_URL``, e.g. ``http://127.0.0.1:5001``."""
        return self._origin

    def env(self) -> dict[str, str]:
        """The environment variables a service needs to use this emulator."""
        return {
            "QSTASH_URL": self.url,
            "QSTASH_TOKEN": self.token,
            "QSTASH_CURRENT_SIGNING_KEY": self.current_signing_key,
            "QSTASH_NEXT_SIGNING_KEY": self.next_signing_key,
        }

    # -- fault switches ------------------------------------------------------

    @property
    def deliver_twice(self) -> bool:
        """Send every attempt twice, the copies concurrently."""
        return self.concurrent_duplicates >= 2

    @deliver_twice.setter
    def deliver_twice(self, value: bool) -> None:
        self.concurrent_duplicates = 2 if value else 1

    @property
    def out_of_order(self) -> bool:
        """Alias of ``shuffle``: a random delay before each first attempt."""
        return self.shuffle

    @out_of_order.setter
    def out_of_order(self, value: bool) -> None:
        self.shuffle = value

    def pause(self) -> None:
        """Hold every attempt (first ones and retries) until `resume`."""
        self._released.clear()

    def resume(self) -> None:
        """Release everything held by `pause` at once."""
        self._released.set()

    def sign(
        self,
        body: bytes,
        url: str,
        *,
        key: str | None = None,
        expires_in: int = TOKEN_LIFETIME_SECONDS,
        issuer: str = ISSUER,
        issued_at: int | None = None,
    ) -> str:
        """`sign` with this emulator's current key unless ``key`` is given."""
        return sign(
            body,
            url,
            key=key or self.current_signing_key,
            expires_in=expires_in,
            issuer=issuer,
            issued_at=issued_at,
        )

    # -- inspection -------------------------------------------------------

    @property
    def attempts(self) -> list[DeliveryAttempt]:
        """Every delivery request sent so far, callbacks included."""
        with self._cond:
            return list(self._attempts)

    @property
    def messages(self) -> list[MessageRecord]:
        """Messages accepted through the API (live records), oldest first."""
        with self._cond:
            return [m for m in self._messages.values() if m.kind == MESSAGE]

    @property
    def callbacks(self) -> list[MessageRecord]:
        """Callback and failure-callback messages the emulator created."""
        with self._cond:
            return [m for m in self._messages.values() if m.kind != MESSAGE]

    @property
    def dlq(self) -> list[DlqEntry]:
        with self._cond:
            return list(self._dlq)

    @property
    def pending_count(self) -> int:
        """Messages not yet delivered, failed or cancelled."""
        with self._cond:
            return self._active

    def message(self, message_id: str) -> MessageRecord:
        with self._cond:
            return self._messages[message_id]

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until nothing is pending or in flight; TimeoutError otherwise."""
        with self._cond:
            if self._cond.wait_for(lambda: self._active == 0, timeout):
                return
            busy = [
                f"{m.message_id} {m.state} -> {m.url}"
                for m in self._messages.values()
                if not m.finished
            ]
        raise TimeoutError(f"QStash emulator still busy after {timeout}s: {busy}")

    def reset(self) -> None:
        """Cancel unfinished messages and forget all records, DLQ and dedup ids."""
        with self._cond:
            for message in self._messages.values():
                message.cancelled = True
            self._messages.clear()
            self._dedup.clear()
            self._attempts.clear()
            self._dlq.clear()

    # -- request handling (called from server threads) ---------------------

    def handle(self, request: _Request) -> _Reply:
        """Answer one HTTP request to the emulator."""
        allowed = request.path.startswith("/__emulator/") or self._authorised(request)
        if not allowed:
            return _error(401, "Unauthorized")
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                return handler(request, match)
        return _error(404, "not found")

    def _authorised(self, request: _Request) -> bool:
        bearer = request.headers.get("Authorization") or ""
        if hmac.compare_digest(bearer.encode(), f"Bearer {self.token}".encode()):
            return True
        token = _query_value(request.query, "qstash_token") or ""
        return hmac.compare_digest(token.encode(), self.token.encode())

    def _build_routes(self) -> list[Route]:
        table: list[tuple[str, str, Callable[[_Request, re.Match[str]], _Reply]]] = [
            ("POST", r"/v2/publish/(?P<destination>.+)", self._publish),
            (
                "POST",
                r"/v2/enqueue/(?P<queue>[^/]+)/(?P<destination>.+)",
                self._enqueue,
            ),
            ("POST", r"/v2/batch", self._batch),
            ("GET", r"/v2/messages/(?P<id>[^/]+)", self._get_message),
            ("DELETE", r"/v2/messages/(?P<id>[^/]+)", self._cancel_message),
            ("DELETE", r"/v2/messages", self._cancel_messages),
            ("GET", r"/v2/dlq", self._list_dlq),
            ("DELETE", r"/v2/dlq", self._delete_dlq_many),
            ("POST", r"/v2/dlq/retry/(?P<id>[^/]+)", self._retry_dlq),
            ("GET", r"/v2/dlq/(?P<id>[^/]+)", self._get_dlq),
            ("DELETE", r"/v2/dlq/(?P<id>[^/]+)", self._delete_dlq),
            ("GET", r"/v2/keys", self._keys),
            ("GET", r"/__emulator/events", self._events),
            ("POST", r"/__emulator/reset", self._reset_route),
            ("POST", r"/__emulator/drain", self._drain),
            ("POST", r"/__emulator/pause", self._pause_route),
            ("POST", r"/__emulator/resume", self._resume_route),
        ]
        return [(method, re.compile(path), handler) for method, path, handler in table]

    # -- publishing --------------------------------------------------------

    def _publish(self, request: _Request, match: re.Match[str]) -> _Reply:
        return self._accept_raw(request, match["destination"], None)

    def _enqueue(self, request: _Request, match: re.Match[str]) -> _Reply:
        return self._accept_raw(request, match["destination"], match["queue"])

    def _accept_raw(
        self, request: _Request, destination: str, queue_name: str | None
    ) -> _Reply:
        url, config = _split_query(destination, request.query)
        headers = request.headers.extended(config)
        return self._accept(url, headers, request.body, request.client_ip, queue_name)

    def _batch(self, request: _Request, _match: re.Match[str]) -> _Reply:
        items = _json_body(request)
        if not isinstance(items, list):
            return _error(400, "request body must be a JSON array")
        return _Reply(
            200, [self._batch_item(item, request.client_ip) for item in items]
        )

    def _batch_item(self, item: Any, caller_ip: str) -> Any:
        if not isinstance(item, dict) or not isinstance(item.get("destination"), str):
            return {"error": "invalid batch item: destination is required"}
        if not isinstance(item.get("headers") or {}, dict):
            return {"error": "invalid batch item: headers must be an object"}
        headers = _Headers((item.get("headers") or {}).items())
        body = str(item.get("body") or "").encode()
        queue_name = item.get("queue") or None
        reply = self._accept(item["destination"], headers, body, caller_ip, queue_name)
        return reply.payload

    def _accept(
        self,
        destination: str,
        headers: _Headers,
        body: bytes,
        caller_ip: str,
        queue_name: str | None,
    ) -> _Reply:
        if not _has_http_scheme(destination):
            return _error(400, BAD_SCHEME_ERROR)
        try:
            message = self._parse_message(
                destination, headers, body, caller_ip, queue_name
            )
        except ValueError as exc:
            return _error(400, str(exc))
        original = self._register(message, _dedup_key(message, headers))
        if original is not None:
            return _Reply(202, {"messageId": original.message_id, "deduplicated": True})
        self._schedule(message)
        return _Reply(200, {"messageId": message.message_id})

    def _parse_message(
        self,
        destination: str,
        headers: _Headers,
        body: bytes,
        caller_ip: str,
        queue_name: str | None,
    ) -> MessageRecord:
        created = _now_ms()
        retries = _optional_retries(headers.get("Upstash-Retries"))
        timeout = _optional_duration(headers.get("Upstash-Timeout"))
        return MessageRecord(
            message_id=_new_message_id(),
            url=destination,
            body=body,
            method=_method(headers.get("Upstash-Method")),
            content_type=headers.get("Content-Type"),
            forward=headers.with_prefix("Upstash-Forward-"),
            max_retries=self.default_retries if retries is None else retries,
            timeout_seconds=timeout or self.default_timeout_seconds,
            not_before=_not_before_ms(headers, created),
            created_at=created,
            caller_ip=caller_ip,
            retry_delay=_checked_expression(headers.get("Upstash-Retry-Delay")),
            callback=_optional_url(headers.get("Upstash-Callback"), "callback"),
            failure_callback=_optional_url(
                headers.get("Upstash-Failure-Callback"), "failure callback"
            ),
            callback_settings=_callback_settings(headers, "Upstash-Callback-"),
            failure_callback_settings=_callback_settings(
                headers, "Upstash-Failure-Callback-"
            ),
            label=headers.get("Upstash-Label"),
            queue_name=queue_name,
            deduplication_id=headers.get("Upstash-Deduplication-Id"),
        )

    def _register(
        self, message: MessageRecord, key: str | None
    ) -> MessageRecord | None:
        """Store ``message``, or return the original it duplicates."""
        now = time.monotonic()
        with self._cond:
            seen = self._dedup.get(key) if key else None
            if seen is not None and now - seen[1] < self.dedup_window_seconds:
                seen[0].duplicates += 1
                return seen[0]
            if key:
                self._dedup[key] = (message, now)
            self._messages[message.message_id] = message
            self._active += 1
        return None

    # -- scheduling and delivery (worker threads) ---------------------------

    def _schedule(self, message: MessageRecord) -> None:
        if message.queue_name is None or message.kind != MESSAGE:
            self._spawn(f"qstash-{message.message_id}", self._run, message)
        else:
            self._queue_for(message.queue_name).put(message)

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        worker = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._cond:
            self._workers = [w for w in self._workers if w.is_alive()]
            self._workers.append(worker)
        worker.start()

    def _queue_for(self, name: str) -> queue.Queue[MessageRecord | None]:
        with self._cond:
            pending = self._queues.get(name)
            if pending is None:
                pending = self._queues[name] = queue.Queue()
                self._spawn(f"qstash-queue-{name}", self._serve_queue, pending)
        return pending

    def _serve_queue(self, pending: queue.Queue[MessageRecord | None]) -> None:
        """FIFO with parallelism 1: the next message waits for the previous one."""
        while (message := pending.get()) is not None:
            self._run(message)

    def _run(self, message: MessageRecord) -> None:
        try:
            if self._hold(message):
                self._deliver(message)
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def _hold(self, message: MessageRecord) -> bool:
        """Wait for ``notBefore``, the pause gate and the shuffle jitter."""
        if not self._sleep(message.not_before / 1000 - time.time()):
            return False
        if not self._wait_released():
            return False
        if self.shuffle:
            return self._sleep(self._random.uniform(0, self.shuffle_max_delay_seconds))
        return True

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopping; False means the emulator is shutting down."""
        return not self._stopping.wait(max(0.0, seconds))

    def _wait_released(self) -> bool:
        self._released.wait()
        return not self._stopping.is_set()

    def _deliver(self, message: MessageRecord) -> None:
        while self._proceed(message):
            outcome = self._attempt(message)
            if message.callback:
                payload = _callback_payload(message, outcome)
                self._spawn_callback(message, CALLBACK, message.callback, payload)
            if outcome.success:
                message.state = DELIVERED
                return
            if outcome.non_retryable or message.retried >= message.max_retries:
                self._fail(message, outcome)
                return
            if not self._wait_for_retry(message, outcome):
                return

    def _proceed(self, message: MessageRecord) -> bool:
        if not self._wait_released():
            return False
        if message.cancelled:
            message.state = CANCELLED
            return False
        message.state = ACTIVE
        return True

    def _wait_for_retry(self, message: MessageRecord, outcome: _Outcome) -> bool:
        delay = self._next_delay(message, outcome)
        message.retry_delays.append(delay)
        message.state = RETRY
        if not self._sleep(delay):
            return False
        message.retried += 1
        return True

    def _next_delay(self, message: MessageRecord, outcome: _Outcome) -> float:
        hinted = _hinted_delay(outcome.headers)
        if hinted is None and message.retry_delay:
            hinted = evaluate_retry_delay(message.retry_delay, message.retried) / 1000
        if hinted is None:
            return self.retry_delay_seconds * (message.retried + 1)
        return min(max(hinted, 0.0), self.max_retry_delay_seconds)

    def _attempt(self, message: MessageRecord) -> _Outcome:
        copies = max(1, self.concurrent_duplicates)
        if copies == 1:
            return self._send(message, 0, None)
        barrier = threading.Barrier(copies)
        with ThreadPoolExecutor(copies, thread_name_prefix="qstash-copy") as pool:
            futures = [
                pool.submit(self._send, message, n, barrier) for n in range(copies)
            ]
            return _merge([future.result() for future in futures])

    def _send(
        self, message: MessageRecord, copy: int, barrier: threading.Barrier | None
    ) -> _Outcome:
        headers = self._delivery_headers(message)
        if barrier is not None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=1.0)
        started, clock = time.time(), time.monotonic()
        outcome = _http_call(
            message.method, message.url, headers, message.body, message.timeout_seconds
        )
        self._record(message, copy, outcome, started, time.monotonic() - clock)
        return outcome

    def _delivery_headers(self, message: MessageRecord) -> dict[str, str]:
        headers = dict(message.forward)
        if message.content_type:
            headers["Content-Type"] = message.content_type
        key = self.sign_with_key or self.current_signing_key
        headers["Upstash-Signature"] = self.sign(message.body, message.url, key=key)
        headers["Upstash-Message-Id"] = message.message_id
        headers["Upstash-Retried"] = str(message.retried)
        headers["Upstash-Caller-Ip"] = message.caller_ip
        headers["User-Agent"] = USER_AGENT
        return headers

    def _record(
        self,
        message: MessageRecord,
        copy: int,
        outcome: _Outcome,
        started: float,
        duration: float,
    ) -> None:
        attempt = DeliveryAttempt(
            message_id=message.message_id,
            url=message.url,
            kind=message.kind,
            retried=message.retried,
            copy=copy,
            status=outcome.status,
            error=outcome.error,
            started_at=started,
            duration_seconds=duration,
        )
        with self._cond:
            self._attempts.append(attempt)

    def _fail(self, message: MessageRecord, outcome: _Outcome) -> None:
        entry = self._add_dlq(message, outcome)
        message.state = FAILED
        if message.failure_callback:
            payload = {**_callback_payload(message, outcome), "dlqId": entry.dlq_id}
            url = message.failure_callback
            self._spawn_callback(message, FAILURE_CALLBACK, url, payload)

    def _add_dlq(self, message: MessageRecord, outcome: _Outcome) -> DlqEntry:
        with self._cond:
            entry = DlqEntry(
                dlq_id=f"{_now_ms()}-{self._dlq_sequence}",
                message=message,
                response_status=outcome.status,
                response_headers=_header_lists(outcome.headers.multi_items()),
                response_body=outcome.body,
            )
            self._dlq_sequence += 1
            self._dlq.append(entry)
        return entry

    def _spawn_callback(
        self, parent: MessageRecord, kind: str, url: str, payload: JsonObject
    ) -> None:
        """Publish a (failure) callback as a normal message signed for ``url``."""
        settings = (
            parent.callback_settings
            if kind == CALLBACK
            else parent.failure_callback_settings
        )
        created = _now_ms()
        child = MessageRecord(
            message_id=_new_message_id(),
            url=url,
            body=json.dumps(payload).encode(),
            method=settings.method,
            content_type="application/json",
            forward=dict(settings.forward),
            max_retries=(
                parent.max_retries if settings.retries is None else settings.retries
            ),
            timeout_seconds=settings.timeout_seconds or parent.timeout_seconds,
            not_before=created + int(settings.delay_seconds * 1000),
            created_at=created,
            caller_ip=parent.caller_ip,
            retry_delay=settings.retry_delay,
            kind=kind,
            source_message_id=parent.message_id,
        )
        self._register(child, None)
        self._schedule(child)

    # -- management routes -------------------------------------------------

    def _find(self, message_id: str) -> MessageRecord | None:
        with self._cond:
            return self._messages.get(message_id)

    def _get_message(self, _request: _Request, match: re.Match[str]) -> _Reply:
        message = self._find(match["id"])
        if message is None:
            return _error(404, "message not found")
        return _Reply(200, message.to_json())

    def _cancel_message(self, _request: _Request, match: re.Match[str]) -> _Reply:
        message = self._find(match["id"])
        if message is None or message.finished:
            return _error(404, "message not found")
        message.cancelled = True
        return _Reply(202)

    def _cancel_messages(self, request: _Request, _match: re.Match[str]) -> _Reply:
        body = _json_body(request)
        wanted = body.get("messageIds") if isinstance(body, dict) else None
        with self._cond:
            found = [
                m
                for m in self._messages.values()
                if not m.finished and (wanted is None or m.message_id in wanted)
            ]
            for message in found:
                message.cancelled = True
        return _Reply(200, {"cancelled": len(found)})

    def _find_dlq(self, dlq_id: str) -> DlqEntry | None:
        with self._cond:
            return next((e for e in self._dlq if e.dlq_id == dlq_id), None)

    def _list_dlq(self, _request: _Request, _match: re.Match[str]) -> _Reply:
        return _Reply(200, {"messages": [entry.to_json() for entry in self.dlq]})

    def _get_dlq(self, _request: _Request, match: re.Match[str]) -> _Reply:
        entry = self._find_dlq(match["id"])
        if entry is None:
            return _error(404, "dlq message not found")
        return _Reply(200, entry.to_json())

    def _delete_dlq(self, _request: _Request, match: re.Match[str]) -> _Reply:
        deleted = self._remove_dlq({match["id"]})
        return _Reply(200) if deleted else _error(404, "dlq message not found")

    def _delete_dlq_many(self, request: _Request, _match: re.Match[str]) -> _Reply:
        body = _json_body(request)
        ids = body.get("dlqIds") if isinstance(body, dict) else None
        if not isinstance(ids, list):
            return _error(400, "dlqIds is required")
        return _Reply(200, {"deleted": self._remove_dlq(set(ids))})

    def _remove_dlq(self, ids: set[str]) -> int:
        with self._cond:
            before = len(self._dlq)
            self._dlq = [entry for entry in self._dlq if entry.dlq_id not in ids]
            return before - len(self._dlq)

    def _retry_dlq(self, _request: _Request, match: re.Match[str]) -> _Reply:
        entry = self._find_dlq(match["id"])
        if entry is None:
            return _error(404, "dlq message not found")
        self._remove_dlq({entry.dlq_id})
        now = _now_ms()
        copy = replace(
            entry.message,
            message_id=_new_message_id(),
            created_at=now,
            not_before=now,
            state=CREATED,
            retried=0,
            retry_delays=[],
            duplicates=0,
            cancelled=False,
        )
        self._register(copy, None)
        self._schedule(copy)
        return _Reply(200, {"messageId": copy.message_id})

    def _keys(self, _request: _Request, _match: re.Match[str]) -> _Reply:
        keys = {"current": self.current_signing_key, "next": self.next_signing_key}
        return _Reply(200, keys)

    # -- test-only routes ----------------------------------------------------

    def _events(self, _request: _Request, _match: re.Match[str]) -> _Reply:
        with self._cond:
            messages = [_summary(m) for m in self._messages.values()]
        attempts = [attempt.to_json() for attempt in self.attempts]
        return _Reply(200, {"attempts": attempts, "messages": messages})

    def _reset_route(self, _request: _Request, _match: re.Match[str]) -> _Reply:
        self.reset()
        return _Reply(200, {})

    def _drain(self, request: _Request, _match: re.Match[str]) -> _Reply:
        try:
            self.wait_idle(float(_query_value(request.query, "timeout") or 5))
        except (TimeoutError, ValueError) as exc:
            return _error(504, str(exc))
        return _Reply(200, {"idle": True})

    def _pause_route(self, _request: _Request, _match: re.Match[str]) -> _Reply:
        self.pause()
        return _Reply(200, {})

    def _resume_route(self, _request: _Request, _match: re.Match[str]) -> _Reply:
        self.resume()
        return _Reply(200, {})


def _dedup_key(message: MessageRecord, headers: _Headers) -> str | None:
    if message.deduplication_id:
        return f"id:{message.deduplication_id}"
    flag = headers.get("Upstash-Content-Based-Deduplication") or ""
    if flag.strip().lower() != "true":
        return None
    digest = hashlib.sha256()
    for part in (
        message.url,
        message.content_type or "",
        sorted(message.forward.items()),
    ):
        digest.update(json.dumps(part).encode() + b"|")
    digest.update(message.body)
    return f"content:{digest.hexdigest()}"


def _callback_payload(message: MessageRecord, outcome: _Outcome) -> JsonObject:
    """The body QStash posts to (failure) callbacks, without ``dlqId``."""
    return {
        "status": outcome.status,
        "header": _header_lists(outcome.headers.multi_items()),
        "body": _b64(outcome.body),
        "retried": message.retried,
        "maxRetries": message.max_retries,
        "sourceMessageId": message.message_id,
        "url": message.url,
        "method": message.method,
        "sourceHeader": _header_lists(message.source_headers()),
        "sourceBody": _b64(message.body),
        "notBefore": message.not_before,
        "createdAt": message.created_at,
        "callerIP": message.caller_ip,
    }


def _summary(message: MessageRecord) -> JsonObject:
    return {
        "messageId": message.message_id,
        "url": message.url,
        "kind": message.kind,
        "state": message.state,
        "retried": message.retried,
    }


class _EmulatorHandler(_serving.QuietHandler):
    """Reads one request (raw path kept intact) and writes the emulator's reply."""

    server: _serving.QuietThreadingServer[QStashEmulator]

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._handle()

    def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._handle()

    def do_DELETE(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._handle()

    def _handle(self) -> None:
        path, _, query = self.path.partition("?")
        request = _Request(
            method=self.command,
            path=path,
            query=query,
            headers=_Headers(self.headers.items()),
            body=self.read_body(),
            client_ip=self.client_address[0],
        )
        self._write(self.server.fake.handle(request))

    def _write(self, reply: _Reply) -> None:
        data = b"" if reply.payload is None else json.dumps(reply.payload).encode()
        self.close_connection = True
        try:
            self.send_response(reply.status)
            if reply.payload is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except ConnectionError:
            return


# --------------------------------------------------------------------------
# Standalone use
# --------------------------------------------------------------------------


def serve(port: int = 0, **options: Any) -> QStashEmulator:
    """Start an emulator (``port=0`` picks a free one) and return it."""
    return QStashEmulator(port=port, **options).start()


def _env_number(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="Serve a QStash emulator locally.")
    parser.add_argument(
        "--port", type=int, default=int(_env_number("QSTASH_EMU_PORT", DEFAULT_PORT))
    )
    parser.add_argument("--token", default=env("QSTASH_TOKEN", DEV_TOKEN))
    parser.add_argument(
        "--current-signing-key",
        default=env("QSTASH_CURRENT_SIGNING_KEY", DEV_CURRENT_SIGNING_KEY),
    )
    parser.add_argument(
        "--next-signing-key",
        default=env("QSTASH_NEXT_SIGNING_KEY", DEV_NEXT_SIGNING_KEY),
    )
    parser.add_argument(
        "--backoff-ms", type=float, default=_env_number("QSTASH_EMU_BACKOFF_MS", 50)
    )
    parser.add_argument(
        "--default-retries",
        type=int,
        default=int(_env_number("QSTASH_EMU_DEFAULT_RETRIES", DEFAULT_RETRIES)),
    )
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=_env_number("QSTASH_EMU_TIMEOUT_S", DEFAULT_TIMEOUT_SECONDS),
    )
    parser.add_argument(
        "--dedup-window-s",
        type=float,
        default=_env_number("QSTASH_EMU_DEDUP_WINDOW_S", DEDUP_WINDOW_SECONDS),
    )
    return parser.parse_args(argv)


def _export_lines(emulator: QStashEmulator) -> Iterator[str]:
    for name, value in emulator.env().items():
        yield f"export {name}={shlex.quote(value)}"


def main(argv: list[str] | None = None) -> None:
    """Serve the emulator on a fixed port until interrupted (for manual runs)."""
    options = _parse_args(argv)
    emulator = QStashEmulator(
        port=options.port,
        token=options.token,
        current_signing_key=options.current_signing_key,
        next_signing_key=options.next_signing_key,
        retry_delay_seconds=options.backoff_ms / 1000,
        default_retries=options.default_retries,
        default_timeout_seconds=options.timeout_s,
        dedup_window_seconds=options.dedup_window_s,
    )
    _serving.serve_until_interrupted(emulator, _describe)


def _describe(emulator: QStashEmulator) -> Iterator[str]:
    yield f"QStash emulator at {emulator.url}; export for the service:"
    yield from _export_lines(emulator)


if __name__ == "__main__":
    main()
