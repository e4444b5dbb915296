"""HTTP plumbing shared by the fake services in this package.

`BackgroundServer` is the lifecycle a fake inherits: `start` binds
``127.0.0.1`` (a free port unless one is given) and serves from a daemon
thread, `stop` wakes anything waiting on ``_stopping`` and shuts the server
down, and the fake works as a context manager. `QuietThreadingServer` is the
server it runs: daemon request threads, a deep listen backlog, a reference back
to the fake as ``server.fake`` and no tracebacks for clients that hang up.
`QuietHandler` is a base for request handlers that speak HTTP/1.1 and log
nothing, and `serve_until_interrupted` runs a fake for a manual session.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

HOST = "127.0.0.1"

FakeT = TypeVar("FakeT")
ServedT = TypeVar("ServedT", bound="BackgroundServer")


class QuietThreadingServer(ThreadingHTTPServer, Generic[FakeT]):
    """A threading HTTP server that knows its fake and stays quiet."""

    daemon_threads = True
    request_queue_size = 128  # tests may open many connections at once

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        fake: FakeT,
    ) -> None:
        super().__init__(address, handler)
        self.fake = fake

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """Ignore clients that hang up (e.g. after a timeout); report real bugs."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler speaking HTTP/1.1 that does not log requests."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Stay silent: tests should not print a line per request."""

    def read_body(self) -> bytes:
        """Read the request body announced by ``Content-Length`` (maybe empty)."""
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def lower_headers(self) -> dict[str, str]:
        """The request headers with lower-cased names."""
        return {name.lower(): value for name, value in self.headers.items()}


class BackgroundServer:
    """Serves a fake on ``127.0.0.1`` from a daemon thread.

    Subclasses pass their request handler class, the port (0 picks a free
    one), a name for the serving thread and how often ``serve_forever`` polls
    for shutdown. Handlers reach the fake as ``self.server.fake``; waits inside
    them should use ``self._stopping.wait`` so that `stop` wakes them.
    """

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        *,
        port: int,
        thread_name: str,
        poll_interval: float = 0.05,
    ) -> None:
        self._handler = handler
        self._port = port
        self._thread_name = thread_name
        self._poll_interval = poll_interval
        self._stopping = threading.Event()
        self._server: QuietThreadingServer[Self] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind to ``127.0.0.1`` and serve from a daemon thread; returns self."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._stopping.clear()
        self._server = QuietThreadingServer((HOST, self._port), self._handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": self._poll_interval},
            name=self._thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wake whatever still waits; a no-op when not running.

        Delayed answers (and any workers a subclass wakes in `_wake_waiters`)
        are woken and their pending work is dropped.
        """
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._wake_waiters()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        self._after_stop()
        self._server = self._thread = None

    def _wake_waiters(self) -> None:
        """Flag the stop so delayed answers wake up; runs first in `stop`."""
        self._stopping.set()

    def _after_stop(self) -> None:
        """Release what outlives the serving thread; runs last in `stop`."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def _bound_port(self) -> int:
        """The port the running server listens on."""
        if self._server is None:
            name = type(self).__name__
            raise RuntimeError(f"{name} is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def _origin(self) -> str:
        """``http://127.0.0.1:<port>`` of the running server."""
        return f"http://{HOST}:{self._bound_port}"


def serve_until_interrupted(
    fake: ServedT, describe: Callable[[ServedT], Iterable[str]]
) -> None:
    """Start ``fake``, print the lines of ``describe(fake)`` and serve until Ctrl-C."""
    with fake:
        print("\n".join(describe(fake)), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
