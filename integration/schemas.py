"""The REST request model and the job views, in the API's camelCase field names."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from generation.base import SUPPORTED_LANGUAGES, SUPPORTED_TONES
from storage.base import Job, JobInput, JobResult, JobStatus

# Categories refused in any text field: control characters, lone surrogates
# and line or paragraph separators. Everything printable is kept as sent.
_REFUSED_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}

Language = Literal[SUPPORTED_LANGUAGES]  # type: ignore[valid-type]
Tone = Literal[SUPPORTED_TONES]  # type: ignore[valid-type]


class JobRequest(BaseModel):
    """The body of `POST /ai/generatejobopportunities`."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
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

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_control_characters(cls, value: Any) -> Any:
        if isinstance(value, str) and any(
            unicodedata.category(char) in _REFUSED_CATEGORIES for char in value
        ):
            raise ValueError("must not contain control characters or line breaks")
        return value

    @field_validator("client_email", "zoho_module", "zoho_record_id", mode="before")
    @classmethod
    def _blank_means_absent(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("client_email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        if value is not None and not _looks_like_email(value):
            raise ValueError("must be an e-mail address like name@example.com")
        return value

    def to_job_input(self) -> JobInput:
        return JobInput(**self.model_dump(by_alias=False))

    def fingerprint(self) -> str:
        """A hash of the request's meaning, to tell a replay from a new request."""
        canonical = json.dumps(self.model_dump(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _looks_like_email(value: str) -> bool:
    local, _, domain = value.rpartition("@")
    return bool(local) and "." in domain and " " not in value


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
    if job.retry_reasons:
        view["retryReasons"] = job.retry_reasons

    return view


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
