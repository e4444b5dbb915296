"""Who may call what: API keys for jobs, the admin token for `admin/`.

Keys come as `Authorization: Bearer <key>` or `X-API-Key: <key>`. Every
comparison runs in constant time and against every configured key, so timing
tells nothing about which key nearly matched.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from integration.problems import problem
from integration.settings import Settings

log = structlog.get_logger()


class Credentials:
    """The configured API keys and admin token, as this process checks them."""

    def __init__(self, api_keys: list[str], admin_token: str) -> None:
        self.api_keys = [key.encode() for key in api_keys]
        self.admin_token = admin_token.encode()

    @classmethod
    def from_settings(cls, settings: Settings) -> Credentials:
        """Credentials from settings; generates and prints an admin token if unset."""
        if settings.admin_token is not None:
            admin_token = settings.admin_token.get_secret_value()
        else:
            admin_token = secrets.token_urlsafe(32)
            # Printed for the operator, never logged: logs must not hold secrets.
            sys.stderr.write(
                "jobmail: ADMIN_TOKEN is not set; the admin token for this run is"
                f" {admin_token}\n"
            )
            sys.stderr.flush()
        if not settings.api_keys:
            detail = "job endpoints are open; set API_KEYS before exposing them"
            log.warning("api_keys_not_set", detail=detail)
        return cls(settings.api_keys, admin_token)

    @property
    def is_open(self) -> bool:
        return not self.api_keys

    def is_api_key(self, presented: bytes) -> bool:
        matches = [hmac.compare_digest(presented, key) for key in self.api_keys]
        return any(matches)

    def is_admin(self, presented: bytes) -> bool:
        return hmac.compare_digest(presented, self.admin_token)


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The key a caller sent, from `Authorization: Bearer` or `X-API-Key`."""
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return connection.headers.get("x-api-key") or None


def key_id(key: str) -> str:
    """A short, stable, non-secret name for a key, for logs and limits."""
    return "key_" + hashlib.sha256(key.encode()).hexdigest()[:12]


def caller_id(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Who is calling, for limits: a configured key's id, else the client address.

    A key that is not configured proves nothing (in open mode any key gets
    in), so it must not buy a fresh limit.
    """
    key = presented_key(connection)
    credentials = _credentials(connection)
    if key is not None:
        presented = key.encode()
        if credentials.is_api_key(presented) or credentials.is_admin(presented):
            return key_id(key)

    host = connection.client.host if connection.client else "unknown"
    return f"addr_{host}"


def _credentials(connection: ASGIConnection[Any, Any, Any, Any]) -> Credentials:
    return connection.app.state.credentials  # type: ignore[no-any-return]


def require_api_key(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Let in a configured API key or the admin token; anyone when no keys are set."""
    credentials = _credentials(connection)
    key = presented_key(connection)
    if credentials.is_open and key is None:
        return
    if key is None:
        raise _unauthorized(
            "Send an API key as Authorization: Bearer <key> or X-API-Key."
        )

    presented = key.encode()
    if credentials.is_api_key(presented) or credentials.is_admin(presented):
        return
    if credentials.is_open:
        return
    raise _unauthorized("The API key is not valid.")


def require_admin(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Let in the admin token only; an API key here is a 403."""
    credentials = _credentials(connection)
    key = presented_key(connection)
    if key is None:
        raise _unauthorized("Send the admin token as Authorization: Bearer <token>.")

    presented = key.encode()
    if credentials.is_admin(presented):
        return
    if credentials.is_api_key(presented):
        detail = "API keys cannot use admin endpoints; use the admin token."
        raise problem(403, "forbidden", detail)
    raise _unauthorized("The admin token is not valid.")


def _unauthorized(detail: str) -> Exception:
    return problem(
        401,
        "unauthorized",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="jobmail"'},
    )
