"""HTTP layer: a loopback-only threading server that routes GET requests to handlers
and answers every failure with a Binance-style JSON error.

Sized for freqtrade plus tests: a listen backlog of ``REQUEST_QUEUE_SIZE`` (a burst of
connects waits in the kernel instead of timing out), at most ``MAX_WORKERS`` handler
threads (a connection beyond them waits up to ``SLOT_WAIT_S`` for a free one, then gets
a 503), a ``HANDLER_TIMEOUT_S`` socket timeout so a half-open or idle keep-alive
connection frees its thread, and a ``REQUEST_DEADLINE_S`` deadline from a request's first
byte to the last of its head and body, so a client that trickles bytes cannot hold a
thread either. Malformed framing (a non-numeric, negative or oversized
``Content-Length``) is answered with HTTP 400 and the connection closed. A client that
disconnects before its answer is written costs one DEBUG line.
"""

from __future__ import annotations

import io
import ipaddress
import json
import logging
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from . import errors
from .endpoints import Handler
from .params import QueryParams

logger = logging.getLogger(__name__)

#: listen() backlog: connects the kernel queues while every worker is busy.
REQUEST_QUEUE_SIZE = 256
#: Most connections handled at once (one thread each).
MAX_WORKERS = 64
#: Seconds a connection may stay silent (half-open, idle keep-alive) before it is closed.
HANDLER_TIMEOUT_S = 15.0
#: Seconds from a request's first byte until its head and body must have arrived (a client
#: that trickles them is disconnected then).
REQUEST_DEADLINE_S = 10.0
#: Seconds an accepted connection waits for a free worker before a 503.
SLOT_WAIT_S = 10.0
#: Largest request body read (the simulator serves GET; bodies are read and dropped).
MAX_BODY_BYTES = 1 << 20


