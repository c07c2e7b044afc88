"""Bad input a running bot meets: the exchange simulator (issue 16; docs/reliability.md).

Load, half-open connections, bad framing and bad candle files get a clear answer or a
named error at start-up; the simulator binds to loopback only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

# -- the exchange simulator: load, half-open connections, bad framing, bad candles ------


def _candle_dir(root: Path, rows: int = 200, mutate: Callable | None = None) -> Path:
    import pandas as pd

    root.mkdir(parents=True, exist_ok=True)
    close = 100.0 + np.cumsum(np.random.default_rng(0).normal(size=rows))
    df = pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=rows, freq="5min", tz="UTC"),
            "open": close,
            "high": close + 1.0,
            "low": close - 1.0,
            "close": close,
            "volume": np.full(rows, 10.0),
        }
    )
    if mutate is not None:
        df = mutate(df)
    df.to_feather(root / "BTC_USDT-5m.feather")
    return root


def _http(port: int, raw: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes to 127.0.0.1:port, read until the server closes; the response."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


PING = b"GET /api/v3/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def test_hundred_simultaneous_connections_are_all_served_within_5s(tmp_path):
    """With a listen backlog of 5, 24 to 45 of 100 simultaneous connects timed out."""
    import threading

    from hyperphysics_strategy.exchange import ExchangeSimulator

    with ExchangeSimulator(_candle_dir(tmp_path / "data")) as sim:
        start = threading.Barrier(100)
        answers: list[bytes | Exception] = [b""] * 100

        def client(i: int) -> None:
            start.wait(timeout=10)
            try:
                answers[i] = _http(sim.port, PING, timeout=5.0)
            except Exception as exc:  # recorded and asserted below
                answers[i] = exc

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(100)]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=15)
        elapsed = time.monotonic() - began
    failed = [a for a in answers if not (isinstance(a, bytes) and a.startswith(b"HTTP/1.1 200"))]
    assert not failed, f"{len(failed)} of 100 not served: {failed[:3]}"
    assert elapsed < 5.0, f"100 connections took {elapsed:.1f} s"


def test_half_open_connections_hold_a_bounded_number_of_threads():
    """400 silent connections used to hold 411 threads: now at most ``max_workers`` run,
    each closed after the handler timeout, and the server then answers again."""
    import socket
    import threading

    from hyperphysics_strategy.exchange.server import BinanceHTTPServer

    server = BinanceHTTPServer(
        "127.0.0.1",
        0,
        {"/api/v3/ping": lambda params: {}},
        max_workers=8,
        handler_timeout_s=0.5,
        slot_wait_s=0.2,
    )
    base = threading.active_count()
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    loop.start()
    silent = []
    try:
        most = 0
        for _ in range(60):
            silent.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
            most = max(most, threading.active_count())
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            most = max(most, threading.active_count())
            time.sleep(0.01)
        assert most <= base + 1 + 8, f"{most - base - 1} handler threads for 60 silent clients"
        deadline = time.monotonic() + 30
        while True:  # the silent ones are timed out (or turned away), then a ping is served
            try:
                if _http(server.port, PING, timeout=2.0).startswith(b"HTTP/1.1 200"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server never recovered"
        for sock in silent:  # each silent client was closed, or turned away with a 503
            sock.settimeout(5)
            try:
                data = sock.recv(1024)
            except ConnectionResetError:
                data = b""
            assert data == b"" or data.startswith(b"HTTP/1.1 503"), data[:60]
    finally:
        for sock in silent:
            sock.close()
        server.shutdown()
        server.server_close()
        loop.join(timeout=5)
    assert not loop.is_alive()


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (b"Content-Length: abc", b"not a non-negative integer"),
        (b"Content-Length: -5", b"not a non-negative integer"),
        (b"Content-Length: 99999999999", b"exceeds"),
        (b"Content-Length: 3\r\nContent-Length: 4", b"conflicting"),
        (b"Transfer-Encoding: chunked", b"chunked request bodies"),
    ],
)
def test_malformed_framing_gets_http_400_not_a_traceback(tmp_path, header, problem, caplog):
    """``Content-Length: abc`` used to close the connection with a traceback, no answer."""
    from hyperphysics_strategy.exchange import ExchangeSimulator

    with ExchangeSimulator(_candle_dir(tmp_path / "data")) as sim:
        for method in (b"POST /api/v3/order", b"GET /api/v3/ping"):
            raw = method + b" HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n"
            answer = _http(sim.port, raw)
            assert answer.startswith(b"HTTP/1.1 400"), answer[:80]
            assert problem in answer and b'"code":-1000' in answer
        assert _http(sim.port, PING).startswith(b"HTTP/1.1 200")  # still serving
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda df: df.iloc[:0], "every candle file in .* is empty: BTC_USDT-5m.feather"),
        (lambda df: df.assign(close=df.close.where(df.index != 7)), "1 of 200 candles .*NaN"),
        (lambda df: df.assign(low=df.low.where(df.index < 190, 0.0)), "10 of 200 .*price <= 0"),
        (lambda df: df.assign(volume=np.inf), "200 of 200 candles"),
    ],
    ids=["empty", "nan", "zero-price", "inf-volume"],
)
def test_empty_or_nan_candle_files_fail_at_start_up_naming_the_file(tmp_path, mutate, message):
    """An empty file used to raise IndexError; NaN candles were served as "nan" strings."""
    from hyperphysics_strategy.exchange import ExchangeSimulator

    datadir = _candle_dir(tmp_path / "data", mutate=mutate)
    with pytest.raises(ValueError, match=message) as info:
        ExchangeSimulator(datadir)
    assert "BTC_USDT-5m.feather" in str(info.value)


# -- the simulator binds to loopback only ---------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "example.com"])
def test_simulator_refuses_to_bind_beyond_loopback(tmp_path, host):
    """The simulator serves a fake exchange without authentication: any host that is not
    a loopback address is refused by name before any candle is read or a port opened."""
    from hyperphysics_strategy.exchange import ExchangeSimulator

    with pytest.raises(ValueError, match="loopback") as info:
        ExchangeSimulator(tmp_path / "never-read", host=host)
    assert host in str(info.value)


# -- slow and vanishing clients ---------------------------------------------------------


def _serve(routes: dict, **limits):
    """A BinanceHTTPServer on a free loopback port, serving in a thread."""
    import threading

    from hyperphysics_strategy.exchange.server import BinanceHTTPServer

    server = BinanceHTTPServer("127.0.0.1", 0, routes, **limits)
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    loop.start()
    return server, loop


def _stop(server, loop) -> None:
    server.shutdown()
    server.server_close()
    loop.join(timeout=5)
    assert not loop.is_alive()


def test_clients_trickling_a_request_are_cut_at_the_request_deadline():
    """The header timeout was per read: a client sending a byte every few seconds held a
    worker for ever (64 of them: 503 for everyone for 48 s). Now a request's head and body
    must arrive within ``request_deadline_s`` of its first byte."""
    import select
    import socket
    import threading

    server, loop = _serve(
        {"/api/v3/ping": lambda params: {}},
        max_workers=3,
        handler_timeout_s=2.0,  # longer than the gaps between the trickled bytes
        request_deadline_s=0.5,
        slot_wait_s=5.0,
    )
    cut_after: list[float] = []
    started = threading.Barrier(4)

    def trickle() -> None:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /api/v3/ping HTTP/1.1\r\nX-Slow: ")
            first = time.monotonic()
            started.wait(timeout=10)
            for _ in range(60):  # at most 6 s: a byte every 0.1 s
                try:
                    sock.sendall(b"a")
                    if select.select([sock], [], [], 0.1)[0] and sock.recv(1024) == b"":
                        break
                except OSError:  # reset by the server
                    break
            cut_after.append(time.monotonic() - first)

    tricklers = [threading.Thread(target=trickle, daemon=True) for _ in range(3)]
    try:
        for t in tricklers:
            t.start()
        started.wait(timeout=10)  # every worker now serves a trickler
        began = time.monotonic()
        answer = _http(server.port, PING, timeout=10.0)
        served_after = time.monotonic() - began
        for t in tricklers:
            t.join(timeout=10)
    finally:
        _stop(server, loop)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:80]
    assert served_after < 3.0, f"the honest client waited {served_after:.1f} s"
    assert len(cut_after) == 3 and all(0.4 < s < 3.0 for s in cut_after), cut_after


def test_a_client_gone_before_its_answer_is_one_debug_line_not_an_error(caplog, capfd):
    """A client that closed its connection while the simulator was answering logged an
    ERROR and two tracebacks (the failed answer, then the failed 500 answer)."""
    import socket
    import struct
    import threading

    released = threading.Event()

    def big(params) -> list:
        released.wait(timeout=10)  # answer only once the client is gone
        return [[i, "1.0", "2.0"] for i in range(100_000)]

    caplog.set_level("DEBUG", logger="hyperphysics_strategy.exchange.server")
    server, loop = _serve({"/api/v3/klines": big, "/api/v3/ping": lambda params: {}})
    try:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"GET /api/v3/klines HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # a reset: the server's next write fails
        released.set()
        deadline = time.monotonic() + 10
        while server.requests_served < 1:
            assert time.monotonic() < deadline, "the request never finished"
            time.sleep(0.01)
        assert _http(server.port, PING).startswith(b"HTTP/1.1 200")  # still serving
    finally:
        _stop(server, loop)
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors == [], [r.getMessage() for r in errors]
    gone = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(gone) == 1 and gone[0].levelno == logging.DEBUG and not gone[0].exc_info
    assert "Traceback" not in caplog.text + capfd.readouterr().err
