"""The production job store on MongoDB, through pymongo's native async client.

One document per job, keyed by the job id. Claims and every write that needs
the lease are single `find_one_and_update` calls, so instances sharing the
database never take the same job. Finished jobs carry a real BSON date in
`expires_at`, and a TTL index with `expireAfterSeconds: 0` removes them once
that moment passes: changing `JOB_TTL_DAYS` only changes future dates, never the
index.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.errors import (
    ConnectionFailure,
    DuplicateKeyError,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from storage.base import (
    Job,
    JobFilter,
    JobInput,
    JobPage,
    JobResult,
    JobStatus,
    StorageError,
    ZohoPush,
    lease_deadline,
    utc_now,
)

log = structlog.get_logger()

Document = dict[str, Any]

INDEXES: tuple[tuple[str, list[tuple[str, int]], dict[str, Any]], ...] = (
    (
        "idempotency_key",
        [("idempotency_key", ASCENDING)],
        {"unique": True, "sparse": True},
    ),
    ("status_created", [("status", ASCENDING), ("created_at", DESCENDING)], {}),
    ("created", [("created_at", DESCENDING)], {}),
    ("status_available", [("status", ASCENDING), ("available_at", ASCENDING)], {}),
    ("status_lease", [("status", ASCENDING), ("lease_expires_at", ASCENDING)], {}),
    ("country_created", [("input.country", ASCENDING), ("created_at", DESCENDING)], {}),
    (
        "occupation_created",
        [("input.occupation", ASCENDING), ("created_at", DESCENDING)],
        {},
    ),
    ("source_created", [("source", ASCENDING), ("created_at", DESCENDING)], {}),
    ("submitter_status", [("submitted_by", ASCENDING), ("status", ASCENDING)], {}),
    ("expires", [("expires_at", ASCENDING)], {"expireAfterSeconds": 0}),
)


class MongoJobStore:
    """`JobStore` on a MongoDB replica set or Atlas cluster."""

    def __init__(
        self,
        client: AsyncMongoClient[Document],
        database: str = "jobmail",
        collection: str = "jobs",
    ) -> None:
        self.client = client
        self.jobs = client[database][collection]
        self._indexes_ready = False

    @classmethod
    def connect(
        cls,
        uri: str,
        database: str,
        *,
        max_pool_size: int = 50,
        timeout_ms: int = 3000,
        socket_timeout_ms: int = 10_000,
    ) -> MongoJobStore:
        """A store with its own client; no I/O happens until the first call."""
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            uri,
            tz_aware=True,
            maxPoolSize=max_pool_size,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=socket_timeout_ms,
            retryWrites=True,
            appname="jobmail",
        )
        return cls(client, database)

    async def open(self) -> None:
        await self._ensure_indexes()

    async def close(self) -> None:
        await self.client.close()

    async def ping(self) -> None:
        async with _translated_errors():
            await self.client.admin.command("ping")

    async def create(self, job: Job) -> tuple[Job, bool]:
        await self._ensure_indexes()
        async with _translated_errors():
            try:
                await self.jobs.insert_one(_to_document(job))
            except DuplicateKeyError:
                existing = await self.jobs.find_one(
                    {"idempotency_key": job.idempotency_key}
                )
                if existing is None:
                    raise
                return _from_document(existing), False

        return job, True

    async def get(self, job_id: str) -> Job | None:
        async with _translated_errors():
            found = await self.jobs.find_one({"_id": job_id})

        return None if found is None else _from_document(found)

    async def get_by_key(self, idempotency_key: str) -> Job | None:
        async with _translated_errors():
            found = await self.jobs.find_one({"idempotency_key": idempotency_key})

        return None if found is None else _from_document(found)

    async def claim(
        self, owner: str, lease_seconds: float, job_id: str | None = None
    ) -> Job | None:
        now = utc_now()
        queued: Document = {"status": JobStatus.QUEUED.value}
        if job_id is None:
            queued["available_at"] = {"$lte": now}
        expired = {
            "status": JobStatus.PROCESSING.value,
            "lease_expires_at": {"$lte": now},
        }
        due: Document = {"$or": [queued, expired]}
        if job_id is not None:
            due["_id"] = job_id
        update = {
            "$set": {
                "status": JobStatus.PROCESSING.value,
                "lease_owner": owner,
                "lease_expires_at": lease_deadline(now, lease_seconds),
                "updated_at": now,
            },
            "$inc": {"attempts": 1},
        }
        async with _translated_errors():
            claimed = await self.jobs.find_one_and_update(
                due,
                update,
                sort=[("available_at", ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )

        return None if claimed is None else _from_document(claimed)

    async def extend_lease(self, job_id: str, owner: str, lease_seconds: float) -> bool:
        deadline = lease_deadline(utc_now(), lease_seconds)
        return await self._update_held(
            job_id, owner, {"$set": {"lease_expires_at": deadline}}
        )

    async def complete(
        self, job_id: str, owner: str, result: JobResult, ttl: timedelta
    ) -> bool:
        finished = _finished_fields(JobStatus.COMPLETED, ttl)
        finished["result"] = result.model_dump(mode="python")
        return await self._update_held(job_id, owner, {"$set": finished})

    async def fail(
        self, job_id: str, owner: str, error: str, error_code: str, ttl: timedelta
    ) -> bool:
        finished = _finished_fields(JobStatus.FAILED, ttl)
        finished.update(error=error, error_code=error_code)
        return await self._update_held(job_id, owner, {"$set": finished})

    async def save_progress(
        self,
        job_id: str,
        owner: str,
        *,
        job_input: JobInput | None = None,
        result: JobResult | None = None,
        zoho: ZohoPush | None = None,
    ) -> bool:
        changes = {
            name: part.model_dump(mode="python")
            for name, part in (("input", job_input), ("result", result), ("zoho", zoho))
            if part is not None
        }
        return await self._update_held(job_id, owner, {"$set": changes})

    async def release(
        self,
        job_id: str,
        owner: str,
        *,
        delay_seconds: float = 0,
        reason: str | None = None,
        refund_attempt: bool = False,
    ) -> bool:
        now = utc_now()
        update: Document = {
            "$set": {
                "status": JobStatus.QUEUED.value,
                "available_at": now + timedelta(seconds=delay_seconds),
                "lease_owner": None,
                "lease_expires_at": None,
                "updated_at": now,
            }
        }
        if refund_attempt:
            update["$inc"] = {"attempts": -1}
        if reason:
            update["$push"] = {"retry_reasons": reason}

        return await self._update_held(job_id, owner, update)

    async def list_jobs(self, where: JobFilter, page: int, limit: int) -> JobPage:
        query = _query(where)
        async with _translated_errors():
            total = await self.jobs.count_documents(query)
            cursor = (
                self.jobs.find(query)
                .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
                .skip((page - 1) * limit)
                .limit(limit)
            )
            documents = await cursor.to_list(None)

        return JobPage(jobs=[_from_document(doc) for doc in documents], total=total)

    async def count_by_status(self) -> dict[JobStatus, int]:
        # One indexed count per status; `aggregate` differs between drivers.
        async with _translated_errors():
            return {
                status: await self.jobs.count_documents({"status": status.value})
                for status in JobStatus
            }

    async def delete(self, job_id: str) -> bool:
        async with _translated_errors():
            deleted = await self.jobs.delete_one({"_id": job_id})

        return deleted.deleted_count > 0

    async def requeue_failed(self, job_id: str) -> Job | None:
        now = utc_now()
        failed = {"_id": job_id, "status": JobStatus.FAILED.value}
        reset = {
            "status": JobStatus.QUEUED.value,
            "available_at": now,
            "updated_at": now,
            "error": None,
            "error_code": None,
            "completed_at": None,
            "expires_at": None,
        }
        # The retry budget starts at the attempts made so far.
        update = [{"$set": {**reset, "retry_base": "$attempts"}}]
        async with _translated_errors():
            found = await self.jobs.find_one_and_update(
                failed, update, return_document=ReturnDocument.AFTER
            )

        return None if found is None else _from_document(found)

    async def delete_expired(self) -> int:
        # The TTL index removes expired jobs within about a minute; this makes
        # the removal immediate where callers need it (start-up, tests).
        async with _translated_errors():
            deleted = await self.jobs.delete_many({"expires_at": {"$lte": utc_now()}})

        return deleted.deleted_count

    async def _update_held(self, job_id: str, owner: str, update: Document) -> bool:
        held = {
            "_id": job_id,
            "status": JobStatus.PROCESSING.value,
            "lease_owner": owner,
        }
        update.setdefault("$set", {}).setdefault("updated_at", utc_now())
        async with _translated_errors():
            found = await self.jobs.find_one_and_update(held, update)

        return found is not None

    async def _ensure_indexes(self) -> None:
        if self._indexes_ready:
            return

        async with _translated_errors():
            for name, keys, options in INDEXES:
                await self.jobs.create_index(keys, name=name, **options)
        self._indexes_ready = True
        log.info("store_indexes_ready", indexes=len(INDEXES))


@asynccontextmanager
async def _translated_errors() -> AsyncIterator[None]:
    """Turn driver errors into `StorageError`, saying whether a retry can help."""
    try:
        yield
    except (ConnectionFailure, ServerSelectionTimeoutError) as exc:
        msg = f"MongoDB is not reachable: {type(exc).__name__}"
        raise StorageError(msg, code="storage_unavailable") from exc
    except PyMongoError as exc:
        msg = f"MongoDB refused the operation: {type(exc).__name__}"
        raise StorageError(msg, code="storage_failed", retryable=False) from exc


def _finished_fields(status: JobStatus, ttl: timedelta) -> Document:
    now = utc_now()
    return {
        "status": status.value,
        "completed_at": now,
        "expires_at": now + ttl,
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": now,
    }


def _to_document(job: Job) -> Document:
    document = job.model_dump(mode="python", exclude={"job_id"})
    document["_id"] = job.job_id
    document["status"] = job.status.value
    if job.idempotency_key is None:
        # Absent, not null: the sparse unique index only covers jobs with a key.
        del document["idempotency_key"]

    return document


def _from_document(document: Mapping[str, Any]) -> Job:
    fields = {key: _as_utc(value) for key, value in document.items() if key != "_id"}
    return Job.model_validate({**fields, "job_id": document["_id"]})


def _as_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _query(where: JobFilter) -> Document:
    query: Document = {}
    if where.status is not None:
        query["status"] = where.status.value
    if where.country is not None:
        query["input.country"] = where.country
    if where.occupation is not None:
        query["input.occupation"] = where.occupation
    if where.source is not None:
        query["source"] = where.source
    if where.submitted_by is not None:
        query["submitted_by"] = where.submitted_by

    created: Document = {}
    if where.created_from is not None:
        created["$gte"] = where.created_from
    if where.created_to is not None:
        created["$lte"] = where.created_to
    if created:
        query["created_at"] = created

    return query
