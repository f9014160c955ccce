"""The HTTP transport and the `SimulatorServer` lifecycle.

Transport choice: the standard library's `ThreadingHTTPServer`, not uvicorn. The faults
this simulator exists for live below the ASGI layer: "send the headers and half the body,
then close the socket" and "answer with a body that is not JSON under a correct
Content-Length" need direct control of the socket, which ASGI servers deliberately hide
(uvicorn turns an exception after a partial body into its own logged error path). A
thread per connection also makes delay faults trivial and keeps start/stop synchronous:
bind to port 0, read the port, serve in a daemon thread, shut down in milliseconds.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from affiliate_sync.settings import DEFAULT_PARTNER_OBJECT_TYPE
from affiliate_sync.simulator.app import Outcome, SimulatorApp
from affiliate_sync.simulator.config import DEFAULT_TOKEN, RateLimitConfig, SearchLimits, SimulatorConfig
from affiliate_sync.simulator.faults import ArmedFault, Fault, FaultBook
from affiliate_sync.simulator.generator import Dataset, load_into
from affiliate_sync.simulator.stats import Stats
from affiliate_sync.simulator.store import Store

log = logging.getLogger("affiliate_sync.simulator")

HOST = "127.0.0.1"
_REASONS = {207: "Multi-Status", 429: "Too Many Requests"}


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, asks the app, writes the outcome (possibly broken on purpose)."""

    protocol_version = "HTTP/1.1"
    server_version = "HubSpotSimulator/1.0"
    # Idle keep-alive connections close after this many seconds instead of holding a thread.
    timeout = 60
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in one write, but small answers on kept-alive connections
        # still suffer Nagle + delayed ACK (40 ms stalls) without this.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s - %s", self.address_string(), format % args)

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        headers = {key.lower(): value for key, value in self.headers.items()}
        outcome = self.server.app.handle(method, url.path, parse_qs(url.query), headers, body)
        try:
            self._write(outcome)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. its read timeout fired during a delay fault).
            self.close_connection = True

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _write(self, outcome: Outcome) -> None:
        reply = outcome.reply
        payload = outcome.payload()
        self.send_response_only(reply.status, _REASONS.get(reply.status))
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", outcome.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if outcome.drop_after is not None:
            self.send_header("Connection", "close")
            self.end_headers_and(payload[: outcome.drop_after])
            # The promised Content-Length never arrives: the client sees the peer hang up.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.end_headers_and(payload)

    def end_headers_and(self, payload: bytes) -> None:
        """Finish the headers and send them with `payload` in a single write."""
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(payload)
        self.flush_headers()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, port: int, app: SimulatorApp) -> None:
        self.app = app
        super().__init__((HOST, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-request are routine here (timeouts, dropped connections).
        log.debug("connection error from %s", client_address, exc_info=True)


class SimulatorServer:
    """A HubSpot CRM v3 look-alike on 127.0.0.1: `with SimulatorServer() as sim: sim.url`."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        port: int = 0,
        rate_limits: bool | RateLimitConfig = True,
        partner_object_type: str = DEFAULT_PARTNER_OBJECT_TYPE,
        missing_scopes: set[str] | frozenset[str] | list[str] = frozenset(),
        dataset: Dataset | None = None,
        search_limits: SearchLimits | None = None,
        strict_properties: bool = False,
    ) -> None:
        limits = rate_limits if isinstance(rate_limits, RateLimitConfig) else RateLimitConfig(enabled=rate_limits)
        config = SimulatorConfig(
            token=token,
            partner_object_type=partner_object_type,
            missing_scopes=set(missing_scopes),
            rate_limits=limits,
            search=search_limits or SearchLimits(),
            strict_properties=strict_properties,
        )
        self.app = SimulatorApp(config, dataset)
        self._port = port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> SimulatorServer:
        """Bind 127.0.0.1 (port 0 picks a free one) and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self.app.stopping.clear()
        self._httpd = _Server(self._port, self.app)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="hubspot-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; in-flight delay faults end at once."""
        if self._httpd is None:
            return
        self.app.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # --- access ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the simulator is not running; call start()")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL to use as HUBSPOT_BASE_URL, e.g. `http://127.0.0.1:54321`."""
        return f"http://{HOST}:{self.port}"

    @property
    def token(self) -> str:
        return self.app.config.token

    @property
    def config(self) -> SimulatorConfig:
        return self.app.config

    @property
    def store(self) -> Store:
        return self.app.store

    @property
    def faults(self) -> FaultBook:
        return self.app.faults

    @property
    def stats(self) -> Stats:
        return self.app.stats

    def inject(self, fault: Fault | Mapping[str, Any] | None = None, **fields: Any) -> ArmedFault:
        """Arm a fault: `sim.inject(kind="status", status=503, endpoint="search", count=2)`."""
        return self.app.faults.add(dict(fault) if isinstance(fault, Mapping) else fault, **fields)

    def load(self, dataset: Dataset, replace: bool = True) -> dict[str, int]:
        """Load a generated dataset's HubSpot records."""
        counts = load_into(self.app.store, dataset, replace=replace)
        self.app.api.engine.clear()
        return counts

    def reset(self) -> None:
        """Initial data and config again, no faults, zero counters, empty rate-limit windows."""
        self.app.reset()

    def set_rate_limits(self, enabled: bool | None = None, **changes: Any) -> RateLimitConfig:
        """Toggle or tune rate limiting while running (e.g. `search_max=2`)."""
        if enabled is not None:
            changes["enabled"] = enabled
        config = self.app.config.rate_limits.merged(changes)
        self.app.config.rate_limits = config
        self.app.limiter.config = config
        return config

    def set_missing_scopes(self, *scopes: str) -> None:
        """Make requests needing these scopes answer 403 MISSING_SCOPES."""
        self.app.config.missing_scopes = set(scopes)
