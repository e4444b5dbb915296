"""A stdlib-only fake of Zoho CRM (REST API v8) and its OAuth 2.0 accounts server.

`FakeZoho` serves both the accounts server and the CRM API domain on one
``127.0.0.1`` port from a daemon thread. The token response's ``api_domain``
points back at the fake, so a client that takes its API host from the token
response (as Zoho asks) reaches it as well.

Emulated:

* ``POST /oauth/v2/token`` with ``grant_type=refresh_token`` or
  ``authorization_code`` (one-time grant codes from `FakeZoho.issue_grant_code`,
  three minutes), parameters in a form body or the query string. Errors come
  back with HTTP **200** and an ``error`` field: ``invalid_client`` (unknown
  client id), ``invalid_client_secret``, ``invalid_code`` (unknown, used,
  expired or revoked code/refresh token) and the throttle answer
  ``{"error": "Access Denied", "error_description": "You have made too many
  requests continuously...", "status": "failure"}``. ``expires_in`` is in
  seconds (``legacy_expiry`` gives the old milliseconds plus
  ``expires_in_sec``). At most 15 active access tokens per refresh token (the
  16th invalidates the oldest); an opt-in cap on tokens issued per refresh
  token per 10 minutes (Zoho: 10). ``POST /oauth/v2/token/revoke``.
* ``Authorization: Zoho-oauthtoken <token>`` on every API call. A missing,
  malformed, unknown, expired or revoked token gets 401 ``INVALID_TOKEN``; a
  token whose refresh token lacks the scope gets 401 ``OAUTH_SCOPE_MISMATCH``.
  Scopes compare case-insensitively; ``ZohoCRM.modules.<module>.ALL`` and
  ``ZohoCRM.modules.ALL`` cover every operation.
* Records: ``GET /crm/v8/{module}/{id}`` (optional ``fields=``, at most 50),
  ``PUT /crm/v8/{module}/{id}`` and ``PUT /crm/v8/{module}`` (ids in the body),
  recording the ``trigger`` array of every write (`RecordUpdate`).
* E-mail drafts: ``GET``/``POST``/``PUT /crm/v8/{module}/{id}/__email_drafts``
  and ``GET``/``PUT``/``DELETE .../__email_drafts/{draft_id}``; ``from`` and
  ``rich_text`` are mandatory, ``to``/``cc``/``bcc`` are arrays of
  ``{"user_name", "email"}``, ids are 64 hex characters, lists page by 10.
* Notes: ``POST /crm/v8/Notes`` (``Parent_Id`` object mandatory) and
  ``GET``/``POST /crm/v8/{module}/{id}/Notes``.
* Zoho's error envelope ``{"code", "details", "message", "status": "error"}``;
  bulk writes answer per item with 201 or 200, 207 when mixed and 400 when all
  failed; 404 ``INVALID_URL_PATTERN``, 405 ``METHOD_NOT_ALLOWED``, 400
  ``INVALID_MODULE``, ``MANDATORY_NOT_FOUND`` and ``INVALID_DATA`` with
  ``api_name``/``json_path``/``expected_data_type``/``maximum_length``.
* Faults per route kind (`FakeZoho.fail_next`, helpers such as
  `too_many_requests` or `token_throttled`), an outage switch
  (`FakeZoho.set_down`, `FakeZoho.down_for`: HTML 503s), an optional
  concurrency cap answering 429, and the ``X-API-CREDITS-REMAINING`` header.

Where the reference leaves Zoho's behaviour unconfirmed the fake picks one
answer: an unknown record id gets 400 ``INVALID_DATA`` with
``details.resource_path_index`` (``missing_record_status = 204`` gives the other
observed answer to GET); over-limit batches get 400 ``INVALID_DATA`` with
``details.limit``; unknown grant types get ``unsupported_grant_type``; revoke
answers ``{"status": "success"}``; notes need ``ZohoCRM.modules.notes.<op>``
plus any scope of the parent module.

Not emulated: field metadata (any field name is accepted; unset fields read as
null), record create/delete/search/COQL over HTTP, Send Mail, templates and
attachments (stored as given), webhooks, the Notifications API, daily credit
accounting, ``INVALID_HOST`` (one host serves both roles), data centres and
sandboxes, profiles and permissions (``NO_PERMISSION``), and
``AUTHENTICATION_FAILURE`` other than as a fault.

Run it standalone with ``python -m tests.fakes.zoho_server --port 8082``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes import _serving

JsonObject = dict[str, Any]

HOST = _serving.HOST
API_PREFIX = "/crm/v8/"
TOKEN_PATH = "/oauth/v2/token"
REVOKE_PATH = "/oauth/v2/token/revoke"
KINDS = ("token", "records", "drafts", "notes")

DEFAULT_CLIENT_ID = "1000.FAKEZOHO0CLIENT0ID00000000000"
DEFAULT_CLIENT_SECRET = "5f0c2a9e7b1d4c3a8e6f0b2d4a6c8e0f1a3c5e7b9d"
DEFAULT_REFRESH_TOKEN = (
    "1000.4f2d8c1a9e7b3d5f0a6c2e8b4d1f7a3c.9b5e1d7f3a0c6e2b8d4f1a7c3e9b5d0f"
)
DEFAULT_SCOPES = (
    "ZohoCRM.modules.contacts.ALL",
    "ZohoCRM.modules.leads.ALL",
    "ZohoCRM.modules.notes.ALL",
    "ZohoCRM.settings.fields.READ",
)
DEFAULT_MODULES = ("Leads", "Contacts", "Accounts", "Deals")
PERSON_MODULES = ("Leads", "Contacts")
DEFAULT_USER: Mapping[str, str] = {
    "id": "4876876000000321001",
    "name": "Rui Costa",
    "email": "recruiting@acme-staffing.example",
}
ID_PREFIX = "4876876"
FIRST_ID = 1_000_001

TOKEN_LIFETIME = 3600
GRANT_CODE_LIFETIME = 180.0
MAX_ACTIVE_TOKENS = 15
TOKEN_RATE_WINDOW = 600.0
MAX_ITEMS = 100
MAX_FIELDS = 50
DRAFTS_PER_PAGE = 10
SUMMARY_LENGTH = 250

JSON_TYPE = "application/json;charset=UTF-8"
CREDITS_HEADER = "X-API-CREDITS-REMAINING"
THROTTLE_ERROR = "Access Denied"
THROTTLE_DESCRIPTION = (
    "You have made too many requests continuously. Please try again after some time."
)
TAG_PATTERN = re.compile(r"<[^>]+>")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DRAFT_KEYS = (
    "from",
    "to",
    "cc",
    "bcc",
    "reply_to",
    "subject",
    "content",
    "rich_text",
    "attachments",
    "schedule_details",
    "template",
    "inventory_details",
)


# --------------------------------------------------------------------------
# Answers and injected faults
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: a dict goes out as JSON, a str as HTML, None as no body."""

    status: int
    body: JsonObject | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    """An injected answer for the next request of one route kind.

    The fake waits ``delay`` seconds, then sends ``reply``; without a reply it
    handles the request normally (a slow but otherwise correct answer).
    """

    reply: Reply | None = None
    delay: float = 0.0


