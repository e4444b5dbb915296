"""The e-mail writer on OpenAI or any server that speaks Chat Completions."""

from __future__ import annotations

import json
from typing import Any

import openai
import stamina
from openai.types.chat import ChatCompletion

from generation.base import Email, EmailRequest
from generation.errors import ContentCheckError, GenerationError
from generation.greetings import greeting_line
from generation.prompts import build_messages

RETRY_WAIT_INITIAL = 0.5
RETRY_WAIT_MAX = 8.0
# Longer waits than this are not worth holding a worker for; the job is requeued.
MAX_RETRY_AFTER_SECONDS = 60

EMAIL_SCHEMA = {
    "type": "object",
    "properties": {
        "subject": {"type": "string", "description": "Short subject line."},
        "body": {
            "type": "string",
            "description": "2 or 3 paragraphs separated by one blank line.",
        },
    },
    "required": ["subject", "body"],
    "additionalProperties": False,
}

# Servers that reject a structured-output mode get the next one, in this order.
RESPONSE_FORMATS: tuple[dict[str, Any] | None, ...] = (
    {
        "type": "json_schema",
        "json_schema": {"name": "client_email", "strict": True, "schema": EMAIL_SCHEMA},
    },
    {"type": "json_object"},
    None,
)


class OpenAIWriter:
    """Writes e-mails through `AsyncOpenAI` and Chat Completions."""

    provider = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_seconds: float = 45,
        max_retries: int = 2,
        max_output_tokens: int = 700,
        token_parameter: str = "max_completion_tokens",
        temperature: float | None = None,
    ) -> None:
        self.model = model
        # The SDK would retry an exhausted quota (a 429) like a rate limit; our
        # own retries know the difference, so the SDK makes one try per call.
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=0
        )
        self._attempts = max_retries + 1
        self._limits: dict[str, Any] = {token_parameter: max_output_tokens}
        if temperature is not None:
            self._limits["temperature"] = temperature
        self._format_index = 0

    async def write(self, request: EmailRequest, feedback: str | None = None) -> Email:
        messages = build_messages(request, feedback)
        retried: list[str] = []
        completion = await self._complete(messages, retried)
        subject, body = _parse_reply(completion)

        greeting = greeting_line(request.language, request.tone, request.first_name)
        return Email(
            subject=subject,
            body=f"{greeting}\n\n{body}",
            provider=self.provider,
            model=completion.model or self.model,
            usage=_usage(completion),
            notes=retried,
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def _complete(
        self, messages: list[dict[str, str]], retried: list[str]
    ) -> ChatCompletion:
        """One completion, retrying passing faults with backoff or `Retry-After`.

        The code of each fault that was retried is appended to `retried`.
        """

        def retry_wait(exc: Exception) -> bool | float:
            wait = _retry_wait(exc)
            if wait is not False and isinstance(exc, GenerationError):
                retried.append(exc.code)
            return wait

        async for attempt in stamina.retry_context(
            on=retry_wait,
            attempts=self._attempts,
            timeout=None,
            wait_initial=RETRY_WAIT_INITIAL,
            wait_max=RETRY_WAIT_MAX,
        ):
            with attempt:
                return await self._complete_once(messages)
        raise AssertionError("unreachable: stamina re-raises the last error")

    async def _complete_once(self, messages: list[dict[str, str]]) -> ChatCompletion:
        while True:
            # Concurrent calls share the index; each downgrades from the one it used.
            index = self._format_index
            response_format = RESPONSE_FORMATS[index]
            extra = {"response_format": response_format} if response_format else {}
            try:
                # Limits and format vary by settings, so the call is built up.
                completion = await self._client.chat.completions.create(  # type: ignore[call-overload]
                    model=self.model,
                    messages=messages,
                    **self._limits,
                    **extra,
                )
            except openai.BadRequestError as exc:
                if not self._can_downgrade(exc, index):
                    raise _translate(exc, self.model) from exc
                self._format_index = max(self._format_index, index + 1)
                continue
            except openai.OpenAIError as exc:
                raise _translate(exc, self.model) from exc

            if not isinstance(completion, ChatCompletion):
                msg = "the model server answered with something that is not JSON"
                raise GenerationError(msg, code="llm_bad_response", retryable=True)
            return completion

    def _can_downgrade(self, exc: openai.BadRequestError, index: int) -> bool:
        about_format = exc.param == "response_format" or "response_format" in str(exc)
        return about_format and index + 1 < len(RESPONSE_FORMATS)


def _retry_wait(exc: Exception) -> bool | float:
    """Whether to retry, and for how long the server asked us to wait."""
    if not isinstance(exc, GenerationError) or not exc.retryable:
        return False
    return exc.retry_after if exc.retry_after is not None else True


def _retry_after(exc: openai.OpenAIError) -> float | None:
    """The server's requested wait (`retry-after-ms`, then `retry-after`), if sane."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    for header, scale in (("retry-after-ms", 1000), ("retry-after", 1)):
        try:
            seconds = float(response.headers.get(header, "")) / scale
        except ValueError:
            continue
        if 0 < seconds <= MAX_RETRY_AFTER_SECONDS:
            return seconds
    return None


def _parse_reply(completion: ChatCompletion) -> tuple[str, str]:
    if not completion.choices:
        raise ContentCheckError("the model returned no choices", code="content_empty")

    choice = completion.choices[0]
    if choice.finish_reason == "length":
        msg = "the model's reply was cut off at the output token limit"
        raise ContentCheckError(msg, code="content_truncated")
    if choice.message.refusal:
        raise ContentCheckError("the model refused to write", code="content_refused")

    return _extract_subject_and_body(choice.message.content or "")


def _extract_subject_and_body(text: str) -> tuple[str, str]:
    # Local models often wrap the object in code fences or chatter.
    start, end = text.find("{"), text.rfind("}")
    try:
        data = json.loads(text[start : end + 1]) if 0 <= start < end else None
    except json.JSONDecodeError:
        data = None

    if not isinstance(data, dict):
        msg = "the model's reply is not a JSON object with subject and body"
        raise ContentCheckError(msg, code="content_bad_json")
    subject, body = data.get("subject"), data.get("body")
    if not isinstance(subject, str) or not isinstance(body, str):
        msg = "the model's reply lacks a text subject or body"
        raise ContentCheckError(msg, code="content_bad_json")

    return subject.strip(), body.strip()


def _usage(completion: ChatCompletion) -> dict[str, int] | None:
    if completion.usage is None:
        return None
    return {
        "promptTokens": completion.usage.prompt_tokens,
        "completionTokens": completion.usage.completion_tokens,
        "totalTokens": completion.usage.total_tokens,
    }


def _translate(exc: openai.OpenAIError, model: str) -> GenerationError:
    """Say what went wrong in words an operator can act on, and if a retry helps."""
    error = _classify(exc, model)
    error.retry_after = _retry_after(exc)
    return error


def _classify(exc: openai.OpenAIError, model: str) -> GenerationError:
    if isinstance(exc, openai.APITimeoutError):
        return GenerationError(
            "the model server timed out", code="llm_timeout", retryable=True
        )
    if isinstance(exc, openai.APIConnectionError):
        msg = "the model server could not be reached; check OPENAI_BASE_URL"
        return GenerationError(msg, code="llm_unreachable", retryable=True)
    if isinstance(exc, openai.RateLimitError):
        return _translate_rate_limit(exc)
    if isinstance(exc, openai.AuthenticationError):
        msg = "the model server refused the API key; check OPENAI_API_KEY"
        return GenerationError(msg, code="llm_auth_failed")
    if isinstance(exc, openai.PermissionDeniedError):
        msg = "the API key may not use this model or region; check the account"
        return GenerationError(msg, code="llm_permission_denied")
    if isinstance(exc, openai.NotFoundError):
        msg = (
            f"the model {model!r} was not found; check OPENAI_MODEL and OPENAI_BASE_URL"
        )
        return GenerationError(msg, code="llm_model_not_found")
    if isinstance(exc, openai.APIStatusError) and _is_transient_status(exc.status_code):
        msg = f"the model server failed with HTTP {exc.status_code}"
        return GenerationError(msg, code="llm_server_error", retryable=True)
    if isinstance(exc, openai.BadRequestError):
        msg = f"the model server rejected the request: {exc.message}"
        return GenerationError(msg, code="llm_bad_request")

    return GenerationError(f"the model call failed: {exc}", code="llm_error")


def _translate_rate_limit(exc: openai.RateLimitError) -> GenerationError:
    if "insufficient_quota" in (exc.code, getattr(exc, "type", None)):
        msg = "the OpenAI account has no quota left; add credit or raise the limit"
        return GenerationError(msg, code="llm_quota_exhausted")

    msg = "the model server is rate limiting requests"
    return GenerationError(msg, code="llm_rate_limited", retryable=True)


def _is_transient_status(status: int) -> bool:
    return status in (408, 409) or status >= 500
