"""Run one hardware probe safely: time-limited, exceptions turned into a debug line.

Every source of hardware facts (NVML, amdsmi, an ``*-smi`` tool, a library trial) goes
through :func:`run_probe` or :func:`run_command`, so a missing library, a driver error or a
hang degrades to the next source instead of crashing or blocking the caller.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 10.0


def run_probe(
    name: str, fn: Callable[[], T], *, timeout: float | None = DEFAULT_TIMEOUT_S, default: T
) -> T:
    """Return ``fn()``, or ``default`` when it raises or runs longer than ``timeout`` seconds.

    With a timeout the call runs in a daemon thread: a hung driver call is abandoned (it
    cannot block interpreter exit) and the caller gets ``default`` after ``timeout``.
    """
    if timeout is None:
        try:
            return fn()
        except Exception as exc:  # a probe must never crash the caller
            logger.debug("hardware probe %s failed: %s: %s", name, type(exc).__name__, exc)
            return default

    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported below
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"hw-probe-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        logger.debug("hardware probe %s timed out after %.1f s", name, timeout)
        return default
    if "error" in box:
        exc = box["error"]
        logger.debug("hardware probe %s failed: %s: %s", name, type(exc).__name__, exc)
        return default
    return box["value"]  # type: ignore[return-value]


@contextmanager
def library_session(
    library: str, init: Callable[[], object], shut_down: Callable[[], object]
) -> Iterator[None]:
    """``init()`` a management library (NVML, amdsmi) for the block and ``shut_down()`` after
    it; ``init`` raising propagates, a failing shut-down is only a debug line."""
    init()
    try:
        yield
    finally:
        try:
            shut_down()
        except Exception as exc:
            logger.debug("%s shut-down failed: %s", library, exc)


def read_field(library: str, name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, or ``None`` (and a debug line) when it raises: one unreadable field of
    a management library must not lose the GPU."""
    try:
        return fn(*args)
    except Exception as exc:
        logger.debug("%s %s failed: %s", library, name, exc)
        return None


def tool_available(name: str) -> bool:
    """True when the command-line tool ``name`` is on PATH."""
    if shutil.which(name) is None:
        logger.debug("hardware probe: %s not found on PATH", name)
        return False
    return True


def run_command(argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT_S) -> str | None:
    """Stdout of ``argv`` when it exits 0 within ``timeout`` seconds, else ``None``."""
    exe = shutil.which(argv[0])
    if exe is None:
        logger.debug("hardware probe: %s not found on PATH", argv[0])
        return None
    try:
        done = subprocess.run(
            [exe, *argv[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        logger.debug("hardware probe: %s timed out after %.1f s", " ".join(argv), timeout)
        return None
    except OSError as exc:
        logger.debug("hardware probe: %s could not run: %s", " ".join(argv), exc)
        return None
    if done.returncode != 0:
        logger.debug(
            "hardware probe: %s exited %d: %s",
            " ".join(argv),
            done.returncode,
            (done.stderr or done.stdout).strip()[:200],
        )
        return None
    return done.stdout
