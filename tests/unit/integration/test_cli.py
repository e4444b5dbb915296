"""The `jobmail` command line: write one e-mail, and report bad input plainly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from integration.cli import main
from tests.fakes.openai_server import FakeOpenAI, unauthorized

JOHN = [
    "generate",
    "--country",
    "Canada",
    "--occupation",
    "Software Engineer",
    "--client-name",
    "John Doe",
]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        yield server


@pytest.fixture
def uvicorn_runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stands in for `uvicorn.run`; records each call instead of serving."""
    calls: list[dict[str, Any]] = []

    def record(app: object, **options: Any) -> None:
        calls.append(options)

    monkeypatch.setattr(uvicorn, "run", record)
    return calls


def with_flag(flag: str, value: str) -> list[str]:
    argv = [*JOHN]
    argv[argv.index(flag) + 1] = value
    return argv


def test_generate_prints_the_email(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(JOHN)

    out, err = capsys.readouterr()
    subject, blank, greeting, *rest = out.splitlines()
    assert code == 0
    assert subject.startswith("Subject: ") and len(subject) > len("Subject: ")
    assert blank == ""
    assert "John" in greeting
    assert "Doe" not in greeting
    body = "\n".join(rest)
    assert "Software Engineer" in body and "Canada" in body
    assert "provider: offline" in err


def test_generate_in_french_formally(capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*JOHN, "--language", "fr", "--tone", "formal"])

    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("Subject: ")
    assert "\n\nBonjour John,\n" in out
    assert "Software Engineer" in out and "Canada" in out
    assert "provider: offline" in err


def test_blank_country_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*JOHN]
    argv[argv.index("Canada")] = " "

    with pytest.raises(SystemExit) as caught:
        main(argv)

    _, err = capsys.readouterr()
    assert caught.value.code == 2
    assert "--country: must not be empty" in err


def test_bad_setting_exits_with_two(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WORKER_CONCURRENCY", "abc")

    code = main(JOHN)

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith("jobmail: invalid setting WORKER_CONCURRENCY")
    assert "'abc'" in line


def test_generate_through_openai(
    fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(JOHN)

    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("Subject: Software Engineer opportunities in Canada\n\n")
    assert "\n\nHello John,\n\n" in out
    assert "provider: openai" in err
    assert "model: gpt-4.1-mini" in err
    [request] = fake.requests
    assert request.headers["authorization"] == f"Bearer {fake.api_key}"


def test_openai_failure_exits_with_one(
    fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.enqueue(unauthorized())

    code = main(JOHN)

    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert "OPENAI_API_KEY" in err
    assert "(llm_auth_failed)" in err
    assert "test-key" not in err


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--client-name", "John\nDoe", "--client-name: must not contain control"),
        ("--client-name", "\u200b", "--client-name: must contain a visible"),
        ("--country", "C" * 5000, "--country: String should have at most 60"),
        ("--occupation", "Nurse\u202e", "--occupation: must not contain control"),
    ],
    ids=["line break", "invisible", "too long", "bidi override"],
)
def test_generate_applies_the_api_input_rules(
    capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    argv = with_flag(flag, value)

    with pytest.raises(SystemExit) as caught:
        main(argv)

    out, err = capsys.readouterr()
    assert caught.value.code == 2
    assert out == ""
    assert message in err


def test_generate_trims_but_keeps_the_texts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = with_flag("--client-name", "  Zoë Åström  ")

    code = main(argv)

    out, _ = capsys.readouterr()
    assert code == 0
    assert "Zoë," in out


@pytest.mark.parametrize("port", ["0", "99999", "-1", "http", "80.5"])
def test_serve_refuses_a_port_out_of_range(
    uvicorn_runs: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    port: str,
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--port", port])

    _, err = capsys.readouterr()
    assert caught.value.code == 2
    assert "--port" in err and "1 to 65535" in err and repr(port) in err
    assert "Traceback" not in err
    assert uvicorn_runs == []


def test_serve_uses_the_given_port_and_host(
    uvicorn_runs: list[dict[str, Any]],
) -> None:
    lowest = main(["serve", "--port", "1"])
    highest = main(["serve", "--port", "65535", "--host", "0.0.0.0"])
    default = main(["serve"])

    assert (lowest, highest, default) == (0, 0, 0)
    assert uvicorn_runs[0]["port"] == 1
    assert (uvicorn_runs[1]["host"], uvicorn_runs[1]["port"]) == ("0.0.0.0", 65535)
    assert uvicorn_runs[2]["port"] == 8080


def test_serve_creates_the_data_dir(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    uvicorn_runs: list[dict[str, Any]],
) -> None:
    data_dir = tmp_path / "new" / "data"
    monkeypatch.setenv("DATA_DIR", str(data_dir))

    code = main(["serve"])

    assert code == 0
    assert data_dir.is_dir()
    assert len(uvicorn_runs) == 1


def test_unusable_data_dir_stops_serve_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    uvicorn_runs: list[dict[str, Any]],
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DATA_DIR", str(blocker / "data"))

    code = main(["serve"])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith(f"jobmail: DATA_DIR {blocker / 'data'}")
    assert "Not a directory" in line
    assert uvicorn_runs == []


def test_data_dir_is_left_alone_with_mongodb(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    uvicorn_runs: list[dict[str, Any]],
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DATA_DIR", str(blocker / "data"))
    monkeypatch.setenv("MONGODB_CONNECTION_STRING", "mongodb://127.0.0.1:9")

    code = main(["serve"])

    assert code == 0
    assert len(uvicorn_runs) == 1
