"""A faithful, stdlib-only fake of the OpenAI Chat Completions API for tests.

`FakeOpenAI` serves the OpenAI wire format on ``127.0.0.1`` (a free port by
default) from a daemon thread, so the real ``openai`` SDK can be pointed at it
through ``base_url`` and exercised end to end: URL building, the bearer key,
JSON decoding, retries, ``retry-after-ms``, timeouts and error mapping.

Routes: ``POST /v1/chat/completions``, ``GET /v1/models`` and
``GET /v1/models/{id}``. Anything else gets the real API's "Invalid URL" 404.

By default a chat completion answers with ``reply(payload)``, which writes a
plausible job-opportunity e-mail as ``{"subject": ..., "body": ...}`` from the
``<client_data>`` JSON in the user message. Tests can queue `Scripted` answers
(see the helper constructors such as `rate_limited` or `slow`) that the next
chat completion requests consume in order, one per request.

Run it standalone with ``python -m tests.fakes.openai_server --port 8099``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from tests.fakes import _serving

JsonObject = dict[str, Any]
ReplyFunction = Callable[[JsonObject], str]

HOST = _serving.HOST
DEFAULT_API_KEY = "test-key"
OPENAI_VERSION = "2020-10-01"
SYSTEM_FINGERPRINT = "fp_fakeopenai"
MODEL_IDS = ("gpt-4.1-mini", "gpt-4o-mini")
MODEL_CREATED = 1744318173
REQUEST_LIMIT = 5000
TOKEN_LIMIT = 160000

CLIENT_DATA_PATTERN = re.compile(r"<client_data>(.*?)</client_data>", re.DOTALL)
NO_HEADERS: Mapping[str, str] = MappingProxyType({})

BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)
TRUNCATED_CONTENT = (
    '{"subject": "Opportunities for your next step", "body": "Employers are '
    "looking for people with your experience, and we would like to"
)
NOT_JSON_CONTENT = (
    "Sure! Here is a short e-mail about job opportunities for your client. "
    "Let me know if you would like a different tone or a shorter version."
)


# --------------------------------------------------------------------------
# Scripted answers
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Scripted:
    """One canned answer for the next chat completion request.

    ``body`` decides what is sent: a dict goes out as JSON, a str as an HTML
    page (what a proxy in front of the API returns), and None means a normal
    ChatCompletion built from the request, with ``content`` as the message
    (or the fake's ``reply`` when ``content`` is None) and ``finish_reason``.
    ``headers`` are added to, and override, the usual response headers. The
    answer is sent after ``delay_seconds``.
    """

    status: int = 200
    body: JsonObject | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    content: str | None = None
    finish_reason: str = "stop"


def error_body(
    message: str, error_type: str, code: str | None, param: str | None = None
) -> JsonObject:
    """Return the ``{"error": {...}}`` envelope every OpenAI error uses."""
    return {
        "error": {"message": message, "type": error_type, "param": param, "code": code}
    }


def rate_limited(retry_after_ms: int = 10) -> Scripted:
    """A 429 ``rate_limit_exceeded`` asking the client to wait ``retry_after_ms``."""
    message = (
        "Rate limit reached for gpt-4.1-mini in organization org-fake on requests "
        f"per min (RPM): Limit {REQUEST_LIMIT}, Used {REQUEST_LIMIT}, Requested 1. "
        f"Please try again in {retry_after_ms}ms."
    )
    headers = {
        "retry-after-ms": str(retry_after_ms),
        "retry-after": str(max(1, math.ceil(retry_after_ms / 1000))),
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": f"{retry_after_ms}ms",
    }
    body = error_body(message, "requests", "rate_limit_exceeded")
    return Scripted(429, body, headers)


def insufficient_quota() -> Scripted:
    """A 429 ``insufficient_quota``: a billing problem no retry will fix."""
    message = (
        "You exceeded your current quota, please check your plan and billing "
        "details. For more information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors."
    )
    return Scripted(
        429, error_body(message, "insufficient_quota", "insufficient_quota")
    )


def server_error(status: int = 500, *, retry_after_ms: int | None = None) -> Scripted:
    """A JSON ``server_error``; ``retry_after_ms`` shortens the SDK's backoff."""
    message = "The server had an error while processing your request. Sorry about that!"
    return Scripted(
        status, error_body(message, "server_error", None), _retry_after(retry_after_ms)
    )


def bad_gateway_html(*, retry_after_ms: int | None = None) -> Scripted:
    """A 502 whose body is a proxy's HTML page instead of JSON."""
    return Scripted(502, BAD_GATEWAY_HTML, _retry_after(retry_after_ms))


def unauthorized() -> Scripted:
    """A 401 ``invalid_api_key``, whatever key the request carried."""
    return Scripted(401, _invalid_key_body(_bad_key_message("sk-fake")))


def bad_request(
    code: str = "invalid_value", param: str | None = None, message: str | None = None
) -> Scripted:
    """A 400 ``invalid_request_error`` with ``code`` and ``param``."""
    return Scripted(400, _bad_request_body(code, param, message))


def model_not_found(model: str = "gpt-unknown") -> Scripted:
    """A 404 ``model_not_found`` for ``model``."""
    return Scripted(404, _model_not_found_body(model))


def slow(delay_seconds: float) -> Scripted:
    """A normal successful completion sent only after ``delay_seconds``."""
    return Scripted(200, delay_seconds=delay_seconds)


def truncated(content: str = TRUNCATED_CONTENT) -> Scripted:
    """A 200 cut off by the token cap: ``finish_reason`` is ``length``."""
    return Scripted(200, content=content, finish_reason="length")


def not_json() -> Scripted:
    """A 200 whose message is chatty prose with no JSON object in it."""
    return reply_with(NOT_JSON_CONTENT)


def reply_with(content: str) -> Scripted:
    """A 200 whose message content is exactly ``content``."""
    return Scripted(200, content=content)


def _retry_after(retry_after_ms: int | None) -> dict[str, str]:
    return {} if retry_after_ms is None else {"retry-after-ms": str(retry_after_ms)}


def _invalid_key_body(message: str) -> JsonObject:
    return error_body(message, "invalid_request_error", "invalid_api_key")


def _bad_key_message(key: str) -> str:
    masked = f"{key[:3]}{'*' * (len(key) - 7)}{key[-4:]}" if len(key) > 10 else "****"
    return (
        f"Incorrect API key provided: {masked}. You can find your API key at "
        "https://platform.openai.com/account/api-keys."
    )


def _bad_request_body(code: str, param: str | None, message: str | None) -> JsonObject:
    text = message or _bad_request_message(code, param)
    return error_body(text, "invalid_request_error", code, param)


def _bad_request_message(code: str, param: str | None) -> str:
    if code == "unsupported_parameter":
        return f"Unsupported parameter: '{param}' is not supported with this model."
    if code == "missing_required_parameter":
        return f"Missing required parameter: '{param}'."
    if param is None:
        return f"Invalid request ({code})."
    return f"Invalid value for '{param}' ({code})."


def _model_not_found_body(model: str) -> JsonObject:
    message = f"The model `{model}` does not exist or you do not have access to it."
    return error_body(message, "invalid_request_error", "model_not_found")


# --------------------------------------------------------------------------
# The default reply: an e-mail written from <client_data>
# --------------------------------------------------------------------------


def default_email_reply(payload: JsonObject) -> str:
    """Write a job-opportunity e-mail as ``{"subject", "body"}`` JSON text.

    The same JSON is returned whether or not the request asked for a
    ``response_format``. The body has three plain paragraphs (about a hundred
    and forty words), no greeting, no signature and no digits of its own, and
    names the client's occupation and country exactly as given, as a model
    following the prompt would.
    """
    client = client_data(payload)
    occupation = client.get("occupation", "")
    country = client.get("country", "")
    email = {
        "subject": _email_subject(occupation, country),
        "body": "\n\n".join(_email_paragraphs(occupation, country)),
    }
    return json.dumps(email, ensure_ascii=False)


def client_data(payload: JsonObject) -> dict[str, str]:
    """Return the string fields of the last ``<client_data>`` JSON."""
    match = None
    for text in _user_texts(payload):
        match = CLIENT_DATA_PATTERN.search(text) or match
    if match is None:
        return {}
    try:
        data = json.loads(match.group(1))
    except json.JSONDecodeError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {key: value for key, value in data.items() if isinstance(value, str)}


def _user_texts(payload: JsonObject) -> Iterator[str]:
    for message in payload.get("messages") or []:
        if isinstance(message, dict) and message.get("role") == "user":
            yield _message_text(message.get("content"))


def _message_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text", "") for part in content if isinstance(part, dict)]
        return "\n".join(part for part in parts if isinstance(part, str))
    return ""


def _email_subject(occupation: str, country: str) -> str:
    if occupation:
        role = occupation[0].upper() + occupation[1:]
        return f"{role} opportunities {_in_country(country)}"
    return f"Job opportunities {_in_country(country)}"


def _email_paragraphs(occupation: str, country: str) -> list[str]:
    roles = f"{occupation} roles" if occupation else "roles like yours"
    place = _in_country(country)
    return [
        f"Employers {place} continue to look for people with solid experience in "
        f"{roles}, and your background fits the kind of positions our consultants "
        "discuss with them regularly. We thought it was worth reaching out to "
        "you personally.",
        "Before suggesting anything specific, we would like to understand what "
        "matters most to you in your next step. That might be the type of "
        "employer, the working environment, the chance to take on new "
        "responsibilities or simply a better balance between work and the rest "
        "of your life.",
        "If you are open to it, one of our consultants would be glad to arrange a "
        f"short, informal conversation about the options {place} that could suit "
        "you. There is no obligation at all, and it is a good way to get a clearer "
        "picture of what is possible before you decide anything.",
    ]


def _in_country(country: str) -> str:
    return f"in {country}" if country else "abroad"


# --------------------------------------------------------------------------
# Wire format
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedRequest:
    """A request the fake received: lower-cased headers and the parsed JSON body."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class HttpAnswer:
    """A complete HTTP response: status, body bytes and lower-cased headers."""

    status: int
    body: bytes
    headers: dict[str, str]


def chat_completion(
    payload: JsonObject, content: str, finish_reason: str
) -> JsonObject:
    """Return a ChatCompletion object answering ``payload`` with ``content``."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:29]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": payload.get("model"),
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "service_tier": "default",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": _usage(payload, content, finish_reason),
    }


