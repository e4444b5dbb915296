"""Run the real service as a subprocess on a free port, as a user would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.credentials import ADMIN_TOKEN

JOBMAIL = Path(sys.executable).with_name("jobmail")
SUBMIT = "/ai/generatejobopportunities"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`jobmail serve` with its own environment, data folder and log file."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(workdir),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "DATA_DIR": str(workdir / "data"),
            "LOG_FORMAT": "json",
            "WORKER_POLL_SECONDS": "0.1",
            "ADMIN_TOKEN": ADMIN_TOKEN,
            **(env or {}),
        }
        self.runs = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"server-{self.runs}.log"

    def start(self, **env: str) -> ServerProcess:
        self.runs += 1
        self.env.update(env)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(JOBMAIL), "serve"],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_healthy()
        return self

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 20) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def events(self, name: str) -> list[dict[str, Any]]:
        """Every log event called `name`, across all runs so far."""
        found = []
        for run in range(1, self.runs + 1):
            for line in (self.workdir / f"server-{run}.log").read_text().splitlines():
                if line.startswith("{") and json.loads(line).get("event") == name:
                    found.append(json.loads(line))
        return found

    def submit(self, **fields: str) -> str:
        response = httpx.post(self.url + SUBMIT, json=fields, timeout=10)
        response.raise_for_status()
        return str(response.json()["jobId"])

    def status(self, job_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}{SUBMIT}/status/{job_id}", timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def wait_finished(self, job_id: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.status(job_id)
            if job["status"] in ("completed", "failed"):
                return job
            time.sleep(0.1)
        raise AssertionError(f"{job_id} still {job['status']} after {timeout} s")

    def _wait_until_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                output = self.log_path.read_text()
                raise AssertionError(f"server exited early:\n{output}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("server did not become healthy")
