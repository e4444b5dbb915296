"""Settings from the environment and the `.env` files, and how bad values read."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from integration.settings import Settings, SettingsError, load_settings


def test_original_variable_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    monkeypatch.setenv("BASE_URL", "https://jobs.example.com/")
    monkeypatch.setenv("DATA_DIR", "/srv/jobmail")
    monkeypatch.setenv("JOB_TTL_DAYS", "14")
    monkeypatch.setenv("WORKER_CONCURRENCY", "8")
    monkeypatch.setenv("API_KEYS", "alpha, beta,,gamma ")

    settings = Settings()

    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-test-123"
    assert settings.base_url == "https://jobs.example.com"
    assert settings.sqlite_path == Path("/srv/jobmail/jobs.sqlite3")
    assert settings.job_ttl == timedelta(days=14)
    assert settings.worker_concurrency == 8
    assert settings.api_keys == ["alpha", "beta", "gamma"]


def test_defaults_need_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PORT", "JOB_TTL_DAYS", "WORKER_CONCURRENCY", "API_KEYS"):
        monkeypatch.delenv(name, raising=False)

    settings = Settings()

    assert settings.openai_api_key is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.data_dir == Path("data")
    assert settings.job_ttl == timedelta(days=7)
    assert settings.worker_concurrency == 4
    assert settings.api_keys == []


def test_env_local_overrides_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKER_CONCURRENCY", raising=False)
    monkeypatch.delenv("API_KEYS", raising=False)
    Path(".env").write_text(
        "OPENAI_MODEL=from-env\nWORKER_CONCURRENCY=3\nAPI_KEYS=old\n"
    )
    Path(".env.local").write_text("OPENAI_MODEL=from-env-local\nAPI_KEYS=one,two\n")

    settings = Settings()

    assert settings.openai_model == "from-env-local"
    assert settings.worker_concurrency == 3
    assert settings.api_keys == ["one", "two"]


def test_environment_beats_env_files(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("OPENAI_MODEL=from-env\n")
    Path(".env.local").write_text("OPENAI_MODEL=from-env-local\n")
    monkeypatch.setenv("OPENAI_MODEL", "from-environment")

    settings = Settings()

    assert settings.openai_model == "from-environment"


def test_empty_value_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "")
    monkeypatch.setenv("PORT", "")
    monkeypatch.setenv("API_KEYS", "")
    Path(".env").write_text("OPENAI_BASE_URL=\nJOB_TTL_DAYS=\n")
    monkeypatch.delenv("JOB_TTL_DAYS", raising=False)

    settings = Settings()

    assert settings.openai_api_key is None
    assert settings.openai_base_url is None
    assert settings.port == 8080
    assert settings.job_ttl_days == 7
    assert settings.api_keys == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "abc"),
        ("JOB_TTL_DAYS", "0"),
        ("OPENAI_BASE_URL", "ftp://x"),
        ("OPENAI_BASE_URL", "http://"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError) as caught:
        load_settings()

    message = caught.value.message
    assert "\n" not in message
    assert message.startswith(f"invalid setting {name}:")
    assert repr(value) in message
    assert caught.value.code == "bad_setting"


def test_bad_value_in_env_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKER_CONCURRENCY", raising=False)
    Path(".env.local").write_text("WORKER_CONCURRENCY=many\n")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert "WORKER_CONCURRENCY" in caught.value.message
    assert "\n" not in caught.value.message


def test_secrets_stay_out_of_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-key")
    monkeypatch.setenv(
        "MONGODB_CONNECTION_STRING", "mongodb://jobmail:hunter2@db.example.com"
    )

    settings = Settings()

    for text in (repr(settings), str(settings)):
        assert "sk-very-secret-key" not in text
        assert "hunter2" not in text
    assert "openai_api_key" in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JOB_TTL_DAYS", "inf"),
        ("JOB_TTL_DAYS", "1e7"),
        ("JOB_LEASE_SECONDS", "inf"),
        ("JOB_LEASE_SECONDS", "1e12"),
        ("WORKER_POLL_SECONDS", "nan"),
        ("JOB_RETRY_DELAY_SECONDS", "inf"),
        ("SHUTDOWN_GRACE_SECONDS", "1e300"),
        ("QSTASH_SWEEP_AFTER_SECONDS", "inf"),
        ("ZOHO_DEDUPE_WINDOW_SECONDS", "nan"),
        ("ZOHO_RETRY_WAIT_SECONDS", "-inf"),
        ("OPENAI_TIMEOUT_SECONDS", "inf"),
        ("OPENAI_TEMPERATURE", "nan"),
    ],
)
def test_endless_or_huge_durations_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError) as caught:
        load_settings()

    message = caught.value.message
    assert "\n" not in message
    assert message.startswith(f"invalid setting {name}:")
    assert repr(value) in message


def test_largest_allowed_durations_still_make_timedeltas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOB_TTL_DAYS", "3650")
    monkeypatch.setenv("JOB_LEASE_SECONDS", "3600")

    settings = load_settings()

    assert settings.job_ttl == timedelta(days=3650)
    assert timedelta(seconds=settings.job_lease_seconds) == timedelta(hours=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{bad", "invalid setting ZOHO_FIELD_MAP:"),
        ('{"Leads": {"colour": "Hair"}}', "unknown input 'colour'"),
    ],
)
def test_bad_field_map_stops_startup_in_one_line(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv("ZOHO_FIELD_MAP", value)

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert expected in caught.value.message
    assert "\n" not in caught.value.message


def test_field_map_adds_to_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ZOHO_FIELD_MAP",
        '{"Leads": {"country": "Target_Country"}, "Deals": {"name": "Deal_Name"}}',
    )

    field_map = load_settings().zoho_field_map

    assert field_map["Leads"]["country"] == "Target_Country"
    assert field_map["Leads"]["occupation"] == "Designation"
    assert field_map["Contacts"]["country"] == "Mailing_Country"
    assert field_map["Deals"]["name"] == "Deal_Name"
    assert field_map["Deals"]["email"] == "Email"


def test_webhook_secret_needs_zoho_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOHO_WEBHOOK_SECRET", "secret")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert "ZOHO_WEBHOOK_SECRET" in caught.value.message
    assert "ZOHO_REFRESH_TOKEN" in caught.value.message


@pytest.mark.parametrize(
    ("token", "keys", "expected"),
    [
        ("short", "", "at least 16"),
        ("same-as-a-key-0123456789", "a,same-as-a-key-0123456789", "differ"),
    ],
)
def test_weak_admin_token_is_refused(
    monkeypatch: pytest.MonkeyPatch, token: str, keys: str, expected: str
) -> None:
    monkeypatch.setenv("ADMIN_TOKEN", token)
    monkeypatch.setenv("API_KEYS", keys)

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert "ADMIN_TOKEN" in caught.value.message
    assert expected in caught.value.message