def _usage(payload: JsonObject, content: str, finish_reason: str) -> JsonObject:
    prompt_text = "".join(_message_text(m.get("content")) for m in _messages(payload))
    prompt_tokens = _estimate_tokens(prompt_text) + 7
    completion_tokens = _estimate_tokens(content)
    token_cap = payload.get("max_completion_tokens") or payload.get("max_tokens")
    if finish_reason == "length" and isinstance(token_cap, int):
        completion_tokens = token_cap
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _messages(payload: JsonObject) -> list[JsonObject]:
    messages = payload.get("messages")
    if not isinstance(messages, list):
        return []
    return [message for message in messages if isinstance(message, dict)]


def _estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _model_object(model_id: str) -> JsonObject:
    return {
        "id": model_id,
        "object": "model",
        "created": MODEL_CREATED,
        "owned_by": "system",
    }


def _rate_limit_headers(total_tokens: int) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(REQUEST_LIMIT),
        "x-ratelimit-limit-tokens": str(TOKEN_LIMIT),
        "x-ratelimit-remaining-requests": str(REQUEST_LIMIT - 1),
        "x-ratelimit-remaining-tokens": str(TOKEN_LIMIT - total_tokens),
        "x-ratelimit-reset-requests": "12ms",
        "x-ratelimit-reset-tokens": "9ms",
    }


