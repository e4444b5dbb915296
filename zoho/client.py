"""A small async client for the Zoho CRM v8 REST API, on httpx.

It holds one access token per process, refreshed from the refresh token a few
minutes before it expires and after a 401, one refresh at a time. The API host
is the `api_domain` of the token response, so one accounts URL per data centre
is the only address to configure. 429 and 5xx answers are retried with backoff.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
import stamina
import structlog

from zoho.errors import ZohoAuthError, ZohoError

log = structlog.get_logger()

API_PREFIX = "/crm/v8"
REFRESH_MARGIN_SECONDS = 300
# The token endpoint answers these with HTTP 200 and no token; none heals by itself.
PERMANENT_TOKEN_ERRORS = {
    "invalid_code": "the refresh token was revoked or is unknown; create a new one",
    "invalid_client": "ZOHO_CLIENT_ID is unknown at this data centre's accounts URL",
    "invalid_client_secret": "ZOHO_CLIENT_SECRET is wrong",
    "invalid_redirect_uri": "the OAuth client's redirect URI does not match",
}


@dataclass
class AccessToken:
    value: str
    api_domain: str
    expires_at: float

    @property
    def is_fresh(self) -> bool:
        return time.monotonic() < self.expires_at - REFRESH_MARGIN_SECONDS


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str


class ZohoClient:
    """Records, e-mail drafts and notes on one Zoho CRM organisation."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        accounts_url: str,
        http: httpx.AsyncClient | None = None,
        timeout_seconds: float = 15,
        attempts: int = 4,
        retry_wait_seconds: float = 1.0,
    ) -> None:
        self._credentials = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        }
        self._token_url = accounts_url.rstrip("/") + "/oauth/v2/token"
        self._http = http or httpx.AsyncClient(timeout=timeout_seconds)
        self._attempts = attempts
        self._retry_wait = retry_wait_seconds
        self._token: AccessToken | None = None
        self._refreshing = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_record(
        self, module: str, record_id: str, fields: list[str]
    ) -> dict[str, Any]:
        """The record's chosen fields; `ZohoError` code `zoho_record_not_found`."""
        path = f"/{module}/{record_id}"
        body = await self._call("GET", path, params={"fields": ",".join(fields)})
        records = body.get("data") if isinstance(body, dict) else None
        if not records:
            msg = f"{module} record {record_id} was not found in Zoho CRM"
            raise ZohoError(msg, code="zoho_record_not_found")

        return dict(records[0])

    async def create_draft(
        self,
        module: str,
        record_id: str,
        *,
        sender: str,
        to: Recipient,
        subject: str,
        html: str,
    ) -> str:
        """Save an HTML e-mail draft on the record; returns the draft id."""
        draft = {
            "from": sender,
            "to": [{"user_name": to.name, "email": to.email}],
            "subject": subject,
            "content": html,
            "rich_text": True,
        }
        path = f"/{module}/{record_id}/__email_drafts"
        body = await self._call("POST", path, json={"__email_drafts": [draft]})

        return str(_first_success(body, "__email_drafts")["id"])

    async def list_drafts(self, module: str, record_id: str) -> list[dict[str, Any]]:
        """Every draft on the record, all pages."""
        drafts: list[dict[str, Any]] = []
        for page in range(1, 51):
            path = f"/{module}/{record_id}/__email_drafts"
            body = await self._call("GET", path, params={"page": str(page)})
            items = body.get("__email_drafts", []) if isinstance(body, dict) else []
            drafts.extend(items)
            if not body or not body.get("info", {}).get("more_records"):
                break

        return drafts

    async def add_note(self, module: str, record_id: str, title: str, text: str) -> str:
        note = {
            "Note_Title": title,
            "Note_Content": text,
            "Parent_Id": {"module": {"api_name": module}, "id": record_id},
        }
        body = await self._call("POST", "/Notes", json={"data": [note]})

        return str(_first_success(body, "data")["id"])

    async def update_record(
        self, module: str, record_id: str, fields: dict[str, Any]
    ) -> None:
        """Write fields with workflow triggers off, so our write fires no rule."""
        payload = {"data": [fields], "trigger": []}
        body = await self._call("PUT", f"/{module}/{record_id}", json=payload)
        _first_success(body, "data")

    # -- calls ----------------------------------------------------------------

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        # A POST that timed out may still have created something, and Zoho
        # takes no idempotency key: creating calls get one try here, and the
        # caller, which can look for what an earlier try made, retries.
        attempts = 1 if method == "POST" else self._attempts
        async for attempt in stamina.retry_context(
            on=_is_retryable,
            attempts=attempts,
            wait_initial=self._retry_wait,
            wait_max=self._retry_wait * 10,
        ):
            with attempt:
                return await self._call_once(method, path, **kwargs)
        raise AssertionError("unreachable: stamina re-raises the last error")

    async def _call_once(self, method: str, path: str, **kwargs: Any) -> Any:
        token = await self._access_token()
        response = await self._send(method, token, path, **kwargs)
        if response.status_code == 401 and _error_code(response) in (
            "INVALID_TOKEN",
            "AUTHENTICATION_FAILURE",
        ):
            # Expired early or revoked: one fresh token, one more try.
            token = await self._access_token(stale=token)
            response = await self._send(method, token, path, **kwargs)

        return _parsed(response)

    async def _send(
        self, method: str, token: AccessToken, path: str, **kwargs: Any
    ) -> httpx.Response:
        url = token.api_domain + API_PREFIX + path
        headers = {"Authorization": f"Zoho-oauthtoken {token.value}"}
        try:
            return await self._http.request(method, url, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            msg = f"Zoho CRM could not be reached: {type(exc).__name__}"
            raise ZohoError(msg, code="zoho_unreachable", retryable=True) from exc

    # -- tokens ---------------------------------------------------------------

    async def _access_token(self, stale: AccessToken | None = None) -> AccessToken:
        """The cached token, refreshed when near expiry or known to be `stale`."""
        async with self._refreshing:
            token = self._token
            if token is not None and token is not stale and token.is_fresh:
                return token

            self._token = await self._refresh()
            return self._token

    async def _refresh(self) -> AccessToken:
        try:
            response = await self._http.post(self._token_url, data=self._credentials)
        except httpx.TransportError as exc:
            msg = f"Zoho's accounts server could not be reached: {type(exc).__name__}"
            raise ZohoAuthError(msg, code="zoho_unreachable", retryable=True) from exc
        if response.status_code >= 500 or response.status_code == 429:
            msg = f"Zoho's accounts server failed with HTTP {response.status_code}"
            raise ZohoAuthError(msg, code="zoho_unavailable", retryable=True)

        body = _json_or_none(response)
        if not isinstance(body, dict) or "access_token" not in body:
            raise _token_error(body)

        lifetime = float(body.get("expires_in_sec") or body.get("expires_in") or 3600)
        log.info("zoho_token_refreshed", expires_in=lifetime)
        return AccessToken(
            value=str(body["access_token"]),
            api_domain=str(body["api_domain"]).rstrip("/"),
            expires_at=time.monotonic() + lifetime,
        )


def _token_error(body: Any) -> ZohoAuthError:
    error = str(body.get("error", "")) if isinstance(body, dict) else ""
    if error in PERMANENT_TOKEN_ERRORS:
        return ZohoAuthError(PERMANENT_TOKEN_ERRORS[error], code=f"zoho_{error}")

    # "Access Denied" / access_denied is the token throttle: wait, then retry.
    msg = f"Zoho's accounts server gave no token ({error or 'no error given'})"
    return ZohoAuthError(msg, code="zoho_token_throttled", retryable=True)


def _parsed(response: httpx.Response) -> Any:
    if response.status_code == 204:
        return {}
    if response.is_success:
        return _json_or_none(response) or {}

    raise _status_error(response)


def _status_error(response: httpx.Response) -> ZohoError:
    status, code = response.status_code, _error_code(response)
    if status == 429 or status >= 500:
        msg = f"Zoho CRM is busy or failing (HTTP {status})"
        return ZohoError(msg, code="zoho_unavailable", retryable=True)
    if code == "OAUTH_SCOPE_MISMATCH":
        msg = (
            "the Zoho token lacks a needed scope; create a refresh token with the"
            " scopes listed in the README"
        )
        return ZohoAuthError(msg, code="zoho_scope_mismatch")
    if code in ("INVALID_TOKEN", "AUTHENTICATION_FAILURE"):
        return ZohoAuthError(
            "Zoho refused a freshly refreshed token", code="zoho_auth_failed"
        )
    if code == "INVALID_DATA" and "resource_path_index" in _error_details(response):
        # Zoho's answer to an unknown or deleted id in the URL (v8 Records API).
        msg = f"Zoho CRM has no record at {response.request.url.path}"
        return ZohoError(msg, code="zoho_record_not_found")

    detail = _error_message(response)
    msg = f"Zoho CRM refused the request (HTTP {status} {code}): {detail}"
    return ZohoError(msg, code=f"zoho_{(code or 'error').lower()}")


def _first_success(body: Any, key: str) -> dict[str, Any]:
    items = body.get(key) if isinstance(body, dict) else None
    item = items[0] if isinstance(items, list) and items else {}
    if item.get("status") != "success":
        code = str(item.get("code") or "unexpected_answer")
        msg = f"Zoho CRM did not save it ({code}): {item.get('message', '')}"
        raise ZohoError(msg, code=f"zoho_{code.lower()}")

    return dict(item.get("details") or {})


def _error_code(response: httpx.Response) -> str | None:
    body = _json_or_none(response)
    if isinstance(body, dict):
        if "code" in body:
            return str(body["code"])
        for value in body.values():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                return str(value[0].get("code"))
    return None


def _error_details(response: httpx.Response) -> dict[str, Any]:
    body = _json_or_none(response)
    details = body.get("details") if isinstance(body, dict) else None
    return details if isinstance(details, dict) else {}


def _error_message(response: httpx.Response) -> str:
    body = _json_or_none(response)
    if isinstance(body, dict):
        return str(body.get("message") or body)[:200]
    return response.text[:200]


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _is_retryable(exc: Exception) -> bool:
    # The token throttle wants minutes, and every quick retry counts against
    # it: that one is left to the job's own, slower, retries.
    throttled = getattr(exc, "code", None) == "zoho_token_throttled"
    return isinstance(exc, ZohoError) and exc.retryable and not throttled