def loopback_address(host: str) -> str:
    """The loopback IP to bind for ``host``; ``ValueError`` for anything else.

    Accepts a loopback IP literal (``127.0.0.1``, ``127.x.y.z``, ``::1``) or
    ``localhost`` (resolved locally). Wildcards such as ``0.0.0.0`` and every other
    address are refused: the simulator must never be reachable from the network.
    """
    if host == "localhost":
        try:
            infos = socket.getaddrinfo("localhost", None, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            raise ValueError(f"cannot resolve 'localhost': {exc}") from exc
        addresses = [info[4][0] for info in infos]
        loopback = [a for a in addresses if ipaddress.ip_address(a).is_loopback]
        if not loopback or len(loopback) != len(addresses):
            raise ValueError(
                f"'localhost' resolves to {addresses}, not only to loopback addresses; "
                "pass host='127.0.0.1'"
            )
        ipv4 = [a for a in loopback if ipaddress.ip_address(a).version == 4]
        return ipv4[0] if ipv4 else loopback[0]
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError as exc:
        raise ValueError(
            f"host {host!r} is not an IP address; the exchange simulator binds only to a "
            "loopback address such as '127.0.0.1', '::1' or 'localhost'"
        ) from exc
    if not address.is_loopback:
        kind = "a wildcard address" if address.is_unspecified else "not a loopback address"
        raise ValueError(
            f"refusing to bind the exchange simulator to {host}: it is {kind}; use a "
            "loopback address such as '127.0.0.1' so it is never reachable from the network"
        )
    return str(address)


class _DeadlineReader(io.RawIOBase):
    """The request side of a connection: waits up to ``timeout`` for each read while idle
    (between requests), and at most until ``deadline`` once a request's first byte came.

    ``TimeoutError`` when either runs out: the base handler closes the connection."""

    def __init__(self, sock: socket.socket, timeout: float, deadline_s: float) -> None:
        self.sock, self.timeout, self.deadline_s = sock, timeout, deadline_s
        self.deadline: float | None = None  # set by the first byte of a request

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        wait = self.timeout
        if self.deadline is not None:
            wait = min(wait, self.deadline - time.monotonic())
            if wait <= 0:
                raise TimeoutError(f"request not received within {self.deadline_s:g} s")
        self.sock.settimeout(wait)
        n = self.sock.recv_into(buffer)
        if n and self.deadline is None:
            self.deadline = time.monotonic() + self.deadline_s
        return n


class _RequestHandler(BaseHTTPRequestHandler):
    """Dispatches GET requests through ``server.routes``."""

    server: BinanceHTTPServer
    server_version = "hyperphysics-binance-simulator/1.0"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = HANDLER_TIMEOUT_S  # the base class closes a connection that times out

    def setup(self) -> None:
        self.timeout = self.server.handler_timeout_s
        super().setup()
        self.rfile.close()  # the base class's reader: its reference would keep the socket open
        self._reader = _DeadlineReader(
            self.connection, self.timeout, self.server.request_deadline_s
        )
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        self._reader.deadline = None  # idle until the next request's first byte
        super().handle_one_request()

    def send_response(self, code: int, message: str | None = None) -> None:
        """Answers are written with the idle timeout, not what is left of the deadline."""
        self.connection.settimeout(self.timeout)
        super().send_response(code, message)

    def _body_length(self) -> int | None:
        """The request's ``Content-Length`` (0 when absent); ``None`` after answering 400."""
        raw = self.headers.get_all("Content-Length") or []
        values = {v.strip() for v in raw}
        problem = ""
        if len(values) > 1:
            problem = f"conflicting Content-Length headers {sorted(values)}"
        elif values:
            (value,) = values
            if not value.isdigit():
                problem = f"Content-Length {value!r} is not a non-negative integer"
            elif int(value) > MAX_BODY_BYTES:
                problem = f"Content-Length {value} exceeds {MAX_BODY_BYTES} bytes"
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            problem = "chunked request bodies are not supported"
        if problem:
            self.close_connection = True
            err = errors.bad_request(problem)
            self._send(err.status, err.body())
            self.server.count_request()
            return None
        return int(values.pop()) if values else 0

    def do_GET(self) -> None:  # noqa: N802  (http.server naming)
        """Route a GET request."""
        length = self._body_length()
        if length is None:
            return
        if length:
            self.rfile.read(length)
        url = urlsplit(self.path)
        handler = self.server.routes.get(url.path)
        try:
            if handler is None:
                raise errors.not_found("GET", url.path)
            body = handler(QueryParams(url.query))
            self._send(200, body)
        except errors.BinanceError as exc:
            self._send(exc.status, exc.body())
        except Exception as exc:  # report, never crash the server thread
            logger.exception("error answering %s", self.path)
            msg = f"An unknown error occurred while processing the request: {exc}"
            err = errors.BinanceError(500, errors.UNKNOWN, msg)
            self._send(err.status, err.body())
        finally:
            self.server.count_request()

    def _other(self) -> None:
        """Any non-GET method: 405 on known paths, 404 elsewhere."""
        url = urlsplit(self.path)
        length = self._body_length()
        if length is None:
            return
        if length:
            self.rfile.read(length)
        if url.path in self.server.routes:
            err = errors.method_not_allowed(self.command, url.path)
        else:
            err = errors.not_found(self.command, url.path)
        self._send(err.status, err.body())
        self.server.count_request()

    do_POST = do_PUT = do_DELETE = do_PATCH = _other  # noqa: N815

    def _send(self, status: int, body: Any) -> None:
        """Write a JSON response (a client already gone is one DEBUG line)."""
        payload = json.dumps(body, separators=(",", ":")).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except ConnectionError as exc:
            self.close_connection = True
            logger.debug(
                "%s disconnected before the answer to %s was sent (%s)",
                self.address_string(),
                self.path,
                exc,
            )

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Requests are logged at DEBUG level instead of stderr."""
        logger.debug("%s - %s", self.address_string(), format % args)


class BinanceHTTPServer(ThreadingHTTPServer):
    """Threading HTTP server bound to a loopback address, serving ``routes``."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = REQUEST_QUEUE_SIZE

    def __init__(
        self,
        host: str,
        port: int,
        routes: dict[str, Handler],
        *,
        max_workers: int = MAX_WORKERS,
        handler_timeout_s: float = HANDLER_TIMEOUT_S,
        request_deadline_s: float = REQUEST_DEADLINE_S,
        slot_wait_s: float = SLOT_WAIT_S,
    ) -> None:
        if max_workers < 1 or min(handler_timeout_s, request_deadline_s) <= 0 or slot_wait_s < 0:
            raise ValueError(
                "max_workers must be >= 1, handler_timeout_s and request_deadline_s > 0 and "
                f"slot_wait_s >= 0; got {max_workers}, {handler_timeout_s}, "
                f"{request_deadline_s}, {slot_wait_s}"
            )
        self.max_workers = int(max_workers)
        self.handler_timeout_s = float(handler_timeout_s)
        self.request_deadline_s = float(request_deadline_s)
        self.slot_wait_s = float(slot_wait_s)
        address = loopback_address(host)
        self.address_family = (
            socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
        )
        self.routes = routes
        self.requests_served = 0
        self._count_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.max_workers)
        super().__init__((address, port), _RequestHandler)

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        """Handle the connection in a worker thread, at most ``max_workers`` at once."""
        if not self._slots.acquire(timeout=self.slot_wait_s):
            self._busy(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: socket.socket, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone mid-request is one DEBUG line; anything else as before."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            logger.debug("%s disconnected (%s)", client_address, exc)
        else:
            super().handle_error(request, client_address)

    def _busy(self, request: socket.socket) -> None:
        """No worker freed up within ``slot_wait_s``: answer 503 and close."""
        err = errors.BinanceError(503, errors.UNKNOWN, "Server busy: too many connections.")
        payload = json.dumps(err.body()).encode()
        head = (
            f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        ).encode()
        try:
            request.settimeout(1.0)
            request.sendall(head + payload)
        except OSError:
            pass
        self.shutdown_request(request)

    def count_request(self) -> None:
        """Count one answered request (for status displays)."""
        with self._count_lock:
            self.requests_served += 1

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        return int(self.server_address[1])