def _json_answer(
    status: int, body: object, started: float, extra: Mapping[str, str] = NO_HEADERS
) -> HttpAnswer:
    raw = json.dumps(body).encode()
    elapsed_ms = int((time.monotonic() - started) * 1000)
    headers = {
        "content-type": "application/json",
        "x-request-id": f"req_{uuid.uuid4().hex}",
        "openai-version": OPENAI_VERSION,
        "openai-processing-ms": str(elapsed_ms),
        "openai-organization": "org-fake",
        **{name.lower(): value for name, value in extra.items()},
    }
    return HttpAnswer(status, raw, headers)


def _html_answer(status: int, html: str, extra: Mapping[str, str]) -> HttpAnswer:
    headers = {
        "content-type": "text/html; charset=utf-8",
        **{name.lower(): value for name, value in extra.items()},
    }
    return HttpAnswer(status, html.encode(), headers)


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


class FakeOpenAI(_serving.BackgroundServer):
    """An OpenAI-compatible HTTP server on ``127.0.0.1`` for one test or session.

    Attributes tests may change at any time:

    * ``api_key``: the only key accepted as ``Authorization: Bearer <key>``.
    * ``reply``: ``payload -> str`` producing the content of default answers.
    * ``reject_json_schema``: answer a ``json_schema`` ``response_format``
      with 400 ``unsupported_parameter`` like some compatible servers do.
    * ``require_json_word``: like OpenAI, answer a ``json_object``
      ``response_format`` with 400 unless the messages mention "json".

    ``requests`` is a snapshot of everything received so far, in order.
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        port: int = 0,
        reply: ReplyFunction = default_email_reply,
        reject_json_schema: bool = False,
        require_json_word: bool = True,
    ) -> None:
        super().__init__(_FakeOpenAIHandler, port=port, thread_name="fake-openai")
        self.api_key = api_key
        self.reply = reply
        self.reject_json_schema = reject_json_schema
        self.require_json_word = require_json_word
        self._lock = threading.Lock()
        self._received: list[ReceivedRequest] = []
        self._script: deque[Scripted] = deque()

    # -- address (start, stop and with come from BackgroundServer) ---------

    @property
    def base_url(self) -> str:
        """The URL to give the SDK, e.g. ``http://127.0.0.1:54321/v1``."""
        return f"{self._origin}/v1"

    # -- scripting and inspection -----------------------------------------

    def enqueue(self, *answers: Scripted) -> None:
        """Queue answers for the next chat completion requests, one per request."""
        with self._lock:
            self._script.extend(answers)

    @property
    def pending(self) -> int:
        """How many queued answers have not been used yet."""
        with self._lock:
            return len(self._script)

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._received)

    def reset(self) -> None:
        """Forget received requests and drop queued answers."""
        with self._lock:
            self._received.clear()
            self._script.clear()

    # -- request handling (called from server threads) ---------------------

    def answer(
        self, method: str, target: str, headers: Mapping[str, str], raw_body: bytes
    ) -> HttpAnswer:
        """Decide the HTTP answer to one request and record the request."""
        started = time.monotonic()
        path = urlsplit(target).path.rstrip("/")
        body = _parse_json(raw_body)
        self._record(ReceivedRequest(method, path, dict(headers), body))
        if not self._is_authorised(headers):
            return _json_answer(401, self._auth_error(headers), started)
        if method == "POST" and path == "/v1/chat/completions":
            return self._chat_completion(body, started)
        if method == "GET" and path == "/v1/models":
            models = [_model_object(model_id) for model_id in MODEL_IDS]
            return _json_answer(200, {"object": "list", "data": models}, started)
        if method == "GET" and path.startswith("/v1/models/"):
            return self._model(path.removeprefix("/v1/models/"), started)
        message = f"Invalid URL ({method} {path})"
        body = error_body(message, "invalid_request_error", None)
        return _json_answer(404, body, started)

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._received.append(request)

    def _next_scripted(self) -> Scripted | None:
        with self._lock:
            return self._script.popleft() if self._script else None

    def _is_authorised(self, headers: Mapping[str, str]) -> bool:
        return headers.get("authorization") == f"Bearer {self.api_key}"

    def _auth_error(self, headers: Mapping[str, str]) -> JsonObject:
        scheme, _, key = headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or not key:
            message = (
                "You didn't provide an API key. You need to provide your API key "
                "in an Authorization header using Bearer auth "
                "(i.e. Authorization: Bearer YOUR_KEY)."
            )
            return _invalid_key_body(message)
        return _invalid_key_body(_bad_key_message(key))

    def _model(self, model_id: str, started: float) -> HttpAnswer:
        if model_id in MODEL_IDS:
            return _json_answer(200, _model_object(model_id), started)
        return _json_answer(404, _model_not_found_body(model_id), started)

    def _chat_completion(self, body: object, started: float) -> HttpAnswer:
        if not isinstance(body, dict):
            return _json_answer(400, _unparseable_body_error(), started)
        scripted = self._next_scripted()
        if scripted is not None:
            return self._scripted_answer(scripted, body, started)
        problem = self._request_problem(body)
        if problem is not None:
            return _json_answer(400, problem, started)
        return self._completion_answer(body, self.reply(body), "stop", started)

    def _scripted_answer(
        self, scripted: Scripted, payload: JsonObject, started: float
    ) -> HttpAnswer:
        self._stopping.wait(scripted.delay_seconds)
        if isinstance(scripted.body, str):
            return _html_answer(scripted.status, scripted.body, scripted.headers)
        if scripted.body is not None:
            return _json_answer(
                scripted.status, scripted.body, started, scripted.headers
            )
        content = scripted.content
        if content is None:
            content = self.reply(payload)
        return self._completion_answer(
            payload, content, scripted.finish_reason, started, scripted.headers
        )

    def _completion_answer(
        self,
        payload: JsonObject,
        content: str,
        finish_reason: str,
        started: float,
        extra_headers: Mapping[str, str] = NO_HEADERS,
    ) -> HttpAnswer:
        completion = chat_completion(payload, content, finish_reason)
        total_tokens = completion["usage"]["total_tokens"]
        headers = {**_rate_limit_headers(total_tokens), **extra_headers}
        return _json_answer(200, completion, started, headers)

    def _request_problem(self, payload: JsonObject) -> JsonObject | None:
        for required in ("model", "messages"):
            if not payload.get(required):
                return _bad_request_body("missing_required_parameter", required, None)
        format_type = _response_format_type(payload)
        if format_type == "json_schema" and self.reject_json_schema:
            message = (
                "Unsupported parameter: 'response_format' of type 'json_schema' "
                "is not supported by this server."
            )
            return _bad_request_body(
                "unsupported_parameter", "response_format", message
            )
        needs_json_word = format_type == "json_object" and self.require_json_word
        if needs_json_word and not _mentions_json(payload):
            return _json_word_error()
        return None


