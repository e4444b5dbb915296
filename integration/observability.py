"""A request id on every response and in every log line of the request."""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger()

REQUEST_ID_HEADER = "x-request-id"
MAX_REQUEST_ID_LENGTH = 64


class RequestIdMiddleware(ASGIMiddleware):
    """Binds the request id to every log line of a request, and ends with one line.

    The summary line names the route's path without its query string, which
    may carry a webhook secret or an e-mail address.
    """

    scopes = (ScopeType.HTTP,)

    async def handle(
        self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp
    ) -> None:
        started = time.monotonic()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id_of(scope)):
            try:
                await next_app(scope, receive, send_noting_status)
            finally:
                log.info(
                    "request_finished",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    status=status,
                    elapsed_ms=int((time.monotonic() - started) * 1000),
                )


async def add_request_id(message: Message, scope: Scope) -> None:
    """`before_send` hook: every answer, routed or not, carries the id."""
    if message["type"] == "http.response.start":
        headers = MutableScopeHeaders.from_message(message)
        headers[REQUEST_ID_HEADER] = request_id_of(scope)


def request_id_of(scope: Scope) -> str:
    """The request's id: a sane incoming `X-Request-ID`, or a new one, kept in scope."""
    state: dict[str, Any] = scope.setdefault("state", {})
    if "request_id" not in state:
        state["request_id"] = _incoming_id(scope) or uuid.uuid4().hex
    return str(state["request_id"])


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            text = value.decode("latin-1")
            usable = 0 < len(text) <= MAX_REQUEST_ID_LENGTH and text.isascii()
            return text if usable and text.isprintable() else None
    return None
