"""The REST request model and the job views, in the API's camelCase field names."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError

from generation.base import SUPPORTED_LANGUAGES, SUPPORTED_TONES
from generation.prompts import LANGUAGE_NAMES
from storage.base import Job, JobInput, JobResult, JobStatus

# Categories refused in any text field: control characters, lone surrogates
# and line or paragraph separators. Everything printable is kept as sent.
_REFUSED_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}
# Bidirectional embeddings, overrides and isolates can make text read
# differently from how it is stored, so they count as control characters.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters, numbers, punctuation and symbols: what a reader can see.
_VISIBLE_CATEGORY_CLASSES = frozenset("LNPS")
_ZOHO_MODULE = re.compile(r"[A-Za-z0-9_]+")
_ZOHO_RECORD_ID = re.compile(r"[0-9]+")

# Lower-case English names of the supported languages, to their codes.
LANGUAGE_CODES = {name.lower(): code for code, name in LANGUAGE_NAMES.items()}

Language = Literal[SUPPORTED_LANGUAGES]  # type: ignore[valid-type]
Tone = Literal[SUPPORTED_TONES]  # type: ignore[valid-type]


class _ClientFields(BaseModel):
    """Rules every client-supplied text obeys, whichever way it arrives."""

    def fingerprint(self) -> str:
        """A hash of the request's meaning, to tell a replay from a new request."""
        canonical = json.dumps(self.model_dump(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_control_characters(cls, value: Any) -> Any:
        if isinstance(value, str) and any(map(_is_control_character, value)):
            raise ValueError("must not contain control characters or line breaks")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _require_visible_characters(cls, value: Any) -> Any:
        if isinstance(value, str) and not any(map(_is_visible_character, value)):
            raise ValueError(
                "must contain a visible character (a letter, digit, punctuation"
                f" mark or symbol), got only invisible ones: {value!r}"
            )
        return value

    @field_validator("client_email", "email", check_fields=False)
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        if value is not None and not _looks_like_email(value):
            raise ValueError(
                "must be one e-mail address like name@example.com: a single @,"
                " a name before it, a dotted domain after it and no spaces"
                f" (got {value!r})"
            )
        return value

    @field_validator("zoho_module", "module", check_fields=False)
    @classmethod
    def _check_zoho_module(cls, value: str | None) -> str | None:
        if value is not None and not _ZOHO_MODULE.fullmatch(value):
            raise ValueError(
                "must be a Zoho module API name of letters, digits and"
                f" underscores, like Contacts (got {value!r})"
            )
        return value

    @field_validator("zoho_record_id", "record_id", check_fields=False)
    @classmethod
    def _check_zoho_record_id(cls, value: str | None) -> str | None:
        if value is not None and not _ZOHO_RECORD_ID.fullmatch(value):
            raise ValueError(
                f"must be a Zoho record id of digits 0-9 only (got {value!r})"
            )
        return value


class JobRequest(_ClientFields):
    """The body of `POST /ai/generatejobopportunities`."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        # Only the API's camelCase names; `client_name` is an unknown field.
        validate_by_alias=True,
        validate_by_name=False,
        str_strip_whitespace=True,
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "country": "Canada",
                    "occupation": "Software Engineer",
                    "clientName": "John Doe",
                }
            ]
        },
    )

    country: Annotated[str, Field(min_length=1, max_length=60)]
    occupation: Annotated[str, Field(min_length=1, max_length=120)]
    client_name: Annotated[str, Field(min_length=1, max_length=100)]
    language: Language = "en"
    tone: Tone = "warm"
    client_email: Annotated[str | None, Field(max_length=254)] = None
    zoho_module: Annotated[str | None, Field(min_length=1, max_length=60)] = None
    zoho_record_id: Annotated[str | None, Field(min_length=1, max_length=40)] = None

    @field_validator("client_email", "zoho_module", "zoho_record_id", mode="before")
    @classmethod
    def _blank_means_absent(cls, value: Any) -> Any:
        return _none_if_blank(value)

    @model_validator(mode="after")
    def _require_zoho_pair(self) -> JobRequest:
        if self.zoho_module is not None and self.zoho_record_id is None:
            raise _field_error("zohoRecordId", "is required when zohoModule is set")
        if self.zoho_record_id is not None and self.zoho_module is None:
            raise _field_error("zohoModule", "is required when zohoRecordId is set")
        return self

    def to_job_input(self) -> JobInput:
        return JobInput(**self.model_dump(by_alias=False))


class WebhookFields(_ClientFields):
    """What a Zoho workflow rule sent: a record, and any inputs as merge fields.

    Blank merge fields count as absent; they are read from the record later.
    """

    model_config = ConfigDict(
        str_strip_whitespace=True, extra="ignore", validate_by_name=False
    )

    module: Annotated[str, Field(min_length=1, max_length=60)] = "Contacts"
    record_id: Annotated[str, Field(alias="recordId", min_length=1, max_length=40)]
    country: Annotated[str | None, Field(max_length=60)] = None
    occupation: Annotated[str | None, Field(max_length=120)] = None
    client_name: Annotated[str | None, Field(alias="clientName", max_length=100)] = None
    email: Annotated[str | None, Field(max_length=254)] = None
    language: Language | None = None
    tone: Tone | None = None

    @field_validator("module", mode="before")
    @classmethod
    def _default_module(cls, value: Any) -> Any:
        return _none_if_blank(value) or "Contacts"

    @field_validator("language", mode="before")
    @classmethod
    def _language_code(cls, value: Any) -> Any:
        # Zoho picklists send names ("French"); codes ("fr") work too.
        value = _none_if_blank(value)
        if isinstance(value, str):
            return LANGUAGE_CODES.get(value.strip().lower(), value.strip())
        return value

    @field_validator(
        "country",
        "occupation",
        "client_name",
        "tone",
        mode="before",
    )
    @classmethod
    def _blank_means_absent(cls, value: Any) -> Any:
        return _none_if_blank(value)

    @field_validator("email", mode="before")
    @classmethod
    def _restore_plus(cls, value: Any) -> Any:
        # A `+` sent unencoded in a URL or form arrives as a space; addresses
        # never contain spaces, so this undoes it.
        if isinstance(value, str):
            return _none_if_blank(value.strip().replace(" ", "+"))
        return value


def _none_if_blank(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _is_control_character(char: str) -> bool:
    return unicodedata.category(char) in _REFUSED_CATEGORIES or char in _BIDI_CONTROLS


def _is_visible_character(char: str) -> bool:
    return unicodedata.category(char)[0] in _VISIBLE_CATEGORY_CLASSES


def _looks_like_email(value: str) -> bool:
    if value.count("@") != 1 or any(char.isspace() for char in value):
        return False
    local, _, domain = value.partition("@")
    labels = domain.split(".")
    return bool(local) and len(labels) > 1 and all(labels)


def _field_error(field: str, message: str) -> ValidationError:
    """An error pinned to one body field, for a rule that spans several fields.

    pydantic reports a plain `ValueError` from a model validator against the
    whole body; a `ValidationError` keeps its location, so the problem names
    the field.
    """
    error = PydanticCustomError("missing_together", message)
    details = InitErrorDetails(type=error, loc=(field,), input=None)
    return ValidationError.from_exception_data(JobRequest.__name__, [details])


def format_time(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and `Z`, as every API time is written."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


ESTIMATED_SECONDS = 60


def queued_view(job: Job) -> dict[str, Any]:
    """The 202 body for a newly queued (or replayed) job."""
    estimate = job.created_at + timedelta(seconds=ESTIMATED_SECONDS)
    return {
        "message": "Job queued successfully",
        "jobId": job.job_id,
        "status": job.status.value,
        "estimatedCompletion": format_time(estimate),
        "createdAt": format_time(job.created_at),
    }


def status_view(job: Job) -> dict[str, Any]:
    """The job as `GET .../status/{jobId}` shows it; fields depend on the state."""
    view: dict[str, Any] = {
        "jobId": job.job_id,
        "status": job.status.value,
        "country": job.input.country,
        "occupation": job.input.occupation,
        "clientName": job.input.client_name,
        "language": job.input.language,
        "tone": job.input.tone,
        "source": job.source,
        "createdAt": format_time(job.created_at),
        "updatedAt": format_time(job.updated_at),
        "attempts": job.attempts,
    }
    if job.status is JobStatus.COMPLETED and job.result is not None:
        view.update(_completed_fields(job, job.result))
    if job.status is JobStatus.FAILED:
        view.update(
            error=job.error,
            errorCode=job.error_code,
            completedAt=format_time(job.completed_at),
        )
    reasons = job.retry_reasons + (job.result.retries if job.result else [])
    if reasons:
        view["retryReasons"] = reasons
    if job.zoho is not None:
        view["zoho"] = {
            "module": job.zoho.module,
            "recordId": job.zoho.record_id,
            "draftId": job.zoho.draft_id,
            "status": job.zoho.status.value,
            "error": job.zoho.error,
        }

    return view


def admin_view(job: Job) -> dict[str, Any]:
    """The status view plus what operators need: lease, expiry, retry budget."""
    return {
        **status_view(job),
        "leaseOwner": job.lease_owner,
        "leaseExpiresAt": format_time(job.lease_expires_at),
        "availableAt": format_time(job.available_at),
        "expiresAt": format_time(job.expires_at),
        "retryBase": job.retry_base,
        "submittedBy": job.submitted_by,
    }


def _completed_fields(job: Job, result: JobResult) -> dict[str, Any]:
    return {
        "subject": result.subject,
        "content": result.content,
        "contentHtml": result.content_html,
        "completedAt": format_time(job.completed_at),
        "processingTime": result.processing_time_ms,
        "provider": result.provider,
        "model": result.model,
        "usage": result.usage,
    }
