"""Fixtures for end-to-end runs: the real server and the fake OpenAI server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from tests.e2e.server import ServerProcess
from tests.fakes.openai_server import FakeOpenAI
from tests.stores import REAL_MONGODB_URI


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(params=["sqlite"] + (["mongo"] if REAL_MONGODB_URI else []))
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """The service as a subprocess, on SQLite and, when one is given, real MongoDB."""
    env = {}
    if request.param == "mongo":
        database = f"jobmail_e2e_{uuid.uuid4().hex[:12]}"
        env = {
            "MONGODB_CONNECTION_STRING": REAL_MONGODB_URI,
            "MONGODB_DATABASE": database,
        }

    process = ServerProcess(tmp_path, env)
    yield process
    if process.process is not None and process.process.poll() is None:
        process.stop()
    if request.param == "mongo":
        with MongoClient(REAL_MONGODB_URI) as client:
            client.drop_database(env["MONGODB_DATABASE"])
