"""HTTP layer: a loopback-only threading server that routes GET requests to handlers
and answers every failure with a Binance-style JSON error."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from . import errors
from .endpoints import Handler
from .params import QueryParams

logger = logging.getLogger(__name__)


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


class _RequestHandler(BaseHTTPRequestHandler):
    """Dispatches GET requests through ``server.routes``."""

    server: BinanceHTTPServer
    server_version = "hyperphysics-binance-simulator/1.0"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802  (http.server naming)
        """Route a GET request."""
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
        length = int(self.headers.get("Content-Length") or 0)
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
        """Write a JSON response."""
        payload = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Requests are logged at DEBUG level instead of stderr."""
        logger.debug("%s - %s", self.address_string(), format % args)


class BinanceHTTPServer(ThreadingHTTPServer):
    """Threading HTTP server bound to a loopback address, serving ``routes``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, routes: dict[str, Handler]) -> None:
        address = loopback_address(host)
        self.address_family = (
            socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
        )
        self.routes = routes
        self.requests_served = 0
        self._count_lock = threading.Lock()
        super().__init__((address, port), _RequestHandler)

    def count_request(self) -> None:
        """Count one answered request (for status displays)."""
        with self._count_lock:
            self.requests_served += 1

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        return int(self.server_address[1])
