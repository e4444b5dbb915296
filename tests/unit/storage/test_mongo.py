"""MongoDB-specific behaviour: indexes, TTL changes, an unreachable server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from litestar.testing import TestClient

from app import create_app
from integration.services import make_store
from integration.settings import Settings
from storage.base import JobInput, JobResult, JobStatus, new_job
from storage.mongo import INDEXES, MongoJobStore
from storage.sqlite import SQLiteJobStore
from tests.stores import REAL_MONGODB_URI, MongoDouble

RESULT = JobResult(
    subject="s",
    content="c",
    content_html="<p>c</p>",
    provider="offline",
    model="offline-v1",
    processing_time_ms=1,
)


def make_job() -> object:
    return new_job(JobInput(country="Canada", occupation="Nurse", client_name="Ana"))


def test_connection_string_selects_mongodb(settings: Settings) -> None:
    with_mongo = Settings(mongodb_connection_string="mongodb://127.0.0.1:1/")

    assert isinstance(make_store(settings), SQLiteJobStore)
    assert isinstance(make_store(with_mongo), MongoJobStore)


async def test_indexes_are_created_with_ttl_on_a_date() -> None:
    store = MongoJobStore(MongoDouble(tz_aware=True))

    await store.open()
    info = await store.jobs.index_information()

    assert {name for name, _, _ in INDEXES} <= info.keys()
    assert info["expires"]["expireAfterSeconds"] == 0
    assert info["idempotency_key"]["unique"] is True


async def test_restart_with_another_ttl_keeps_working() -> None:
    client = MongoDouble(tz_aware=True)
    first_run, second_run = MongoJobStore(client), MongoJobStore(client)
    await first_run.open()
    old, new = make_job(), make_job()
    await first_run.create(old)
    await first_run.claim("a", 30, job_id=old.job_id)
    await first_run.complete(old.job_id, "a", RESULT, timedelta(days=7))

    await second_run.open()
    await second_run.create(new)
    await second_run.claim("b", 30, job_id=new.job_id)
    await second_run.complete(new.job_id, "b", RESULT, timedelta(days=1))
    kept_old, kept_new = (
        await second_run.get(old.job_id),
        await second_run.get(new.job_id),
    )

    assert kept_old.expires_at - kept_old.completed_at == timedelta(days=7)
    assert kept_new.expires_at - kept_new.completed_at == timedelta(days=1)
    raw = await client["jobmail"]["jobs"].find_one({"_id": new.job_id})
    assert raw["expires_at"].tzinfo is not None


async def test_dates_are_stored_as_bson_dates() -> None:
    client = MongoDouble(tz_aware=True)
    store = MongoJobStore(client)
    job = make_job()

    await store.create(job)
    raw = await client["jobmail"]["jobs"].find_one({"_id": job.job_id})

    assert raw["created_at"] == job.created_at
    assert raw["status"] == JobStatus.QUEUED.value
    assert "idempotency_key" not in raw


@pytest.mark.skipif(
    not REAL_MONGODB_URI,
    reason="explain() needs a real server (set TEST_MONGODB_URI); the double has none",
)
async def test_admin_list_uses_an_index() -> None:
    store = MongoJobStore.connect(REAL_MONGODB_URI, "jobmail_test_explain")
    await store.open()
    try:
        plan = (
            await store.jobs.find({"status": "queued"}).sort("created_at", -1).explain()
        )
    finally:
        await store.client.drop_database("jobmail_test_explain")
        await store.close()

    assert "IXSCAN" in str(plan["queryPlanner"]["winningPlan"])


def test_unreachable_mongodb_answers_503(settings: Settings) -> None:
    store = MongoJobStore.connect("mongodb://127.0.0.1:1/", "jobmail", timeout_ms=200)
    job = {"country": "Canada", "occupation": "Nurse", "clientName": "Ana"}

    with TestClient(create_app(settings, store)) as client:
        submitted = client.post("/ai/generatejobopportunities", json=job)
        ready = client.get("/ready")
        health = client.get("/health")

    assert submitted.status_code == 503
    assert submitted.headers["content-type"].startswith("application/problem+json")
    assert submitted.headers["retry-after"] == "5"
    assert ready.status_code == 503
    assert ready.json()["store"] == "unavailable"
    assert health.status_code == 200
