"""The job record and the `JobStore` protocol every storage backend implements."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, Field

from integration.errors import ServiceError

_BASE36 = string.digits + string.ascii_lowercase
JOB_ID_RANDOM_LENGTH = 16


class StorageError(ServiceError):
    """The job store could not be read or written; `retryable` says if a retry helps."""

    retryable = True


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


FINISHED = (JobStatus.COMPLETED, JobStatus.FAILED)


class JobInput(BaseModel):
    """What the caller asked for; kept exactly as received (after trimming)."""

    country: str
    occupation: str
    client_name: str
    language: str = "en"
    tone: str = "warm"
    client_email: str | None = None
    zoho_module: str | None = None
    zoho_record_id: str | None = None


class JobResult(BaseModel):
    """The finished e-mail and how it was made."""

    subject: str
    content: str
    content_html: str
    provider: str
    model: str
    usage: dict[str, int] | None = None
    processing_time_ms: int
    retries: list[str] = Field(default_factory=list)


class PushStatus(StrEnum):
    PENDING = "pending"
    PUSHING = "pushing"
    RETRYING = "retrying"
    CREATED = "created"
    FAILED = "failed"


class ZohoPush(BaseModel):
    """Where the e-mail goes in Zoho CRM, and how far the draft has got."""

    module: str
    record_id: str
    status: PushStatus = PushStatus.PENDING
    draft_id: str | None = None
    recipient: str | None = None
    error: str | None = None
    attempts: int = 0


class Job(BaseModel):
    """One request for an e-mail, from acceptance to its result or failure."""

    job_id: str
    status: JobStatus = JobStatus.QUEUED
    source: str = "api"
    input: JobInput
    created_at: datetime
    updated_at: datetime
    available_at: datetime
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    attempts: int = 0
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    result: JobResult | None = None
    error: str | None = None
    error_code: str | None = None
    retry_reasons: list[str] = Field(default_factory=list)
    zoho: ZohoPush | None = None
    submitted_by: str | None = None
    # Attempts made before an operator's retry; the budget counts from here.
    retry_base: int = 0

    @property
    def attempts_this_run(self) -> int:
        return self.attempts - self.retry_base

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class JobFilter:
    """Criteria for listing jobs; `None` means "any"."""

    status: JobStatus | None = None
    country: str | None = None
    occupation: str | None = None
    source: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    submitted_by: str | None = None


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    total: int


def utc_now() -> datetime:
    """The current time in UTC, truncated to milliseconds as every store keeps it."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_job_id(now: datetime) -> str:
    """A job id, `job_<creation ms>_<random base-36>`, unguessable by design."""
    millis = int(now.timestamp() * 1000)
    suffix = "".join(secrets.choice(_BASE36) for _ in range(JOB_ID_RANDOM_LENGTH))

    return f"job_{millis}_{suffix}"


def new_job(
    job_input: JobInput,
    *,
    source: str = "api",
    submitted_by: str | None = None,
    zoho: ZohoPush | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    available_in: float = 0,
) -> Job:
    """A fresh queued job, ready to be handed to `JobStore.create`.

    `available_in` holds it back from the local worker for that many seconds,
    while another dispatcher (QStash) is expected to run it.
    """
    now = utc_now()

    return Job(
        job_id=new_job_id(now),
        source=source,
        input=job_input,
        created_at=now,
        updated_at=now,
        available_at=now + timedelta(seconds=available_in),
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        zoho=zoho,
        submitted_by=submitted_by,
    )


def lease_deadline(now: datetime, lease_seconds: float) -> datetime:
    return now + timedelta(seconds=lease_seconds)


class JobStore(Protocol):
    """Where jobs live. Every method is safe to call from many workers at once.

    Writes that depend on holding a job (`complete`, `fail`, `release`,
    `extend_lease`) take the lease owner and do nothing, returning `False`, when
    the lease has passed to someone else: that is what keeps one result per job.
    """

    async def open(self) -> None:
        """Create tables or indexes; safe to call on every start-up."""
        ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise `StorageError` unless the store answers."""
        ...

    async def create(self, job: Job) -> tuple[Job, bool]:
        """Insert `job`; with an idempotency key already used, return that job.

        Returns the stored job and whether it was newly created.
        """
        ...

    async def get(self, job_id: str) -> Job | None: ...

    async def get_by_key(self, idempotency_key: str) -> Job | None:
        """The job created with this idempotency key, if it is still kept."""
        ...

    async def claim(
        self, owner: str, lease_seconds: float, job_id: str | None = None
    ) -> Job | None:
        """Take a job that is queued and due, or whose lease has run out.

        Without `job_id`, the job due longest. With it, only that job, and a
        queued one even before its due time: whoever names the job (a QStash
        delivery) decides when it runs. The claimed job is `processing`, leased
        to `owner`, with `attempts` raised by one.
        """
        ...

    async def extend_lease(
        self, job_id: str, owner: str, lease_seconds: float
    ) -> bool: ...

    async def complete(
        self, job_id: str, owner: str, result: JobResult, ttl: timedelta
    ) -> bool: ...

    async def fail(
        self, job_id: str, owner: str, error: str, error_code: str, ttl: timedelta
    ) -> bool: ...

    async def save_progress(
        self,
        job_id: str,
        owner: str,
        *,
        job_input: JobInput | None = None,
        result: JobResult | None = None,
        zoho: ZohoPush | None = None,
    ) -> bool:
        """Record work done so far on a held job, leaving it held."""
        ...

    async def release(
        self,
        job_id: str,
        owner: str,
        *,
        delay_seconds: float = 0,
        reason: str | None = None,
        refund_attempt: bool = False,
    ) -> bool:
        """Give a held job back to the queue, due again after `delay_seconds`."""
        ...

    async def list_jobs(self, where: JobFilter, page: int, limit: int) -> JobPage:
        """Jobs matching `where`, newest first; `page` counts from 1."""
        ...

    async def count_by_status(self) -> dict[JobStatus, int]: ...

    async def delete(self, job_id: str) -> bool:
        """Remove a job whatever its state; False when there was none."""
        ...

    async def requeue_failed(self, job_id: str) -> Job | None:
        """Put a failed job back in the queue under its id, with a fresh budget.

        Returns the requeued job, or None when the job is not `failed`.
        """
        ...

    async def delete_expired(self) -> int:
        """Remove finished jobs past their expiry; returns how many went."""
        ...