def _parse_json(raw_body: bytes) -> Any:
    if not raw_body:
        return None
    try:
        return json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw_body.decode("utf-8", errors="replace")


def _unparseable_body_error() -> JsonObject:
    message = (
        "We could not parse the JSON body of your request. (HINT: This likely means "
        "you aren't using your HTTP library correctly. The OpenAI API expects a "
        "JSON payload, but what was sent was not valid JSON.)"
    )
    return error_body(message, "invalid_request_error", None)


def _response_format_type(payload: JsonObject) -> str | None:
    response_format = payload.get("response_format")
    if isinstance(response_format, dict):
        format_type = response_format.get("type")
        return format_type if isinstance(format_type, str) else None
    return None


def _mentions_json(payload: JsonObject) -> bool:
    texts = (_message_text(message.get("content")) for message in _messages(payload))
    return any("json" in text.lower() for text in texts)


def _json_word_error() -> JsonObject:
    message = (
        "'messages' must contain the word 'json' in some form, to use "
        "'response_format' of type 'json_object'."
    )
    return error_body(message, "invalid_request_error", None, "messages")


class _FakeOpenAIHandler(_serving.QuietHandler):
    """Reads one HTTP request, asks the fake for the answer and writes it."""

    server: _serving.QuietThreadingServer[FakeOpenAI]

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._handle("POST")

    def version_string(self) -> str:
        """Name the server the way OpenAI's edge proxy does."""
        return "cloudflare"

    def _handle(self, method: str) -> None:
        headers = self.lower_headers()
        answer = self.server.fake.answer(method, self.path, headers, self.read_body())
        self._write(answer)

    def _write(self, answer: HttpAnswer) -> None:
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except ConnectionError:
            self.close_connection = True


def main(argv: list[str] | None = None) -> None:
    """Serve the fake on a fixed port until interrupted (for manual runs)."""
    parser = argparse.ArgumentParser(description="Serve a fake OpenAI API locally.")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--reject-json-schema", action="store_true")
    options = parser.parse_args(argv)
    fake = FakeOpenAI(
        options.api_key,
        port=options.port,
        reject_json_schema=options.reject_json_schema,
    )
    _serving.serve_until_interrupted(fake, _describe)


def _describe(fake: FakeOpenAI) -> list[str]:
    return [f"Fake OpenAI at {fake.base_url} (api key {fake.api_key!r})"]


if __name__ == "__main__":
    main()
