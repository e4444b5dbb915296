"""Shared fixtures: settings pointed at a temporary data folder, and the app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from litestar.testing import TestClient

from app import create_app
from integration.settings import Settings
from tests.credentials import ADMIN_TOKEN
from tests.stores import STORE_BACKENDS, make_store


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's own environment and `.env` files out of every test."""
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_MODEL",
        "DATA_DIR",
        "API_KEYS",
        "ADMIN_TOKEN",
        "ZOHO_FIELD_MAP",
        "ZOHO_WEBHOOK_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    structlog.reset_defaults()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        admin_token=ADMIN_TOKEN,
        data_dir=tmp_path / "data",
        worker_poll_seconds=0.05,
        job_retry_delay_seconds=0.05,
        shutdown_grace_seconds=2,
        log_format="json",
    )


@pytest.fixture(params=STORE_BACKENDS)
def client(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> Iterator[TestClient]:
    """The app in-process, once per store backend."""
    store = make_store(request.param, tmp_path)
    with TestClient(create_app(settings, store)) as test_client:
        yield test_client
