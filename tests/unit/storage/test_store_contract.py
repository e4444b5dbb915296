"""The contract every `JobStore` backend must keep, run against each of them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from storage.base import (
    Job,
    JobFilter,
    JobInput,
    JobResult,
    JobStatus,
    JobStore,
    ZohoPush,
    new_job,
    utc_now,
)
from tests.stores import STORE_BACKENDS, open_store

TTL = timedelta(days=7)
LEASE = 30.0


@pytest.fixture(params=STORE_BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[JobStore]:
    async with open_store(request.param, tmp_path) as backend:
        yield backend


def make_job(**input_overrides: str) -> Job:
    fields = {"country": "Canada", "occupation": "Nurse", "client_name": "Ana Silva"}
    fields.update(input_overrides)
    return new_job(JobInput(**fields))


def make_result() -> JobResult:
    return JobResult(
        subject="Nurses in Canada",
        content="Dear Ana,\n\nOne.\n\nTwo.",
        content_html="<p>Dear Ana,</p>",
        provider="offline",
        model="offline-v1",
        processing_time_ms=12,
    )


async def test_created_job_reads_back_whole(store: JobStore) -> None:
    job = make_job(client_name="Zoë Åström-Núñez")

    stored, created = await store.create(job)
    fetched = await store.get(job.job_id)

    assert created is True
    assert fetched == stored == job
    assert fetched.input.client_name == "Zoë Åström-Núñez"


async def test_unknown_job_is_none(store: JobStore) -> None:
    assert await store.get("job_1_doesnotexist") is None


async def test_idempotency_key_returns_first_job(store: JobStore) -> None:
    first = make_job()
    first.idempotency_key = "key-1"
    second = make_job(country="Germany")
    second.idempotency_key = "key-1"

    await store.create(first)
    replayed, created = await store.create(second)

    assert created is False
    assert replayed.job_id == first.job_id
    assert (await store.list_jobs(JobFilter(), 1, 10)).total == 1
    assert (await store.get_by_key("key-1")).job_id == first.job_id
    assert await store.get_by_key("key-2") is None


async def test_claim_leases_oldest_due_job(store: JobStore) -> None:
    older, newer = make_job(), make_job()
    await store.create(older)
    await store.create(newer)

    claimed = await store.claim("worker-a", LEASE)

    assert claimed is not None
    assert claimed.job_id == older.job_id
    assert claimed.status is JobStatus.PROCESSING
    assert claimed.attempts == 1
    assert claimed.lease_owner == "worker-a"
    assert (await store.get(older.job_id)).status is JobStatus.PROCESSING


async def test_leased_job_is_not_claimed_again(store: JobStore) -> None:
    job = make_job()
    await store.create(job)

    first = await store.claim("worker-a", LEASE)
    second = await store.claim("worker-b", LEASE)
    by_id = await store.claim("worker-b", LEASE, job_id=job.job_id)

    assert first is not None
    assert second is None
    assert by_id is None


async def test_expired_lease_is_claimed_again(store: JobStore) -> None:
    job = make_job()
    await store.create(job)
    await store.claim("worker-a", 0.05)
    await asyncio.sleep(0.1)

    retaken = await store.claim("worker-b", LEASE)

    assert retaken is not None
    assert retaken.attempts == 2
    assert retaken.lease_owner == "worker-b"
    assert await store.complete(job.job_id, "worker-a", make_result(), TTL) is False


async def test_extend_lease_keeps_job(store: JobStore) -> None:
    job = make_job()
    await store.create(job)
    await store.claim("worker-a", 0.2)

    extended = await store.extend_lease(job.job_id, "worker-a", LEASE)
    await asyncio.sleep(0.3)

    assert extended is True
    assert await store.claim("worker-b", LEASE) is None
    assert await store.extend_lease(job.job_id, "worker-b", LEASE) is False


async def test_claim_by_id_takes_only_that_job(store: JobStore) -> None:
    first, second = make_job(), make_job()
    await store.create(first)
    await store.create(second)

    claimed = await store.claim("worker-a", LEASE, job_id=second.job_id)

    assert claimed is not None
    assert claimed.job_id == second.job_id
    assert (await store.get(first.job_id)).status is JobStatus.QUEUED


async def test_complete_saves_result_once(store: JobStore) -> None:
    job = make_job()
    await store.create(job)
    await store.claim("worker-a", LEASE)

    saved = await store.complete(job.job_id, "worker-a", make_result(), TTL)
    again = await store.complete(job.job_id, "worker-a", make_result(), TTL)
    done = await store.get(job.job_id)

    assert (saved, again) == (True, False)
    assert done.status is JobStatus.COMPLETED
    assert done.result == make_result()
    assert done.completed_at is not None
    assert done.expires_at == done.completed_at + TTL
    assert done.lease_owner is None
    assert await store.claim("worker-b", LEASE) is None


async def test_fail_records_reason(store: JobStore) -> None:
    job = make_job()
    await store.create(job)
    await store.claim("worker-a", LEASE)

    failed = await store.fail(
        job.job_id, "worker-a", "the key was refused", "llm_auth", TTL
    )
    done = await store.get(job.job_id)

    assert failed is True
    assert done.status is JobStatus.FAILED
    assert (done.error, done.error_code) == ("the key was refused", "llm_auth")
    assert await store.fail(job.job_id, "worker-b", "x", "y", TTL) is False


async def test_release_requeues_with_delay_and_reason(store: JobStore) -> None:
    job = make_job()
    await store.create(job)
    await store.claim("worker-a", LEASE)

    released = await store.release(
        job.job_id, "worker-a", delay_seconds=0.2, reason="llm_timeout"
    )
    too_early = await store.claim("worker-b", LEASE)
    await asyncio.sleep(0.3)
    retried = await store.claim("worker-b", LEASE)

    assert released is True
    assert too_early is None
    assert retried is not None
    assert retried.attempts == 2
    assert retried.retry_reasons == ["llm_timeout"]


async def test_claim_by_id_ignores_due_time(store: JobStore) -> None:
    job = make_job()
    await store.create(job)
    await store.claim("worker-a", LEASE)
    await store.release(job.job_id, "worker-a", delay_seconds=60)

    by_anyone = await store.claim("worker-b", LEASE)
    by_id = await store.claim("worker-b", LEASE, job_id=job.job_id)

    assert by_anyone is None
    assert by_id is not None
    assert by_id.attempts == 2


async def test_release_can_refund_attempt(store: JobStore) -> None:
    job = make_job()
    await store.create(job)
    await store.claim("worker-a", LEASE)

    await store.release(job.job_id, "worker-a", refund_attempt=True)
    again = await store.claim("worker-b", LEASE)

    assert again is not None
    assert again.attempts == 1


async def test_list_filters_and_pages_newest_first(store: JobStore) -> None:
    countries = ["Canada"] * 5 + ["Germany"] * 2
    jobs = []
    for country in countries:
        occupation = "Welder" if country == "Germany" else "Nurse"
        jobs.append(make_job(country=country, occupation=occupation))
        await store.create(jobs[-1])
        await asyncio.sleep(0.003)
    await store.claim("worker-a", LEASE)

    first_page = await store.list_jobs(JobFilter(), page=1, limit=3)
    last_page = await store.list_jobs(JobFilter(), page=3, limit=3)
    germany = await store.list_jobs(JobFilter(country="Germany"), 1, 10)
    welders = await store.list_jobs(JobFilter(occupation="Welder"), 1, 10)
    processing = await store.list_jobs(JobFilter(status=JobStatus.PROCESSING), 1, 10)
    from_api = await store.list_jobs(JobFilter(source="api"), 1, 10)
    from_zoho = await store.list_jobs(JobFilter(source="zoho"), 1, 10)

    assert first_page.total == 7
    assert [j.job_id for j in first_page.jobs] == [j.job_id for j in jobs[::-1][:3]]
    assert [j.job_id for j in last_page.jobs] == [jobs[0].job_id]
    assert {j.job_id for j in germany.jobs} == {j.job_id for j in jobs[5:]}
    assert welders.total == 2
    assert [j.job_id for j in processing.jobs] == [jobs[0].job_id]
    assert (from_api.total, from_zoho.total) == (7, 0)


async def test_list_filters_by_creation_time(store: JobStore) -> None:
    early = make_job()
    await store.create(early)
    await asyncio.sleep(0.01)
    boundary = utc_now()
    await asyncio.sleep(0.01)
    late = make_job()
    await store.create(late)

    after = await store.list_jobs(JobFilter(created_from=boundary), 1, 10)
    before = await store.list_jobs(JobFilter(created_to=boundary), 1, 10)

    assert [j.job_id for j in after.jobs] == [late.job_id]
    assert [j.job_id for j in before.jobs] == [early.job_id]


async def test_count_by_status(store: JobStore) -> None:
    for _ in range(3):
        await store.create(make_job())
    claimed = await store.claim("worker-a", LEASE)
    await store.complete(claimed.job_id, "worker-a", make_result(), TTL)
    await store.claim("worker-a", LEASE)

    counts = await store.count_by_status()

    assert counts == {
        JobStatus.QUEUED: 1,
        JobStatus.PROCESSING: 1,
        JobStatus.COMPLETED: 1,
        JobStatus.FAILED: 0,
    }


async def test_expired_finished_jobs_are_deleted(store: JobStore) -> None:
    finished, waiting = make_job(), make_job()
    await store.create(finished)
    await store.create(waiting)
    await store.claim("worker-a", LEASE, job_id=finished.job_id)
    await store.complete(finished.job_id, "worker-a", make_result(), timedelta(0))

    removed = await store.delete_expired()

    # MongoDB's TTL monitor (and the double's emulation of it) may get there first.
    assert removed in (0, 1)
    assert await store.get(finished.job_id) is None
    assert (await store.get(waiting.job_id)).status is JobStatus.QUEUED


async def test_concurrent_claimers_never_share_a_job(store: JobStore) -> None:
    jobs = [make_job() for _ in range(60)]
    for job in jobs:
        await store.create(job)

    async def claim_all(owner: str) -> list[str]:
        taken = []
        while (job := await store.claim(owner, LEASE)) is not None:
            taken.append(job.job_id)
        return taken

    results = await asyncio.gather(*(claim_all(f"worker-{n}") for n in range(6)))
    claimed = [job_id for taken in results for job_id in taken]

    assert sorted(claimed) == sorted(job.job_id for job in jobs)
    assert len(set(claimed)) == len(claimed)


async def test_progress_is_saved_while_held(store: JobStore) -> None:
    job = make_job()
    await store.create(job)
    await store.claim("worker-a", LEASE)
    push = ZohoPush(module="Contacts", record_id="4876876000001234567", draft_id="ab12")
    filled = job.input.model_copy(update={"country": "Portugal"})

    saved = await store.save_progress(
        job.job_id, "worker-a", job_input=filled, result=make_result(), zoho=push
    )
    stranger = await store.save_progress(job.job_id, "worker-b", zoho=push)
    held = await store.get(job.job_id)

    assert (saved, stranger) == (True, False)
    assert held.status is JobStatus.PROCESSING
    assert held.input.country == "Portugal"
    assert held.result == make_result()
    assert held.zoho == push


async def test_delete_removes_job(store: JobStore) -> None:
    job = make_job()
    await store.create(job)

    deleted, again = await store.delete(job.job_id), await store.delete(job.job_id)

    assert (deleted, again) == (True, False)
    assert await store.get(job.job_id) is None


async def test_failed_job_is_requeued_with_fresh_budget(store: JobStore) -> None:
    job = make_job()
    await store.create(job)
    await store.claim("worker-a", LEASE)
    await store.fail(job.job_id, "worker-a", "timed out", "llm_timeout", TTL)

    requeued = await store.requeue_failed(job.job_id)
    again = await store.requeue_failed(job.job_id)
    claimed = await store.claim("worker-b", LEASE)

    assert requeued is not None and again is None
    assert requeued.status is JobStatus.QUEUED
    assert (requeued.error, requeued.error_code, requeued.expires_at) == (
        None,
        None,
        None,
    )
    assert claimed is not None and claimed.job_id == job.job_id
    assert (claimed.attempts, claimed.retry_base, claimed.attempts_this_run) == (
        2,
        1,
        1,
    )


async def test_list_filters_by_submitter(store: JobStore) -> None:
    mine, theirs = make_job(), make_job()
    mine.submitted_by, theirs.submitted_by = "key_a", "key_b"
    await store.create(mine)
    await store.create(theirs)

    page = await store.list_jobs(
        JobFilter(submitted_by="key_a", status=JobStatus.QUEUED), 1, 10
    )

    assert [job.job_id for job in page.jobs] == [mine.job_id]