def zoho_error(
    code: str, message: str, details: JsonObject | None = None
) -> JsonObject:
    """Return Zoho's error envelope ``{"code", "details", "message", "status"}``."""
    return {
        "code": code,
        "details": details or {},
        "message": message,
        "status": "error",
    }


def invalid_token() -> Fault:
    """401 ``INVALID_TOKEN``: what an expired or unknown access token gets."""
    return Fault(Reply(401, _invalid_token_body()))


def scope_mismatch() -> Fault:
    """401 ``OAUTH_SCOPE_MISMATCH``: the token lacks the scope for the URL."""
    return Fault(Reply(401, _scope_mismatch_body()))


def authentication_failure() -> Fault:
    """401 ``AUTHENTICATION_FAILURE``: the token was not accepted."""
    body = zoho_error("AUTHENTICATION_FAILURE", "Authentication failed")
    return Fault(Reply(401, body))


def too_many_requests(credits_remaining: int | None = None) -> Fault:
    """429 ``TOO_MANY_REQUESTS``; like Zoho, no ``Retry-After`` header.

    ``credits_remaining`` adds ``X-API-CREDITS-REMAINING`` (e.g. 0 when the
    24-hour credits are spent; leave it out for the concurrency cap).
    """
    headers = {} if credits_remaining is None else _credits(credits_remaining)
    return Fault(Reply(429, _too_many_body(), headers))


def server_error(status: int = 500) -> Fault:
    """A 5xx with Zoho's JSON envelope and code ``INTERNAL_ERROR``."""
    if not 500 <= status <= 599:
        raise ValueError(f"server_error needs a 5xx status, not {status}")
    body = zoho_error("INTERNAL_ERROR", "Internal Server Error")
    return Fault(Reply(status, body))


def html_error(status: int = 502) -> Fault:
    """A 5xx whose body is an HTML page, as a proxy in front of Zoho sends."""
    if not 500 <= status <= 599:
        raise ValueError(f"html_error needs a 5xx status, not {status}")
    return Fault(Reply(status, _html_page(status)))


def token_error(error: str, **extra: str) -> Fault:
    """A token-endpoint failure: HTTP 200 with ``{"error": error, **extra}``."""
    return Fault(Reply(200, {"error": error, **extra}))


def invalid_client() -> Fault:
    """HTTP 200 ``{"error": "invalid_client"}`` (wrong client id or DC)."""
    return token_error("invalid_client")


def invalid_client_secret() -> Fault:
    """HTTP 200 ``{"error": "invalid_client_secret"}``."""
    return token_error("invalid_client_secret")


def invalid_code() -> Fault:
    """HTTP 200 ``{"error": "invalid_code"}`` (revoked token, used grant code)."""
    return token_error("invalid_code")


def token_throttled() -> Fault:
    """HTTP 200 throttle answer of the token endpoint (back off for minutes)."""
    return Fault(Reply(200, _throttle_body()))


def slow(seconds: float, then: Fault | None = None) -> Fault:
    """Wait ``seconds``, then answer normally or with ``then``'s reply."""
    if then is None:
        return Fault(delay=seconds)
    return Fault(then.reply, seconds + then.delay)


def _invalid_token_body() -> JsonObject:
    return zoho_error("INVALID_TOKEN", "invalid oauth token")


def _scope_mismatch_body() -> JsonObject:
    return zoho_error("OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL")


def _too_many_body() -> JsonObject:
    return zoho_error("TOO_MANY_REQUESTS", "too many requests")


def _throttle_body() -> JsonObject:
    return {
        "error_description": THROTTLE_DESCRIPTION,
        "error": THROTTLE_ERROR,
        "status": "failure",
    }


def _credits(remaining: int) -> dict[str, str]:
    return {CREDITS_HEADER: str(remaining)}


def _html_page(status: int) -> str:
    title = f"{status} {HTTPStatus(status).phrase}"
    return (
        f"<html><head><title>{title}</title></head>"
        f"<body><center><h1>{title}</h1></center><hr><center>ZGS</center>"
        "</body></html>"
    )


def _coerce_fault(fault: Fault | int) -> Fault:
    if isinstance(fault, Fault):
        return fault
    if fault == 429:
        return too_many_requests()
    if fault == 401:
        return invalid_token()
    return server_error(fault)


