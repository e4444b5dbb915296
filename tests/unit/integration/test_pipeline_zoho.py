"""The pipeline's Zoho side on a real store and the fake Zoho server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from generation.offline import OfflineWriter
from integration.pipeline import Pipeline
from integration.push import ZohoPusher
from integration.settings import Settings
from storage.base import Job, JobInput, JobStatus, PushStatus, ZohoPush, new_job
from storage.sqlite import SQLiteJobStore
from tests.fakes.zoho_server import FakeZoho
from zoho.client import ZohoClient

CONTACT = {
    "Full_Name": "Ana Silva",
    "Email": "ana@example.org",
    "Mailing_Country": "Canada",
    "Title": "Nurse",
}


@pytest.fixture
def zoho() -> Iterator[FakeZoho]:
    with FakeZoho() as fake:
        yield fake


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteJobStore]:
    opened = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
async def pipeline(zoho: FakeZoho, store: SQLiteJobStore) -> AsyncIterator[Pipeline]:
    client = ZohoClient(
        client_id=zoho.client_id,
        client_secret=zoho.client_secret,
        refresh_token=zoho.refresh_token,
        accounts_url=zoho.accounts_url,
        retry_wait_seconds=0.01,
    )
    settings = Settings(job_retry_delay_seconds=0, zoho_push_max_attempts=3)
    pusher = ZohoPusher(
        client, sender="team@example.org", field_map=settings.zoho_field_map
    )
    yield Pipeline(store, OfflineWriter(), settings, pusher)
    await client.aclose()


async def queue_contact_job(
    store: SQLiteJobStore, zoho: FakeZoho, **inputs: str
) -> tuple[Job, str]:
    """A job tied to a new contact; inputs default to complete ones."""
    record_id = zoho.add_record("Contacts", CONTACT)
    fields = {"country": "Canada", "occupation": "Nurse", "client_name": "Ana Silva"}
    job = new_job(
        JobInput(**(fields | inputs)),
        zoho=ZohoPush(module="Contacts", record_id=record_id),
    )
    await store.create(job)
    return job, record_id


async def run_once(pipeline: Pipeline, store: SQLiteJobStore, job_id: str) -> None:
    claimed = await store.claim("worker", 30, job_id=job_id)
    assert claimed is not None
    await pipeline.run(claimed, "worker")


async def test_blank_webhook_inputs_come_from_the_record(
    pipeline: Pipeline, store: SQLiteJobStore, zoho: FakeZoho
) -> None:
    job, record_id = await queue_contact_job(
        store, zoho, country="", occupation="", client_name=""
    )

    await run_once(pipeline, store, job.job_id)
    done = await store.get(job.job_id)

    assert done.status is JobStatus.COMPLETED
    assert (done.input.country, done.input.client_name) == ("Canada", "Ana Silva")
    assert done.zoho.status is PushStatus.CREATED
    assert len(zoho.drafts("Contacts", record_id)) == 1


async def test_settled_push_is_not_repeated(
    pipeline: Pipeline, store: SQLiteJobStore, zoho: FakeZoho
) -> None:
    """A draft made by an attempt whose completion was lost is not made again."""
    job, record_id = await queue_contact_job(store, zoho)
    await run_once(pipeline, store, job.job_id)
    first = await store.get(job.job_id)
    reopened = first.model_copy(update={"status": JobStatus.QUEUED})
    await store.delete(job.job_id)
    await store.create(reopened)

    await run_once(pipeline, store, job.job_id)
    again = await store.get(job.job_id)

    assert again.status is JobStatus.COMPLETED
    assert again.zoho.draft_id == first.zoho.draft_id
    assert len(zoho.drafts("Contacts", record_id)) == 1


async def test_zoho_outage_spends_the_push_budget(
    pipeline: Pipeline, store: SQLiteJobStore, zoho: FakeZoho
) -> None:
    job, record_id = await queue_contact_job(store, zoho)
    zoho.set_down(True)

    for _ in range(3):
        await run_once(pipeline, store, job.job_id)
    done = await store.get(job.job_id)

    assert done.status is JobStatus.COMPLETED
    assert done.result is not None
    assert done.zoho.status is PushStatus.FAILED
    assert done.zoho.attempts == 3
    assert done.attempts_this_run == 3 - 2  # Zoho retries gave their attempt back
    assert zoho.drafts("Contacts", record_id) == []
