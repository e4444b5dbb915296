"""Dispatch through Upstash QStash: publish each job, verify and run deliveries.

Submitting publishes `{"jobId": ...}` to this service's own
`POST /ai/generatejobopportunities/process`. QStash delivers it (with retries) and
the handler runs the job in the request. The local worker still runs, as a
sweeper: it takes a job only when QStash has not started it within
`QSTASH_SWEEP_AFTER_SECONDS`, or when a publish failed, or when the instance
running it died. Every claim goes through the store's lease, so redelivered,
duplicated or concurrent messages never run a job twice.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import stamina
import structlog
from qstash import AsyncQStash
from qstash.errors import QStashError

from integration.errors import ServiceError
from integration.pipeline import Pipeline
from integration.worker import LocalWorker
from storage.base import Job, JobStatus, JobStore, PushStatus

log = structlog.get_logger()

PROCESS_PATH = "/ai/generatejobopportunities/process"
FAILED_PATH = "/ai/generatejobopportunities/process/failed"
SIGNATURE_LEEWAY_SECONDS = 10
NON_RETRYABLE_STATUS = 489
PUBLISH_TIMEOUT_SECONDS = 3
_STATUS_IN_MESSAGE = re.compile(r"status: (\d{3})")


class DispatchError(ServiceError):
    """Publishing to QStash failed; `retryable` says whether trying again can help."""

    code = "dispatch_failed"


class SignatureError(ServiceError):
    """A delivery's `Upstash-Signature` does not prove it came from QStash."""

    code = "bad_signature"


def verify_signature(
    signature: str | None, body: bytes, keys: list[str], url: str
) -> dict[str, Any]:
    """The claims of a valid QStash signature for exactly `body` sent to `url`.

    Tries the current key, then the next one (QStash rolls keys), with a little
    clock leeway, then checks the subject URL and the body hash. Raises
    `SignatureError` saying which check failed.
    """
    if not signature:
        raise SignatureError("the Upstash-Signature header is missing")

    problems = []
    for key in keys:
        try:
            claims = jwt.decode(
                signature,
                key,
                algorithms=["HS256"],
                issuer="Upstash",
                leeway=SIGNATURE_LEEWAY_SECONDS,
                options={"require": ["iss", "sub", "exp", "body"]},
            )
        except jwt.PyJWTError as exc:
            problems.append(type(exc).__name__)
            continue
        _check_claims(claims, body, url)
        return dict(claims)

    raise SignatureError(f"the signature is not valid ({', '.join(problems)})")


def _check_claims(claims: dict[str, Any], body: bytes, url: str) -> None:
    if claims["sub"] != url:
        raise SignatureError("the signature was made for another URL")

    digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()
    if str(claims["body"]).rstrip("=") != digest.rstrip("="):
        raise SignatureError("the body does not match the signature")


