"""Every job store backend the tests run against, opened fresh per test.

`sqlite` and `mongo-double` (mongomock-motor, an in-memory MongoDB test double)
always run. `mongo` runs against a real server whenever `TEST_MONGODB_URI` is set,
each test in a database of its own that is dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mongomock_motor import AsyncMongoMockClient

from storage.base import JobStore
from storage.mongo import MongoJobStore
from storage.sqlite import SQLiteJobStore

REAL_MONGODB_URI = os.environ.get("TEST_MONGODB_URI", "")

STORE_BACKENDS = ["sqlite", "mongo-double"] + (["mongo"] if REAL_MONGODB_URI else [])


class MongoDouble(AsyncMongoMockClient):  # type: ignore[misc]
    """The double with pymongo's async `close()`; the in-memory data needs none."""

    async def close(self) -> None:
        return None


def make_store(backend: str, tmp_path: Path) -> Any:
    """An unopened store of the given backend, empty and private to one test."""
    if backend == "sqlite":
        return SQLiteJobStore(tmp_path / "jobs.sqlite3")
    if backend == "mongo-double":
        return MongoJobStore(MongoDouble(tz_aware=True), "jobmail_test")

    database = f"jobmail_test_{uuid.uuid4().hex[:12]}"
    return MongoJobStore.connect(REAL_MONGODB_URI, database)


@asynccontextmanager
async def open_store(backend: str, tmp_path: Path) -> AsyncIterator[JobStore]:
    store = make_store(backend, tmp_path)
    await store.open()
    try:
        yield store
    finally:
        if backend == "mongo":
            await store.client.drop_database(store.jobs.database.name)
        await store.close()
