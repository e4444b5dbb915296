"""The embedded job store: one SQLite file in WAL mode, safe for many writers.

Each job is kept whole as JSON, beside the few columns that queries filter and
sort on. Every write runs in an immediate transaction, so two processes sharing
the file never claim the same job.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

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

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    country TEXT NOT NULL,
    occupation TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    available_ms INTEGER NOT NULL,
    lease_expires_ms INTEGER,
    expires_ms INTEGER,
    idempotency_key TEXT UNIQUE,
    submitted_by TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status_created ON jobs (status, created_ms);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_ms);
CREATE INDEX IF NOT EXISTS jobs_available ON jobs (status, available_ms);
CREATE INDEX IF NOT EXISTS jobs_expires ON jobs (expires_ms);
"""

_COLUMNS = (
    "job_id, status, source, country, occupation, created_ms, available_ms,"
    " lease_expires_ms, expires_ms, idempotency_key, submitted_by, doc"
)


def _millis(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def _row_values(job: Job) -> tuple[Any, ...]:
    return (
        job.job_id,
        job.status.value,
        job.source,
        job.input.country,
        job.input.occupation,
        _millis(job.created_at),
        _millis(job.available_at),
        _millis(job.lease_expires_at),
        _millis(job.expires_at),
        job.idempotency_key,
        job.submitted_by,
        job.model_dump_json(),
    )


class SQLiteJobStore:
    """`JobStore` on a local SQLite file (the default when no MongoDB is set)."""

    def __init__(self, path: Path | str, busy_timeout_seconds: float = 10.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout_seconds
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def open(self) -> None:
        await asyncio.to_thread(self._open_sync)

    def _open_sync(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            _add_missing_columns(conn)
        except (OSError, sqlite3.Error) as exc:
            msg = f"cannot open the job database at {str(self.path)!r}: {exc}"
            raise StorageError(
                msg, code="storage_unavailable", retryable=False
            ) from exc
        self._conn = conn

    async def close(self) -> None:
        if self._conn is not None:
            await asyncio.to_thread(self._conn.close)
            self._conn = None

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone())

    async def create(self, job: Job) -> tuple[Job, bool]:
        return await self._run(lambda conn: self._create(conn, job), write=True)

    async def get(self, job_id: str) -> Job | None:
        return await self._run(lambda conn: self._get(conn, job_id))

    async def get_by_key(self, idempotency_key: str) -> Job | None:
        def select(conn: sqlite3.Connection) -> Job | None:
            sql = "SELECT doc FROM jobs WHERE idempotency_key = ?"
            row = conn.execute(sql, (idempotency_key,)).fetchone()
            return None if row is None else Job.model_validate_json(row[0])

        return await self._run(select)

    async def claim(
        self, owner: str, lease_seconds: float, job_id: str | None = None
    ) -> Job | None:
        def claim_one(conn: sqlite3.Connection) -> Job | None:
            job = self._find_claimable(conn, job_id)
            if job is None:
                return None

            now = utc_now()
            job.status = JobStatus.PROCESSING
            job.attempts += 1
            job.lease_owner = owner
            job.lease_expires_at = lease_deadline(now, lease_seconds)
            job.updated_at = now
            self._save(conn, job)

            return job

        return await self._run(claim_one, write=True)

    async def extend_lease(self, job_id: str, owner: str, lease_seconds: float) -> bool:
        def extend(job: Job) -> None:
            job.lease_expires_at = lease_deadline(utc_now(), lease_seconds)

        return await self._update_held(job_id, owner, extend)

    async def complete(
        self, job_id: str, owner: str, result: JobResult, ttl: timedelta
    ) -> bool:
        def finish(job: Job) -> None:
            job.status = JobStatus.COMPLETED
            job.result = result
            _mark_finished(job, ttl)

        return await self._update_held(job_id, owner, finish)

    async def fail(
        self, job_id: str, owner: str, error: str, error_code: str, ttl: timedelta
    ) -> bool:
        def finish(job: Job) -> None:
            job.status = JobStatus.FAILED
            job.error = error
            job.error_code = error_code
            _mark_finished(job, ttl)

        return await self._update_held(job_id, owner, finish)

    async def save_progress(
        self,
        job_id: str,
        owner: str,
        *,
        job_input: JobInput | None = None,
        result: JobResult | None = None,
        zoho: ZohoPush | None = None,
    ) -> bool:
        def record(job: Job) -> None:
            job.input = job_input or job.input
            job.result = result or job.result
            job.zoho = zoho or job.zoho

        return await self._update_held(job_id, owner, record)

    async def release(
        self,
        job_id: str,
        owner: str,
        *,
        delay_seconds: float = 0,
        reason: str | None = None,
        refund_attempt: bool = False,
    ) -> bool:
        def requeue(job: Job) -> None:
            job.status = JobStatus.QUEUED
            job.available_at = utc_now() + timedelta(seconds=delay_seconds)
            job.lease_owner = None
            job.lease_expires_at = None
            if refund_attempt:
                job.attempts = max(job.attempts - 1, 0)
            if reason:
                job.retry_reasons.append(reason)

        return await self._update_held(job_id, owner, requeue)

    async def list_jobs(self, where: JobFilter, page: int, limit: int) -> JobPage:
        clause, params = _where_clause(where)

        def select(conn: sqlite3.Connection) -> JobPage:
            total = conn.execute(f"SELECT COUNT(*) FROM jobs{clause}", params)
            rows = conn.execute(
                f"SELECT doc FROM jobs{clause} ORDER BY created_ms DESC, job_id DESC"
                " LIMIT ? OFFSET ?",
                (*params, limit, (page - 1) * limit),
            )
            jobs = [Job.model_validate_json(doc) for (doc,) in rows]

            return JobPage(jobs=jobs, total=total.fetchone()[0])

        return await self._run(select)

    async def count_by_status(self) -> dict[JobStatus, int]:
        def count(conn: sqlite3.Connection) -> dict[JobStatus, int]:
            rows = conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status")
            counts = {status: 0 for status in JobStatus}
            counts.update({JobStatus(status): n for status, n in rows})

            return counts

        return await self._run(count)

    async def delete(self, job_id: str) -> bool:
        def remove(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))
            return cursor.rowcount > 0

        return await self._run(remove, write=True)

    async def requeue_failed(self, job_id: str) -> Job | None:
        def requeue(conn: sqlite3.Connection) -> Job | None:
            job = self._get(conn, job_id)
            if job is None or job.status is not JobStatus.FAILED:
                return None

            now = utc_now()
            job = job.model_copy(update=_requeued_fields(job, now))
            self._save(conn, job)
            return job

        return await self._run(requeue, write=True)

    async def delete_expired(self) -> int:
        now_ms = _millis(utc_now())

        def delete(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "DELETE FROM jobs WHERE expires_ms IS NOT NULL AND expires_ms <= ?",
                (now_ms,),
            )
            return cursor.rowcount

        return await self._run(delete, write=True)

    # -- internals -----------------------------------------------------------

    async def _update_held(
        self, job_id: str, owner: str, change: Callable[[Job], None]
    ) -> bool:
        def update(conn: sqlite3.Connection) -> bool:
            job = self._get(conn, job_id)
            if job is None or not _is_held_by(job, owner):
                return False

            change(job)
            job.updated_at = utc_now()
            if job.status is not JobStatus.PROCESSING:
                job.lease_owner = None
                job.lease_expires_at = None
            self._save(conn, job)

            return True

        return await self._run(update, write=True)

    async def _run(
        self, work: Callable[[sqlite3.Connection], T], *, write: bool = False
    ) -> T:
        return await asyncio.to_thread(self._run_sync, work, write)

    def _run_sync(self, work: Callable[[sqlite3.Connection], T], write: bool) -> T:
        with self._lock, self._transaction(write) as conn:
            return work(conn)

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        if conn is None:
            raise StorageError("the job store is not open", code="storage_unavailable")

        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            msg = f"the job database failed: {exc}"
            raise StorageError(msg, code="storage_unavailable") from exc
        except BaseException:
            _rollback(conn)
            raise

    def _create(self, conn: sqlite3.Connection, job: Job) -> tuple[Job, bool]:
        if job.idempotency_key is not None:
            row = conn.execute(
                "SELECT doc FROM jobs WHERE idempotency_key = ?",
                (job.idempotency_key,),
            ).fetchone()
            if row is not None:
                return Job.model_validate_json(row[0]), False

        conn.execute(
            f"INSERT INTO jobs ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            _row_values(job),
        )
        return job, True

    def _get(self, conn: sqlite3.Connection, job_id: str) -> Job | None:
        row = conn.execute("SELECT doc FROM jobs WHERE job_id = ?", (job_id,))
        found = row.fetchone()

        return None if found is None else Job.model_validate_json(found[0])

    def _find_claimable(
        self, conn: sqlite3.Connection, job_id: str | None
    ) -> Job | None:
        now_ms = _millis(utc_now())
        expired_lease = "(status = 'processing' AND lease_expires_ms <= ?)"
        if job_id is not None:
            sql = (
                "SELECT doc FROM jobs WHERE job_id = ?"
                f" AND (status = 'queued' OR {expired_lease})"
            )
            row = conn.execute(sql, (job_id, now_ms)).fetchone()
        else:
            sql = (
                "SELECT doc FROM jobs WHERE (status = 'queued' AND available_ms <= ?)"
                f" OR {expired_lease} ORDER BY available_ms LIMIT 1"
            )
            row = conn.execute(sql, (now_ms, now_ms)).fetchone()

        return None if row is None else Job.model_validate_json(row[0])

    def _save(self, conn: sqlite3.Connection, job: Job) -> None:
        values = _row_values(job)
        conn.execute(
            f"REPLACE INTO jobs ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", values
        )


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Bring a file made by an earlier version up to the current columns."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
    if "submitted_by" not in present:
        conn.execute("ALTER TABLE jobs ADD COLUMN submitted_by TEXT")
    conn.execute(
        "CREATE INDEX IF NOT EXISTS jobs_submitter ON jobs (submitted_by, status)"
    )


def _requeued_fields(job: Job, now: datetime) -> dict[str, Any]:
    return {
        "status": JobStatus.QUEUED,
        "available_at": now,
        "updated_at": now,
        "retry_base": job.attempts,
        "error": None,
        "error_code": None,
        "completed_at": None,
        "expires_at": None,
    }


def _is_held_by(job: Job, owner: str) -> bool:
    return job.status is JobStatus.PROCESSING and job.lease_owner == owner


def _mark_finished(job: Job, ttl: timedelta) -> None:
    now = utc_now()
    job.completed_at = now
    job.expires_at = now + ttl


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _where_clause(where: JobFilter) -> tuple[str, tuple[Any, ...]]:
    conditions: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("status", where.status.value if where.status else None),
        ("country", where.country),
        ("occupation", where.occupation),
        ("source", where.source),
        ("submitted_by", where.submitted_by),
    ):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    if where.created_from is not None:
        conditions.append("created_ms >= ?")
        params.append(_millis(where.created_from))
    if where.created_to is not None:
        conditions.append("created_ms <= ?")
        params.append(_millis(where.created_to))

    clause = " WHERE " + " AND ".join(conditions) if conditions else ""
    return clause, tuple(params)