@dataclass
class DeliveryOutcome:
    """How to answer QStash: 2xx ends the message, 5xx retries, 489 gives up."""

    status_code: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class QStashDispatcher:
    """Publishes jobs to QStash and runs the deliveries it sends back."""

    client: AsyncQStash
    store: JobStore
    pipeline: Pipeline
    sweeper: LocalWorker
    base_url: str
    retries: int
    timeout_seconds: int
    sweep_after_seconds: float
    lease_seconds: float
    name: str = "qstash"

    @property
    def initial_delay(self) -> float:
        return self.sweep_after_seconds

    async def start(self) -> None:
        await self.sweeper.start()

    async def stop(self) -> None:
        await self.sweeper.stop()
        # The SDK offers no close(); its httpx client is the only resource held.
        await self.client.http._client.aclose()

    async def dispatch(self, job: Job) -> None:
        """Publish the job; if QStash cannot take it, run it here instead."""
        try:
            await self._publish(job)
        except DispatchError as exc:
            log.warning("job_dispatch_failed", job_id=job.job_id, error=exc.message)
            await self.sweeper.take(job.job_id)

    async def deliver(self, job_id: str) -> DeliveryOutcome:
        """Run one delivery of `job_id`, at most once at a time across instances."""
        job = await self.store.get(job_id)
        if job is None:
            body = {"jobId": job_id, "error": "no such job"}
            return DeliveryOutcome(NON_RETRYABLE_STATUS, body, _non_retryable())
        if job.is_finished:
            return _settled(job)

        owner = f"qstash/{uuid.uuid4().hex[:12]}"
        claimed = await self.store.claim(owner, self.lease_seconds, job_id=job_id)
        if claimed is None:
            # Another delivery or the sweeper holds it; its lease covers a crash.
            return DeliveryOutcome(200, {"jobId": job_id, "status": job.status.value})

        await self.pipeline.run(claimed, owner)
        return await self._outcome(job_id)

    async def give_up(self, job_id: str, status: int, retried: int) -> None:
        """QStash's retries ran out: fail the job unless someone is running it."""
        owner = f"qstash-failed/{uuid.uuid4().hex[:12]}"
        claimed = await self.store.claim(owner, self.lease_seconds, job_id=job_id)
        if claimed is None:
            return
        if claimed.result is not None or _waits_for_zoho(claimed):
            # Only Zoho is in the way: the local sweeper keeps trying within
            # the Zoho budget, so an outage outlasting QStash's retries heals.
            await self.store.release(job_id, owner, reason="dispatch_exhausted")
            return

        message = (
            f"the job could not be delivered: QStash gave up after {retried + 1}"
            f" attempts, the last answered HTTP {status}"
        )
        await self.pipeline.fail(
            claimed, owner, DispatchError(message, code="dispatch_exhausted")
        )

    async def _publish(self, job: Job) -> None:
        # A few quick tries, each bounded, so the caller gets its answer fast;
        # the deduplication id makes a publish that did land harmless to repeat.
        try:
            async for attempt in stamina.retry_context(
                on=_is_transient, attempts=3, wait_initial=0.1, wait_max=0.5
            ):
                with attempt:
                    async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
                        response = await self.client.message.publish_json(
                            url=self.base_url + PROCESS_PATH,
                            body={"jobId": job.job_id},
                            deduplication_id=f"genjob-{job.job_id}",
                            retries=self.retries,
                            timeout=self.timeout_seconds,
                            failure_callback=self.base_url + FAILED_PATH,
                        )
        except (QStashError, httpx.HTTPError, TimeoutError) as exc:
            raise DispatchError(f"QStash did not take the message: {exc!r}") from exc

        # Publishing to one URL answers one message (a URL group would give a list).
        published = response[0] if isinstance(response, list) else response
        log.info(
            "job_dispatched",
            job_id=job.job_id,
            message_id=published.message_id,
            deduplicated=published.deduplicated,
        )

    async def _outcome(self, job_id: str) -> DeliveryOutcome:
        job = await self.store.get(job_id)
        if job is None or job.is_finished or job.status is JobStatus.PROCESSING:
            return _settled(job) if job else DeliveryOutcome(200, {"jobId": job_id})

        # Requeued after a transient fault: ask QStash to deliver again later.
        wait = max(1, int((job.available_at - job.updated_at).total_seconds()))
        body = {"jobId": job_id, "status": job.status.value}
        return DeliveryOutcome(503, body, {"Retry-After": str(wait)})


def _waits_for_zoho(job: Job) -> bool:
    return job.zoho is not None and job.zoho.status is PushStatus.RETRYING


def _settled(job: Job) -> DeliveryOutcome:
    return DeliveryOutcome(200, {"jobId": job.job_id, "status": job.status.value})


def _non_retryable() -> dict[str, str]:
    return {"Upstash-NonRetryable-Error": "true"}


def _is_transient(exc: Exception) -> bool:
    """Network errors, 429 and 5xx from QStash can pass; other 4xx will not."""
    if isinstance(exc, httpx.TransportError | TimeoutError):
        return True
    if not isinstance(exc, QStashError):
        return False

    status = _STATUS_IN_MESSAGE.search(str(exc))
    return status is None or int(status.group(1)) >= 500


def job_id_from_delivery(body: bytes) -> str | None:
    """The `jobId` of a process delivery, or None when the body is not one."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None
    job_id = payload.get("jobId") if isinstance(payload, dict) else None

    return job_id if isinstance(job_id, str) and job_id else None


def job_id_from_failure(body: bytes) -> tuple[str | None, int, int]:
    """From a failure callback: the job id, the last HTTP status and the retry count."""
    try:
        payload = json.loads(body)
        source = base64.b64decode(payload.get("sourceBody") or "")
    except (ValueError, RecursionError, AttributeError):
        return None, 0, 0
    status = payload.get("status") if isinstance(payload.get("status"), int) else 0
    retried = payload.get("retried") if isinstance(payload.get("retried"), int) else 0

    return job_id_from_delivery(source), status, retried