# --------------------------------------------------------------------------
# Records of what happened
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedRequest:
    """A request the fake received (headers lower-cased, body raw)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None

    def form(self) -> dict[str, str]:
        """The body parsed as ``application/x-www-form-urlencoded``."""
        return _parse_form(self.body)


@dataclass(frozen=True)
class RecordUpdate:
    """One successful record write and the ``trigger`` array it carried.

    ``trigger`` is None when the request had no ``trigger`` key: Zoho then
    runs workflow rules, approvals and blueprints as usual.
    """

    module: str
    record_id: str
    fields: JsonObject
    trigger: list[str] | None

    @property
    def workflow_triggered(self) -> bool:
        """Whether Zoho would run workflow rules for this write."""
        return self.trigger is None or "workflow" in self.trigger


@dataclass
class _Grant:
    token: str
    scopes: tuple[str, ...]
    revoked: bool = False


@dataclass
class _AccessToken:
    token: str
    refresh_token: str
    issued_at: float
    expires_at: float

    def valid(self, now: float) -> bool:
        return now < self.expires_at


@dataclass(frozen=True)
class _GrantCode:
    scopes: tuple[str, ...]
    expires_at: float


@dataclass(frozen=True)
class _Route:
    kind: str
    action: str
    module: str | None = None
    record_id: str | None = None
    draft_id: str | None = None


@dataclass(frozen=True)
class _Call:
    route: _Route
    query: dict[str, list[str]]
    raw_body: bytes
    grant: _Grant

    @property
    def module(self) -> str:
        return self.route.module or ""

    @property
    def record_id(self) -> str:
        return self.route.record_id or ""


# --------------------------------------------------------------------------
# Small pure helpers
# --------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _new_token() -> str:
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


def _parse_form(raw: bytes) -> dict[str, str]:
    text = raw.decode("utf-8", errors="replace")
    parsed = parse_qs(text, keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def _normalise_scopes(scopes: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(scopes, str):
        scopes = scopes.split(",")
    return tuple(scope.strip() for scope in scopes if scope.strip())


def _has_scope(granted: Iterable[str], module: str, operation: str) -> bool:
    """Whether ``granted`` allows ``operation`` (or any, for "*") on ``module``."""
    owned = {scope.lower() for scope in granted}
    prefix = f"zohocrm.modules.{module.lower()}."
    if "zohocrm.modules.all" in owned or f"{prefix}all" in owned:
        return True
    if operation == "*":
        return any(scope.startswith(prefix) for scope in owned)
    return f"{prefix}{operation}" in owned


def _is_email(value: object) -> bool:
    return isinstance(value, str) and EMAIL_PATTERN.match(value) is not None


def _success(message: str, details: JsonObject) -> JsonObject:
    return {
        "code": "SUCCESS",
        "details": details,
        "message": message,
        "status": "success",
    }


def _item_error(
    code: str, message: str, api_name: str, json_path: str, **extra: Any
) -> JsonObject:
    details = {"api_name": api_name, "json_path": json_path, **extra}
    return zoho_error(code, message, details)


def _missing(api_name: str, json_path: str) -> JsonObject:
    return _item_error(
        "MANDATORY_NOT_FOUND", "required field not found", api_name, json_path
    )


def _invalid(api_name: str, json_path: str, expected: str | None = None) -> JsonObject:
    extra = {} if expected is None else {"expected_data_type": expected}
    return _item_error("INVALID_DATA", "invalid data", api_name, json_path, **extra)


def _bulk_reply(key: str, results: list[JsonObject], ok_status: int) -> Reply:
    succeeded = sum(result["status"] == "success" for result in results)
    if succeeded == len(results):
        return Reply(ok_status, {key: results})
    return Reply(400 if succeeded == 0 else 207, {key: results})


def _bad_request(code: str, message: str, details: JsonObject | None = None) -> Reply:
    return Reply(400, zoho_error(code, message, details))


def _invalid_id(path_index: int) -> Reply:
    details = {"resource_path_index": path_index}
    return _bad_request(
        "INVALID_DATA", "the related id given seems to be invalid", details
    )


def _not_found() -> Reply:
    message = "Please check if the URL trying to access is a correct one"
    return Reply(404, zoho_error("INVALID_URL_PATTERN", message))


def _method_not_allowed() -> Reply:
    message = "The http request method type is not a valid one"
    return Reply(405, zoho_error("METHOD_NOT_ALLOWED", message))


def _unavailable() -> Reply:
    return Reply(503, _html_page(503))


def _json_object(raw: bytes) -> JsonObject | Reply:
    try:
        body = json.loads(raw) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
    if not isinstance(body, dict):
        return _bad_request("INVALID_DATA", "the request body is not a JSON object")
    return body


def _items(body: JsonObject, key: str) -> list[Any] | Reply:
    """The wrapper array ``body[key]`` of a write, or the 400 Zoho gives."""
    if key not in body:
        return _bad_request(
            "MANDATORY_NOT_FOUND", "required param not found", {"api_name": key}
        )
    items = body[key]
    if not isinstance(items, list) or not items:
        details = {"api_name": key, "expected_data_type": "jsonarray"}
        return _bad_request("INVALID_DATA", "invalid data", details)
    if len(items) > MAX_ITEMS:
        details = {"api_name": key, "limit": MAX_ITEMS}
        return _bad_request("INVALID_DATA", "too many items in one call", details)
    return items


def _write_body(raw: bytes, key: str) -> tuple[list[Any], JsonObject] | Reply:
    body = _json_object(raw)
    if isinstance(body, Reply):
        return body
    items = _items(body, key)
    if isinstance(items, Reply):
        return items
    return items, body


def _trigger(body: JsonObject) -> list[str] | None | Reply:
    if "trigger" not in body:
        return None
    trigger = body["trigger"]
    if isinstance(trigger, list) and all(isinstance(t, str) for t in trigger):
        return list(trigger)
    details = {"api_name": "trigger", "expected_data_type": "jsonarray"}
    return _bad_request("INVALID_DATA", "invalid data", details)


def _fields_param(query: dict[str, list[str]]) -> list[str] | None | Reply:
    if "fields" not in query:
        return None
    names = [name.strip() for name in query["fields"][0].split(",") if name.strip()]
    if len(names) > MAX_FIELDS:
        details = {"param_name": "fields", "limit": MAX_FIELDS}
        return _bad_request("INVALID_DATA", "too many fields requested", details)
    return names


def _select_fields(record: JsonObject, names: list[str] | None) -> JsonObject:
    if names is None:
        return copy.deepcopy(record)
    chosen = {name: copy.deepcopy(record.get(name)) for name in names}
    return {"id": record["id"], **chosen}


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int | Reply:
    text = query.get(name, [str(default)])[0]
    if text.isdigit() and int(text) > 0:
        return int(text)
    return _bad_request("INVALID_DATA", "invalid data", {"param_name": name})


def _summary(content: object, rich_text: object) -> str | None:
    if not isinstance(content, str):
        return None
    text = TAG_PATTERN.sub(" ", content) if rich_text is True else content
    return " ".join(text.split())[:SUMMARY_LENGTH]


def _recipient_problem(value: object, path: str) -> JsonObject | None:
    key = path.rsplit(".", 1)[-1]
    if not isinstance(value, list):
        return _invalid(key, path, "jsonarray")
    for index, person in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(person, dict):
            return _invalid(key, where, "jsonobject")
        if "email" not in person:
            return _missing("email", f"{where}.email")
        if not _is_email(person["email"]):
            return _invalid("email", f"{where}.email", "email")
        name = person.get("user_name")
        if name is not None and not isinstance(name, str):
            return _invalid("user_name", f"{where}.user_name", "string")
    return None


def _draft_type_problem(item: JsonObject, path: str) -> JsonObject | None:
    checks: list[tuple[str, Callable[[object], bool], str]] = [
        ("from", _is_email, "email"),
        ("reply_to", _is_email, "email"),
        ("rich_text", lambda value: isinstance(value, bool), "boolean"),
        ("subject", lambda value: isinstance(value, str), "string"),
        ("content", lambda value: isinstance(value, str), "string"),
        ("schedule_details", lambda value: isinstance(value, dict), "jsonobject"),
    ]
    for key, is_valid, expected in checks:
        if item.get(key) is not None and not is_valid(item[key]):
            return _invalid(key, f"{path}.{key}", expected)
    for key in ("to", "cc", "bcc"):
        if item.get(key) is not None:
            problem = _recipient_problem(item[key], f"{path}.{key}")
            if problem is not None:
                return problem
    return None


def _note_parent(item: JsonObject, path: str) -> tuple[str, str] | JsonObject:
    """``(module, id)`` from a v6+ ``Parent_Id`` object, or the item error."""
    parent = item.get("Parent_Id")
    where = f"{path}.Parent_Id"
    if parent is None:
        return _missing("Parent_Id", where)
    if not isinstance(parent, dict):
        return _invalid("Parent_Id", where, "jsonobject")
    module = parent.get("module")
    api_name = module.get("api_name") if isinstance(module, dict) else None
    record_id = parent.get("id")
    if not isinstance(api_name, str) or not isinstance(record_id, str):
        return _invalid("Parent_Id", where, "jsonobject")
    return api_name, record_id


def _note_problem(item: object, path: str) -> JsonObject | None:
    if not isinstance(item, dict):
        return _invalid("data", path, "jsonobject")
    content = item.get("Note_Content")
    if content is None or content == "":
        return _missing("Note_Content", f"{path}.Note_Content")
    if not isinstance(content, str):
        return _invalid("Note_Content", f"{path}.Note_Content", "string")
    title = item.get("Note_Title")
    if title is not None and not isinstance(title, str):
        return _invalid("Note_Title", f"{path}.Note_Title", "string")
    return None


def _route_shape(segments: list[str]) -> tuple[str, dict[str, str]] | None:
    """The route kind and its method → action table for a ``/crm/v8`` path."""
    if "" in segments:
        return None
    match segments:
        case ["Notes"]:
            return "notes", {"POST": "create_notes"}
        case [_, _, "Notes"]:
            return "notes", {"GET": "list_notes", "POST": "create_record_notes"}
        case [_, _, "__email_drafts"]:
            actions = {"GET": "list_drafts", "POST": "create_drafts"}
            return "drafts", actions | {"PUT": "update_drafts"}
        case [_, _, "__email_drafts", _]:
            actions = {"GET": "get_draft", "PUT": "update_drafts"}
            return "drafts", actions | {"DELETE": "delete_draft"}
        case [_, _]:
            return "records", {"GET": "get_record", "PUT": "update_record"}
        case [_]:
            return "records", {"PUT": "update_records"}
    return None


def _match_route(method: str, path: str) -> _Route | Reply:
    segments = path.removeprefix(API_PREFIX).split("/")
    shape = _route_shape(segments)
    if shape is None:
        return _not_found()
    kind, actions = shape
    if method not in actions:
        return _method_not_allowed()
    if segments == ["Notes"]:
        return _Route(kind, actions[method])
    draft_id = segments[3] if len(segments) == 4 else None
    record_id = segments[1] if len(segments) > 1 else None
    return _Route(kind, actions[method], segments[0], record_id, draft_id)


MODULE_OPERATIONS = {
    "get_record": "read",
    "update_record": "update",
    "update_records": "update",
    "list_drafts": "read",
    "get_draft": "read",
    "create_drafts": "create",
    "update_drafts": "update",
    "delete_draft": "delete",
    "list_notes": "*",
    "create_record_notes": "*",
}
NOTE_OPERATIONS = {
    "list_notes": "read",
    "create_record_notes": "create",
    "create_notes": "create",
}


def _requirements(route: _Route) -> list[tuple[str, str]]:
    """The ``(module, operation)`` scopes a route needs before its body is read."""
    needed = []
    if route.module is not None:
        needed.append((route.module, MODULE_OPERATIONS[route.action]))
    if route.action in NOTE_OPERATIONS:
        needed.append(("Notes", NOTE_OPERATIONS[route.action]))
    return needed


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


class FakeZoho(_serving.BackgroundServer):
    """Zoho's accounts server and CRM v8 API on ``127.0.0.1`` for one test.

    Attributes tests may change at any time: ``client_id``,
    ``client_secret``, ``refresh_token`` and ``scopes`` (of the default
    refresh token), ``token_lifetime`` (seconds), ``token_delay`` (seconds the
    token endpoint waits before answering), ``max_active_tokens``,
    ``token_rate_limit`` (tokens per refresh token per 10 minutes, None = off),
    ``legacy_expiry``, ``missing_record_status`` (400 or 204),
    ``from_addresses`` (allowed draft senders, None = any),
    ``max_concurrency`` (in-flight API calls before 429, None = off),
    ``credits_remaining`` (sent as ``X-API-CREDITS-REMAINING`` when set) and
    ``user`` (the token's user, owner of what it creates).
    """

    def __init__(
        self,
        *,
        port: int = 0,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        refresh_token: str = DEFAULT_REFRESH_TOKEN,
        scopes: str | Iterable[str] = DEFAULT_SCOPES,
        token_lifetime: int = TOKEN_LIFETIME,
        token_delay: float = 0.0,
    ) -> None:
        super().__init__(
            _ZohoHandler, port=port, thread_name="fake-zoho", poll_interval=0.01
        )
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.token_delay = token_delay
        self.max_active_tokens = MAX_ACTIVE_TOKENS
        self.token_rate_limit: int | None = None
        self.legacy_expiry = False
        self.missing_record_status = 400
        self.from_addresses: set[str] | None = None
        self.max_concurrency: int | None = None
        self.credits_remaining: int | None = None
        self.user: dict[str, str] = dict(DEFAULT_USER)
        self._lock = threading.RLock()
        self._next_number = FIRST_ID
        self._default_refresh = refresh_token
        self._default_scopes = _normalise_scopes(scopes)
        self._clear_state()

    def _clear_state(self) -> None:
        self._modules: set[str] = set(DEFAULT_MODULES)
        self._records: dict[str, dict[str, JsonObject]] = {}
        self._drafts: dict[tuple[str, str], dict[str, JsonObject]] = {}
        self._notes: list[JsonObject] = []
        self._updates: list[RecordUpdate] = []
        self._field_limits: dict[tuple[str, str], int] = {}
        default = _Grant(self._default_refresh, self._default_scopes)
        self._grants: dict[str, _Grant] = {default.token: default}
        self._access: dict[str, _AccessToken] = {}
        self._issue_times: dict[str, deque[float]] = {}
        self._grant_codes: dict[str, _GrantCode] = {}
        self._faults: dict[str, deque[Fault]] = {kind: deque() for kind in KINDS}
        self._down = False
        self._down_remaining = 0
        self._received: list[ReceivedRequest] = []
        self._token_requests = 0
        self._token_in_flight = self._max_token_in_flight = 0
        self._api_in_flight = self._max_api_in_flight = 0

    # -- addresses (start, stop and with come from BackgroundServer) -------

    @property
    def accounts_url(self) -> str:
        """The accounts server, e.g. ``http://127.0.0.1:54321``."""
        return self._origin

    @property
    def api_domain(self) -> str:
        """The CRM API domain (same host); also sent as the token's ``api_domain``."""
        return self.accounts_url

    @property
    def token_url(self) -> str:
        """``{accounts_url}/oauth/v2/token``."""
        return self.accounts_url + TOKEN_PATH

    # -- OAuth set-up and inspection --------------------------------------

    @property
    def refresh_token(self) -> str:
        """The default refresh token; assigning one replaces it (same scopes)."""
        return self._default_refresh

    @refresh_token.setter
    def refresh_token(self, token: str) -> None:
        with self._lock:
            self._grants.pop(self._default_refresh, None)
            self._default_refresh = token
            self._grants[token] = _Grant(token, self._default_scopes)

    @property
    def scopes(self) -> tuple[str, ...]:
        """Scopes of the default refresh token (and of its access tokens)."""
        return self._default_scopes

    @scopes.setter
    def scopes(self, scopes: str | Iterable[str]) -> None:
        with self._lock:
            self._default_scopes = _normalise_scopes(scopes)
            self._grants[self._default_refresh].scopes = self._default_scopes

    def add_refresh_token(
        self, scopes: str | Iterable[str], token: str | None = None
    ) -> str:
        """Register another refresh token with its own scopes; returns it."""
        grant = _Grant(token or _new_token(), _normalise_scopes(scopes))
        with self._lock:
            self._grants[grant.token] = grant
        return grant.token

    def issue_grant_code(self, scopes: str | Iterable[str] | None = None) -> str:
        """A one-time grant code (valid 3 minutes) as the Self Client gives."""
        chosen = self._default_scopes if scopes is None else _normalise_scopes(scopes)
        code = _new_token()
        expires_at = time.monotonic() + GRANT_CODE_LIFETIME
        with self._lock:
            self._grant_codes[code] = _GrantCode(chosen, expires_at)
        return code

    def issue_access_token(self, refresh_token: str | None = None) -> str:
        """Issue an access token without HTTP (not counted in token_requests)."""
        with self._lock:
            grant = self._grants.get(refresh_token or self._default_refresh)
            if grant is None or grant.revoked:
                raise ValueError("unknown or revoked refresh token")
            return self._issue(grant).token

    def expire_all_tokens(self) -> None:
        """Make every access token issued so far invalid from now on."""
        with self._lock:
            for access in self._access.values():
                access.expires_at = float("-inf")

    def revoke_refresh_token(self, token: str) -> None:
        """Revoke a refresh token and its access tokens (as the revoke URL does)."""
        with self._lock:
            self._revoke(token)

    def active_tokens(self, refresh_token: str | None = None) -> int:
        """How many unexpired access tokens a refresh token has."""
        owner = refresh_token or self._default_refresh
        now = time.monotonic()
        with self._lock:
            return len(self._active(owner, now))

    @property
    def token_requests(self) -> int:
        """Requests received by the token endpoint, faulted ones included."""
        with self._lock:
            return self._token_requests

    @property
    def max_concurrent_token_requests(self) -> int:
        """The most token requests ever in progress at the same moment."""
        with self._lock:
            return self._max_token_in_flight

    @property
    def max_concurrent_api_requests(self) -> int:
        """The most API requests ever in progress at the same moment."""
        with self._lock:
            return self._max_api_in_flight

    # -- CRM data ------------------------------------------------------------

    def add_record(
        self, module: str, fields: Mapping[str, Any], *, record_id: str | None = None
    ) -> str:
        """Store a record (a new module is accepted too); returns its 19-digit id."""
        with self._lock:
            new_id = record_id or self._new_id()
            record = {"id": new_id, **copy.deepcopy(dict(fields))}
            self._fill_defaults(module, record)
            self._modules.add(module)
            self._records.setdefault(module, {})[new_id] = record
            return new_id

    def get_record(self, module: str, record_id: str) -> JsonObject | None:
        """A copy of a stored record, or None."""
        with self._lock:
            record = self._records.get(module, {}).get(record_id)
            return copy.deepcopy(record)

    def delete_record(self, module: str, record_id: str) -> None:
        """Forget a record, as if a user deleted it in the CRM."""
        with self._lock:
            self._records.get(module, {}).pop(record_id, None)

    def set_field_limit(self, module: str, field_name: str, max_length: int) -> None:
        """Reject longer text written to ``field_name`` (Zoho's per-field cap)."""
        with self._lock:
            self._field_limits[(module, field_name)] = max_length

    def drafts(self, module: str, record_id: str) -> list[JsonObject]:
        """Copies of a record's e-mail drafts, oldest first (GET item shape)."""
        with self._lock:
            stored = self._drafts.get((module, record_id), {})
            return copy.deepcopy(list(stored.values()))

    def notes(
        self, module: str | None = None, record_id: str | None = None
    ) -> list[JsonObject]:
        """Copies of stored notes, optionally only those of one parent."""
        with self._lock:
            chosen = [n for n in self._notes if _is_parent(n, module, record_id)]
            return copy.deepcopy(chosen)

    def updates(
        self, module: str | None = None, record_id: str | None = None
    ) -> list[RecordUpdate]:
        """Successful record writes, oldest first, optionally filtered."""
        with self._lock:
            return [
                update
                for update in self._updates
                if module in (None, update.module)
                and record_id in (None, update.record_id)
            ]

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A copy of every request received, oldest first."""
        with self._lock:
            return list(self._received)

    # -- faults ----------------------------------------------------------------

    def fail_next(self, kind: str, *faults: Fault | int) -> None:
        """Queue faults for the next requests of ``kind``, one per request.

        ``kind`` is "token", "records", "drafts" or "notes". A bare status is
        shorthand: 429 → `too_many_requests`, 401 → `invalid_token`, 5xx →
        `server_error`.
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        queued = [_coerce_fault(fault) for fault in faults]
        with self._lock:
            self._faults[kind].extend(queued)

    def pending_faults(self, kind: str | None = None) -> int:
        """How many queued faults have not been used yet."""
        with self._lock:
            kinds = KINDS if kind is None else (kind,)
            return sum(len(self._faults[name]) for name in kinds)

    def set_down(self, down: bool) -> None:
        """While down, every API call (not the token endpoint) gets an HTML 503."""
        with self._lock:
            self._down = down
            self._down_remaining = 0

    def down_for(self, n_requests: int) -> None:
        """Answer the next ``n_requests`` API calls with an HTML 503."""
        with self._lock:
            self._down_remaining = n_requests

    def reset(self) -> None:
        """Forget all data, tokens, faults and counts; keep the configuration."""
        with self._lock:
            self._clear_state()

    # -- request handling (called from server threads) ---------------------

    def answer(
        self, method: str, target: str, headers: Mapping[str, str], raw_body: bytes
    ) -> Reply:
        """Decide the answer to one HTTP request and record the request."""
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        query = parse_qs(parts.query, keep_blank_values=True)
        request = ReceivedRequest(method, path, query, dict(headers), raw_body)
        with self._lock:
            self._received.append(request)
        if path == TOKEN_PATH:
            return self._token_endpoint(request)
        if path == REVOKE_PATH:
            return self._revoke_endpoint(request)
        if path.startswith(API_PREFIX):
            return self._api(request)
        return _not_found()

    # OAuth ---------------------------------------------------------------

    def _token_endpoint(self, request: ReceivedRequest) -> Reply:
        if request.method != "POST":
            return Reply(405, _html_page(405))
        with self._token_slot():
            self._stopping.wait(self.token_delay)
            fault = self._apply_fault("token")
            if fault is not None:
                return fault
            params = _token_params(request)
            with self._lock:
                return self._grant_tokens(params)

    def _grant_tokens(self, params: dict[str, str]) -> Reply:
        if params.get("client_id") != self.client_id:
            return Reply(200, {"error": "invalid_client"})
        if params.get("client_secret") != self.client_secret:
            return Reply(200, {"error": "invalid_client_secret"})
        grant_type = params.get("grant_type")
        if grant_type == "refresh_token":
            return self._refresh(params.get("refresh_token", ""))
        if grant_type == "authorization_code":
            return self._exchange_code(params.get("code", ""))
        return Reply(200, {"error": "unsupported_grant_type"})

    def _refresh(self, token: str) -> Reply:
        grant = self._grants.get(token)
        if grant is None or grant.revoked:
            return Reply(200, {"error": "invalid_code"})
        if self._throttled(grant.token):
            return Reply(200, _throttle_body())
        return Reply(200, self._token_body(grant, with_refresh=False))

    def _exchange_code(self, code: str) -> Reply:
        entry = self._grant_codes.pop(code, None)
        if entry is None or entry.expires_at <= time.monotonic():
            return Reply(200, {"error": "invalid_code"})
        grant = _Grant(_new_token(), entry.scopes)
        self._grants[grant.token] = grant
        return Reply(200, self._token_body(grant, with_refresh=True))

    def _token_body(self, grant: _Grant, *, with_refresh: bool) -> JsonObject:
        body: JsonObject = {"access_token": self._issue(grant).token}
        if with_refresh:
            body["refresh_token"] = grant.token
        body |= {"api_domain": self.api_domain, "token_type": "Bearer"}
        if self.legacy_expiry:
            body["expires_in_sec"] = self.token_lifetime
            body["expires_in"] = self.token_lifetime * 1000
        else:
            body["expires_in"] = self.token_lifetime
        return body

    def _issue(self, grant: _Grant) -> _AccessToken:
        now = time.monotonic()
        active = self._active(grant.token, now)
        while active and len(active) >= self.max_active_tokens:
            active.pop(0).expires_at = float("-inf")
        access = _AccessToken(_new_token(), grant.token, now, now + self.token_lifetime)
        self._access[access.token] = access
        self._issue_times.setdefault(grant.token, deque()).append(now)
        return access

    def _active(self, refresh_token: str, now: float) -> list[_AccessToken]:
        owned = (a for a in self._access.values() if a.refresh_token == refresh_token)
        return sorted((a for a in owned if a.valid(now)), key=lambda a: a.issued_at)

    def _throttled(self, refresh_token: str) -> bool:
        if self.token_rate_limit is None:
            return False
        times = self._issue_times.setdefault(refresh_token, deque())
        while times and times[0] <= time.monotonic() - TOKEN_RATE_WINDOW:
            times.popleft()
        return len(times) >= self.token_rate_limit

    def _revoke_endpoint(self, request: ReceivedRequest) -> Reply:
        if request.method != "POST":
            return Reply(405, _html_page(405))
        token = _token_params(request).get("token", "")
        with self._lock:
            if token not in self._grants:
                return Reply(200, {"error": "invalid_code"})
            self._revoke(token)
        return Reply(200, {"status": "success"})

    def _revoke(self, token: str) -> None:
        grant = self._grants.get(token)
        if grant is not None:
            grant.revoked = True
        for access in self._access.values():
            if access.refresh_token == token:
                access.expires_at = float("-inf")

    @contextlib.contextmanager
    def _token_slot(self) -> Iterator[None]:
        with self._lock:
            self._token_requests += 1
            self._token_in_flight += 1
            self._max_token_in_flight = max(
                self._max_token_in_flight, self._token_in_flight
            )
        try:
            yield
        finally:
            with self._lock:
                self._token_in_flight -= 1

    # API -----------------------------------------------------------------

    def _api(self, request: ReceivedRequest) -> Reply:
        route = _match_route(request.method, request.path)
        if isinstance(route, Reply):
            return route
        with self._api_slot() as admitted:
            if not admitted:
                reply = Reply(429, _too_many_body())
            else:
                reply = self._api_call(route, request)
        return self._with_credits(reply)

    def _api_call(self, route: _Route, request: ReceivedRequest) -> Reply:
        if self._take_down():
            return _unavailable()
        fault = self._apply_fault(route.kind)
        if fault is not None:
            return fault
        grant = self._authenticate(request.headers)
        if grant is None:
            return Reply(401, _invalid_token_body())
        with self._lock:
            if route.module is not None and route.module not in self._modules:
                message = "the module name given seems to be invalid"
                return _bad_request("INVALID_MODULE", message)
            if not _allowed(grant, _requirements(route)):
                return Reply(401, _scope_mismatch_body())
            handler = getattr(self, f"_{route.action}")
            return handler(_Call(route, request.query, request.body, grant))

    def _authenticate(self, headers: Mapping[str, str]) -> _Grant | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme != "Zoho-oauthtoken" or not token:
            return None
        with self._lock:
            access = self._access.get(token)
            if access is None or not access.valid(time.monotonic()):
                return None
            grant = self._grants.get(access.refresh_token)
            return None if grant is None or grant.revoked else grant

    def _take_down(self) -> bool:
        with self._lock:
            if self._down_remaining > 0:
                self._down_remaining -= 1
                return True
            return self._down

    def _apply_fault(self, kind: str) -> Reply | None:
        """Wait out the next fault of ``kind``; its reply, or None to go on."""
        with self._lock:
            queue = self._faults[kind]
            fault = queue.popleft() if queue else None
        if fault is None:
            return None
        self._stopping.wait(fault.delay)
        return fault.reply

    def _with_credits(self, reply: Reply) -> Reply:
        remaining = self.credits_remaining
        if remaining is None or CREDITS_HEADER in reply.headers:
            return reply
        headers = {**reply.headers, **_credits(remaining)}
        return Reply(reply.status, reply.body, headers)

    @contextlib.contextmanager
    def _api_slot(self) -> Iterator[bool]:
        with self._lock:
            self._api_in_flight += 1
            self._max_api_in_flight = max(self._max_api_in_flight, self._api_in_flight)
            cap = self.max_concurrency
            admitted = cap is None or self._api_in_flight <= cap
        try:
            yield admitted
        finally:
            with self._lock:
                self._api_in_flight -= 1

    # Records (called with the lock held) -----------------------------------

    def _get_record(self, call: _Call) -> Reply:
        record = self._record(call.module, call.record_id)
        if record is None:
            if self.missing_record_status == 204:
                return Reply(204)
            return _invalid_id(1)
        names = _fields_param(call.query)
        if isinstance(names, Reply):
            return names
        return Reply(200, {"data": [_select_fields(record, names)]})

    def _update_record(self, call: _Call) -> Reply:
        if self._record(call.module, call.record_id) is None:
            return _invalid_id(1)
        parsed = self._parse_update(call.raw_body)
        if isinstance(parsed, Reply):
            return parsed
        items, trigger = parsed
        if len(items) != 1:
            details = {"api_name": "data", "limit": 1}
            return _bad_request("INVALID_DATA", "one record per id in the URL", details)
        result = self._apply_update(call.module, call.record_id, items[0], 0, trigger)
        return _bulk_reply("data", [result], 200)

    def _update_records(self, call: _Call) -> Reply:
        parsed = self._parse_update(call.raw_body)
        if isinstance(parsed, Reply):
            return parsed
        items, trigger = parsed
        results = [
            self._update_by_body_id(call.module, item, index, trigger)
            for index, item in enumerate(items)
        ]
        return _bulk_reply("data", results, 200)

    def _parse_update(self, raw: bytes) -> tuple[list[Any], list[str] | None] | Reply:
        parsed = _write_body(raw, "data")
        if isinstance(parsed, Reply):
            return parsed
        items, body = parsed
        trigger = _trigger(body)
        if isinstance(trigger, Reply):
            return trigger
        return items, trigger

    def _update_by_body_id(
        self, module: str, item: object, index: int, trigger: list[str] | None
    ) -> JsonObject:
        path = f"$.data[{index}]"
        if not isinstance(item, dict):
            return _invalid("data", path, "jsonobject")
        record_id = item.get("id")
        if record_id is None:
            return _missing("id", f"{path}.id")
        if not isinstance(record_id, str) or self._record(module, record_id) is None:
            return _invalid("id", f"{path}.id")
        return self._apply_update(module, record_id, item, index, trigger)

    def _apply_update(
        self,
        module: str,
        record_id: str,
        item: object,
        index: int,
        trigger: list[str] | None,
    ) -> JsonObject:
        path = f"$.data[{index}]"
        if not isinstance(item, dict):
            return _invalid("data", path, "jsonobject")
        fields = {name: value for name, value in item.items() if name != "id"}
        problem = self._length_problem(module, fields, path)
        if problem is not None:
            return problem
        record = self._records[module][record_id]
        record.update(copy.deepcopy(fields))
        record["Modified_Time"] = _now()
        record["Modified_By"] = self._user_ref()
        update = RecordUpdate(module, record_id, copy.deepcopy(fields), trigger)
        self._updates.append(update)
        return _success("record updated", self._audit_details(record))

    def _length_problem(
        self, module: str, fields: JsonObject, path: str
    ) -> JsonObject | None:
        for name, value in fields.items():
            limit = self._field_limits.get((module, name))
            if limit is not None and isinstance(value, str) and len(value) > limit:
                where = f"{path}.{name}"
                return _item_error(
                    "INVALID_DATA", "invalid data", name, where, maximum_length=limit
                )
        return None

    # E-mail drafts (called with the lock held) -----------------------------

    def _list_drafts(self, call: _Call) -> Reply:
        if self._record(call.module, call.record_id) is None:
            return _invalid_id(1)
        page = _int_param(call.query, "page", 1)
        per_page = _int_param(call.query, "per_page", DRAFTS_PER_PAGE)
        if isinstance(page, Reply):
            return page
        if isinstance(per_page, Reply):
            return per_page
        per_page = min(per_page, DRAFTS_PER_PAGE)
        stored = list(self._drafts.get((call.module, call.record_id), {}).values())
        chosen = stored[(page - 1) * per_page : page * per_page]
        if not chosen:
            return Reply(204)
        info = {
            "per_page": per_page,
            "count": len(chosen),
            "page": page,
            "more_records": len(stored) > page * per_page,
        }
        return Reply(200, {"__email_drafts": copy.deepcopy(chosen), "info": info})

    def _get_draft(self, call: _Call) -> Reply:
        draft = self._draft(call)
        if isinstance(draft, Reply):
            return draft
        return Reply(200, {"__email_drafts": [copy.deepcopy(draft)]})

    def _create_drafts(self, call: _Call) -> Reply:
        record = self._record(call.module, call.record_id)
        if record is None:
            return _invalid_id(1)
        parsed = _write_body(call.raw_body, "__email_drafts")
        if isinstance(parsed, Reply):
            return parsed
        results = [
            self._create_draft(call, record, item, index)
            for index, item in enumerate(parsed[0])
        ]
        return _bulk_reply("__email_drafts", results, 201)

    def _create_draft(
        self, call: _Call, record: JsonObject, item: object, index: int
    ) -> JsonObject:
        path = f"$.__email_drafts[{index}]"
        problem = self._draft_problem(item, path, creating=True)
        if problem is not None:
            return problem
        assert isinstance(item, dict)
        draft = self._new_draft(item, record)
        self._drafts.setdefault((call.module, call.record_id), {})[draft["id"]] = draft
        return _success("email draft saved", {"id": draft["id"]})

    def _update_drafts(self, call: _Call) -> Reply:
        if self._record(call.module, call.record_id) is None:
            return _invalid_id(1)
        if call.route.draft_id is not None:
            found = self._draft(call)
            if isinstance(found, Reply):
                return found
        parsed = _write_body(call.raw_body, "__email_drafts")
        if isinstance(parsed, Reply):
            return parsed
        results = [
            self._update_draft(call, item, index)
            for index, item in enumerate(parsed[0])
        ]
        return _bulk_reply("__email_drafts", results, 200)

    def _update_draft(self, call: _Call, item: object, index: int) -> JsonObject:
        path = f"$.__email_drafts[{index}]"
        problem = self._draft_problem(item, path, creating=False)
        if problem is not None:
            return problem
        assert isinstance(item, dict)
        stored = self._drafts.get((call.module, call.record_id), {})
        draft_id = call.route.draft_id or item.get("id")
        if draft_id is None:
            return _missing("id", f"{path}.id")
        if draft_id not in stored:
            return _invalid("id", f"{path}.id")
        if "inventory_details" in item:
            return _invalid("inventory_details", f"{path}.inventory_details")
        draft = stored[draft_id]
        draft.update(
            {key: copy.deepcopy(item[key]) for key in DRAFT_KEYS if key in item}
        )
        draft["summary"] = _summary(draft["content"], draft["rich_text"])
        draft["modified_time"] = _now()
        return _success("email draft updated", {"id": draft_id})

    def _delete_draft(self, call: _Call) -> Reply:
        draft = self._draft(call)
        if isinstance(draft, Reply):
            return draft
        del self._drafts[(call.module, call.record_id)][draft["id"]]
        result = _success("email draft deleted", {"id": draft["id"]})
        return Reply(200, {"__email_drafts": [result]})

    def _draft(self, call: _Call) -> JsonObject | Reply:
        if self._record(call.module, call.record_id) is None:
            return _invalid_id(1)
        stored = self._drafts.get((call.module, call.record_id), {})
        draft = stored.get(call.route.draft_id or "")
        return _invalid_id(3) if draft is None else draft

    def _draft_problem(
        self, item: object, path: str, *, creating: bool
    ) -> JsonObject | None:
        if not isinstance(item, dict):
            return _invalid("__email_drafts", path, "jsonobject")
        for key in ("from", "rich_text") if creating else ():
            if item.get(key) is None:
                return _missing(key, f"{path}.{key}")
        problem = _draft_type_problem(item, path)
        if problem is not None:
            return problem
        sender = item.get("from")
        allowed = self.from_addresses
        if sender is not None and allowed is not None and sender not in allowed:
            return _item_error(
                "INVALID_DATA", "from address is not allowed", "from", f"{path}.from"
            )
        return None

    def _new_draft(self, item: JsonObject, record: JsonObject) -> JsonObject:
        now = _now()
        draft: JsonObject = {"id": secrets.token_hex(32)}
        draft |= {key: copy.deepcopy(item.get(key)) for key in DRAFT_KEYS}
        draft |= {
            "summary": _summary(item.get("content"), item.get("rich_text")),
            "email_opt_out": bool(record.get("Email_Opt_Out", False)),
            "created_time": now,
            "modified_time": now,
            "owner": self._user_ref(),
            "$sharing_permission": "full_access",
        }
        return draft

    # Notes (called with the lock held) -------------------------------------

    def _list_notes(self, call: _Call) -> Reply:
        if self._record(call.module, call.record_id) is None:
            return _invalid_id(1)
        chosen = [n for n in self._notes if _is_parent(n, call.module, call.record_id)]
        if not chosen:
            return Reply(204)
        info = {"per_page": 200, "count": len(chosen), "page": 1, "more_records": False}
        return Reply(200, {"data": copy.deepcopy(chosen), "info": info})

    def _create_record_notes(self, call: _Call) -> Reply:
        if self._record(call.module, call.record_id) is None:
            return _invalid_id(1)
        parsed = _write_body(call.raw_body, "data")
        if isinstance(parsed, Reply):
            return parsed
        parent = (call.module, call.record_id)
        results = [
            self._create_note(item, f"$.data[{index}]", parent)
            for index, item in enumerate(parsed[0])
        ]
        return _bulk_reply("data", results, 201)

    def _create_notes(self, call: _Call) -> Reply:
        parsed = _write_body(call.raw_body, "data")
        if isinstance(parsed, Reply):
            return parsed
        parents = [
            _note_parent(item, f"$.data[{index}]") if isinstance(item, dict) else {}
            for index, item in enumerate(parsed[0])
        ]
        modules = [parent[0] for parent in parents if isinstance(parent, tuple)]
        if not _allowed(call.grant, [(module, "*") for module in modules]):
            return Reply(401, _scope_mismatch_body())
        results = [
            self._create_note(item, f"$.data[{index}]", None)
            for index, item in enumerate(parsed[0])
        ]
        return _bulk_reply("data", results, 201)

    def _create_note(
        self, item: object, path: str, parent: tuple[str, str] | None
    ) -> JsonObject:
        problem = _note_problem(item, path)
        if problem is not None:
            return problem
        assert isinstance(item, dict)
        if parent is None:
            found = _note_parent(item, path)
            if isinstance(found, dict):
                return found
            parent = found
        if self._record(*parent) is None:
            where = f"{path}.Parent_Id"
            return _item_error(
                "INVALID_DATA",
                "the related id given seems to be invalid",
                "Parent_Id",
                where,
            )
        note = self._new_note(item, *parent)
        self._notes.append(note)
        return _success("record added", self._audit_details(note))

    def _new_note(self, item: JsonObject, module: str, record_id: str) -> JsonObject:
        now, user = _now(), self._user_ref()
        return {
            "id": self._new_id(),
            "Note_Title": item.get("Note_Title"),
            "Note_Content": item["Note_Content"],
            "Parent_Id": {"module": {"api_name": module}, "id": record_id},
            "Owner": user,
            "Created_Time": now,
            "Created_By": user,
            "Modified_Time": now,
            "Modified_By": user,
        }

    # Shared helpers ----------------------------------------------------------

    def _record(self, module: str, record_id: str) -> JsonObject | None:
        return self._records.get(module, {}).get(record_id)

    def _new_id(self) -> str:
        with self._lock:
            number = self._next_number
            self._next_number += 1
        return f"{ID_PREFIX}{number:012d}"

    def _user_ref(self) -> dict[str, str]:
        return {"id": self.user["id"], "name": self.user["name"]}

    def _audit_details(self, item: JsonObject) -> JsonObject:
        return {
            "Modified_Time": item.get("Modified_Time"),
            "Modified_By": item.get("Modified_By"),
            "Created_Time": item.get("Created_Time"),
            "id": item["id"],
            "Created_By": item.get("Created_By"),
        }

    def _fill_defaults(self, module: str, record: JsonObject) -> None:
        now, user = _now(), self._user_ref()
        record.setdefault("Owner", {**user, "email": self.user.get("email")})
        for key, value in (("Created_Time", now), ("Modified_Time", now)):
            record.setdefault(key, value)
        record.setdefault("Created_By", user)
        record.setdefault("Modified_By", user)
        if module in PERSON_MODULES and "Full_Name" not in record:
            names = (record.get("First_Name"), record.get("Last_Name"))
            record["Full_Name"] = " ".join(name for name in names if name) or None


def _allowed(grant: _Grant, needed: Iterable[tuple[str, str]]) -> bool:
    return all(_has_scope(grant.scopes, module, op) for module, op in needed)


def _is_parent(note: JsonObject, module: str | None, record_id: str | None) -> bool:
    parent = note["Parent_Id"]
    same_module = module in (None, parent["module"]["api_name"])
    return same_module and record_id in (None, parent["id"])


def _token_params(request: ReceivedRequest) -> dict[str, str]:
    """Token-endpoint parameters: the query string, overridden by a form body."""
    params = {name: values[0] for name, values in request.query.items()}
    content_type = request.headers.get("content-type", "")
    if "x-www-form-urlencoded" in content_type:
        params.update(request.form())
    return params


# --------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------


class _ZohoHandler(_serving.QuietHandler):
    """Reads one HTTP request, asks the fake for the answer and writes it."""

    server: _serving.QuietThreadingServer[FakeZoho]

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._handle("PUT")

    def do_DELETE(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._handle("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._handle("PATCH")

    def version_string(self) -> str:
        """Name the server the way Zoho's front end does."""
        return "ZGS"

    def _handle(self, method: str) -> None:
        headers = self.lower_headers()
        reply = self.server.fake.answer(method, self.path, headers, self.read_body())
        self._write(reply)

    def _write(self, reply: Reply) -> None:
        body, content_type = _encode(reply.body)
        try:
            self.send_response(reply.status)
            if content_type is not None:
                self.send_header("Content-Type", content_type)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.status != 204:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError:
            self.close_connection = True


def _encode(body: JsonObject | str | None) -> tuple[bytes, str | None]:
    if body is None:
        return b"", None
    if isinstance(body, str):
        return body.encode(), "text/html;charset=UTF-8"
    return json.dumps(body).encode(), JSON_TYPE


# --------------------------------------------------------------------------
# Standalone use
# --------------------------------------------------------------------------


def seed_sample_records(fake: FakeZoho) -> dict[str, str]:
    """Add one sample Contact and one Lead; returns their ids by module."""
    contact = fake.add_record(
        "Contacts",
        {
            "First_Name": "Ana",
            "Last_Name": "Silva",
            "Email": "ana.silva@example.org",
            "Mailing_Country": "Portugal",
            "Title": "Registered Nurse",
            "Email_Opt_Out": False,
        },
    )
    lead = fake.add_record(
        "Leads",
        {
            "First_Name": "Jide",
            "Last_Name": "Okafor",
            "Email": "j.okafor@example.com",
            "Country": "Nigeria",
            "Designation": "Electrician",
            "Company": "Okafor Electrical",
        },
    )
    return {"Contacts": contact, "Leads": lead}


def main(argv: list[str] | None = None) -> None:
    """Serve the fake on a fixed port until interrupted (for manual runs)."""
    parser = argparse.ArgumentParser(description="Serve a fake Zoho CRM locally.")
    parser.add_argument("--port", type=int, default=8082)
    options = parser.parse_args(argv)
    fake = FakeZoho(port=options.port)
    _serving.serve_until_interrupted(fake, _seed_and_describe)


def _seed_and_describe(fake: FakeZoho) -> Iterator[str]:
    """Seed the sample records, then name what a client needs to reach them."""
    samples = seed_sample_records(fake)
    yield f"Fake Zoho CRM (v8) at {fake.api_domain}"
    yield f"accounts_url: {fake.accounts_url}"
    yield f"client_id: {fake.client_id}"
    yield f"client_secret: {fake.client_secret}"
    yield f"refresh_token: {fake.refresh_token}"
    for module, record_id in samples.items():
        yield f"sample {module} record id: {record_id}"


if __name__ == "__main__":
    main()
