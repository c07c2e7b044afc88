"""Append-safe per-pair order-book history in parquet, and its reader.

Layout for pair ``BTC/USDT`` on ``binance`` under ``root`` (names: :mod:`.names`)::

    <root>/binance/BTC_USDT.parquet            compacted history
    <root>/binance/BTC_USDT.parquet.parts/     one small parquet file per append
    <root>/binance/BTC_USDT.parquet.lock       the inter-process lock of compaction

Every append writes a part under a name no other writer uses (time stamp, process id, a
per-process sequence number and a random token) to ``<part>.tmp``, fsyncs it and renames
it (``os.replace``, atomic) into the parts folder; appends take no lock. Compaction holds
the pair's file lock (``filelock``: ``flock`` on POSIX, released by the kernel when its
holder dies) while it writes the merged history to a unique ``<main>.<random>.tmp``,
fsyncs, renames it over the main file, then deletes the parts it merged. So several
processes may record one pair at once (a dry-run and a live bot sharing a user dir): no
two write one temporary file and no two compactions interleave. A crash leaves either a
complete part or a ``.tmp`` file that readers ignore (a stale main ``.tmp`` is removed by
the next compaction); it loses at most the snapshot being written and never the file.
Readers list the parts before they read the main file and read again (the fifth time under
the lock) when a part was compacted away meanwhile, then drop duplicate timestamps (a
crash between the rename and the part deletion), keeping the last.

Schema: ``timestamp`` int64 (ms since the epoch, UTC) and ``bid_px``, ``bid_sz``,
``ask_px``, ``ask_sz`` as fixed-length ``Array(Float64, levels)`` (NaN for missing levels).
Files written with different ``levels`` (the setting changed between restarts) are padded
with NaN to the widest one when read or compacted, never trimmed.

Nothing is ever compacted over: a main file or part that cannot be read is quarantined
(renamed to ``<name>.<ms>.corrupt``, with a warning) before compaction, so its bytes stay
on disk for recovery. Exchange and pair names become file names only after
:func:`~.names.safe_name` (injective, never a path outside ``<root>``); history written
under the names of older versions is still read, never written.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..manifest import fsync_dir
from .names import legacy_path, pair_filename, pair_path, safe_name  # noqa: F401 (re-exported)

if TYPE_CHECKING:  # polars is imported where history is written or read, not on import
    import polars as pl

logger = logging.getLogger(__name__)

COLUMNS = ("bid_px", "bid_sz", "ask_px", "ask_sz")
#: Seconds ``compact()`` waits for another process's compaction of the same pair.
LOCK_TIMEOUT_S = 60.0
#: Reads of one history before a reader takes the compaction lock (each retry means a
#: compaction finished in between; one takes milliseconds).
READ_ATTEMPTS = 5
_SEQ = itertools.count()  # part names: one sequence per process, shared by every recorder


def _schema(levels: int) -> dict:
    import polars as pl

    return {"timestamp": pl.Int64, **{c: pl.Array(pl.Float64, levels) for c in COLUMNS}}


def _width(df: pl.DataFrame) -> int:
    """The level count of a history frame (``ValueError`` if it is not one)."""
    import polars as pl

    if df.columns[:1] != ["timestamp"] or set(df.columns) != {"timestamp", *COLUMNS}:
        raise ValueError(f"columns {df.columns} are not an order-book history")
    widths = {df.schema[c].size for c in COLUMNS if isinstance(df.schema[c], pl.Array)}
    if len(widths) != 1 or len([c for c in COLUMNS if isinstance(df.schema[c], pl.Array)]) != 4:
        raise ValueError(f"schema {df.schema} is not an order-book history")
    return widths.pop()


def _pad(df: pl.DataFrame, levels: int) -> pl.DataFrame:
    """Pad every level column of ``df`` with NaN to ``levels`` (never trims)."""
    import polars as pl

    width = _width(df)
    if width == levels:
        return df
    cols = {"timestamp": df["timestamp"].cast(pl.Int64)}
    for c in COLUMNS:
        arr = np.full((df.height, levels), np.nan)
        arr[:, :width] = np.asarray(df[c].to_numpy(), dtype=np.float64).reshape(df.height, width)
        cols[c] = pl.Series(c, arr, dtype=pl.Array(pl.Float64, levels))
    return pl.DataFrame(cols)


def quarantine(path: Path, reason: str) -> Path:
    """Rename an unreadable history file to ``<name>.<ms>.corrupt`` and warn; return it."""
    dest = path.with_name(f"{path.name}.{time.time_ns() // 1_000_000}.corrupt")
    os.replace(path, dest)
    fsync_dir(path.parent)
    logger.warning(
        "order-book history %s is unreadable (%s): moved to %s, not compacted over",
        path,
        reason,
        dest.name,
    )
    return dest


def _write_atomic(df: pl.DataFrame, dest: Path) -> None:
    """Write ``df`` to a temporary file no other writer uses, fsync, rename over ``dest``."""
    tmp = dest.with_name(f"{dest.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "xb") as fh:  # O_EXCL: never another writer's file
            df.write_parquet(fh, statistics=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(dest.parent)


def _lock(main: Path):
    """The inter-process lock of ``main``'s compaction (``<main>.lock``)."""
    from filelock import FileLock

    return FileLock(main.with_name(main.name + ".lock"))


def _part_name(timestamp_ms: int) -> str:
    """Sorted by time stamp, then by process and order of append within it; the random
    token keeps a later process that got the same id from replacing a part."""
    seq = next(_SEQ)
    return f"{int(timestamp_ms):015d}-{os.getpid()}-{seq:09d}-{secrets.token_hex(4)}.parquet"


def _side_array(side, levels: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Best ``levels`` prices and sizes of one side; rows are ``[price, size]`` or ccxt's
    ``[price, size, count]`` (fields after the size are ignored)."""
    arr = np.asarray(side if len(side) else np.empty((0, 2)), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f"{name}: expected rows of [price, size], got shape {arr.shape}")
    px = np.full(levels, np.nan)
    sz = np.full(levels, np.nan)
    n = min(levels, len(arr))
    px[:n], sz[:n] = arr[:n, 0], arr[:n, 1]
    return px, sz


class OrderBookRecorder:
    """Stores L2 snapshots per pair under ``<root>/<exchange>/<PAIR>.parquet``.

    ``record(pair, timestamp_ms, bids, asks)`` appends one snapshot (the best ``levels`` of
    each side, NaN padded); every ``compact_every`` appends the parts are compacted into the
    main file. Call ``compact()`` at shutdown if you like; readers do not need it.
    """

    def __init__(
        self, root: str | os.PathLike, exchange: str, levels: int = 20, compact_every: int = 256
    ):
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        self.root = Path(root)
        safe_name(exchange, "exchange")  # fail at construction, not at the first record
        self.exchange = exchange
        self.levels = int(levels)
        self.compact_every = int(compact_every)
        self._counts: dict[str, int] = {}

    def path(self, pair: str) -> Path:
        return pair_path(self.root, self.exchange, pair)

    def record(self, pair: str, timestamp_ms: int, bids, asks) -> Path:
        """Append one snapshot; returns the part file written."""
        bp, bs = _side_array(bids, self.levels, "bids")
        ap, as_ = _side_array(asks, self.levels, "asks")
        import polars as pl

        df = pl.DataFrame(
            {
                "timestamp": [int(timestamp_ms)],
                "bid_px": [bp],
                "bid_sz": [bs],
                "ask_px": [ap],
                "ask_sz": [as_],
            },
            schema=_schema(self.levels),
        )
        main = self.path(pair)
        parts = main.with_name(main.name + ".parts")
        parts.mkdir(parents=True, exist_ok=True)
        dest = parts / _part_name(timestamp_ms)
        _write_atomic(df, dest)
        n = self._counts.get(pair, 0) + 1
        self._counts[pair] = n
        if self.compact_every and n % self.compact_every == 0:
            # never wait for another process's compaction: parts it leaves are read
            # meanwhile and merged by a later compaction
            compact_file(main, self.levels, timeout=0)
        return dest

    def compact(self, pair: str | None = None) -> None:
        """Merge the parts of ``pair`` (all pairs when None) into the main file, waiting
        up to ``LOCK_TIMEOUT_S`` for another process's compaction of the same pair."""
        pairs = [pair] if pair is not None else list(self._counts)
        for p in pairs:
            compact_file(self.path(p), self.levels)


def _part_files(main: Path) -> list[Path]:
    parts = main.with_name(main.name + ".parts")
    if not parts.is_dir():
        return []
    return sorted(f for f in parts.iterdir() if f.suffix == ".parquet")


def _history_files(main: Path) -> list[Path]:
    """The main file, then its parts. The parts are listed first: a compaction that
    finishes in between has merged every part listed into the main file read after."""
    parts = _part_files(main)
    return ([main] if main.is_file() else []) + parts


def _read_files(files: list[Path], quarantine_bad: bool) -> tuple[list[pl.DataFrame], bool]:
    """The history frames of ``files`` and whether one of them vanished meanwhile.

    An unreadable file is skipped with a warning (readers), or quarantined
    (``quarantine_bad``, compaction) so that compaction never writes over it.
    """
    import polars as pl

    frames, vanished = [], False
    for f in files:
        try:
            df = pl.read_parquet(f)
            _width(df)
        except FileNotFoundError:  # a part compacted away meanwhile
            vanished = True
            continue
        except Exception as exc:  # damaged: never lose the rest, never overwrite it
            if quarantine_bad:
                quarantine(f, f"{type(exc).__name__}: {exc}")
            else:
                logger.warning("skipping unreadable order-book history %s: %s", f, exc)
            continue
        frames.append(df)
    return frames, vanished


def _merge(frames: list[pl.DataFrame], levels: int | None) -> pl.DataFrame | None:
    """One frame, deduplicated by timestamp (the last kept) and padded to one width."""
    import polars as pl

    if not frames:
        return None
    width = max([_width(df) for df in frames] + [levels or 0])
    df = pl.concat([_pad(df, width) for df in frames], how="vertical_relaxed")
    return df.unique(subset="timestamp", keep="last", maintain_order=True).sort("timestamp")


def _remove_stale_tmp(main: Path) -> None:
    """Temporary main files a killed compaction left (only compaction, under the lock,
    writes them, so every one found under the lock is stale)."""
    for tmp in main.parent.glob(main.name + ".*tmp"):  # names hold no other "."
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def compact_file(main: Path, levels: int | None = None, timeout: float = LOCK_TIMEOUT_S) -> bool:
    """Atomically rewrite ``main`` with its parts merged, then remove those parts.

    Holds ``<main>.lock`` meanwhile, waiting up to ``timeout`` seconds for another
    process's compaction (``TimeoutError`` naming the lock file; with ``timeout=0`` it
    returns False instead: the parts stay and are read). Unreadable files are quarantined
    first; levels of different widths are padded to the widest (and at least ``levels``).
    """
    from filelock import Timeout

    main = Path(main)
    if not _part_files(main):
        return True
    lock = _lock(main)
    try:
        lock.acquire(timeout=timeout)
    except Timeout as exc:
        if timeout == 0:
            logger.debug("%s: another process is compacting it; skipped", main)
            return False
        raise TimeoutError(
            f"order-book history {main}: {lock.lock_file} was held by another process for "
            f"{timeout:g} s; not compacted (nothing lost: the parts stay and are read)"
        ) from exc
    try:
        _remove_stale_tmp(main)
        parts = _part_files(main)
        frames, _ = _read_files(([main] if main.is_file() else []) + parts, True)
        df = _merge(frames, levels)
        if df is not None:
            _write_atomic(df, main)
            for f in parts:
                with contextlib.suppress(FileNotFoundError):
                    f.unlink()
    finally:
        lock.release()
    return True


def _read_history(main: Path) -> pl.DataFrame | None:
    """Main file + parts (and the files an older version wrote under another name), read
    again while a concurrent compaction removes parts under the reader; after
    ``READ_ATTEMPTS`` such reads, once more under the compaction lock (if it can be had)."""
    old = legacy_path(main)

    def read() -> tuple[list[pl.DataFrame], bool]:
        files = (_history_files(old) if old is not None else []) + _history_files(main)
        return _read_files(files, False)

    for _ in range(READ_ATTEMPTS):
        frames, vanished = read()
        if not vanished:
            return _merge(frames, None)
    with contextlib.suppress(OSError), _lock(main).acquire(timeout=10):  # Timeout included
        frames, _ = read()
    return _merge(frames, None)


def read_orderbooks(
    path: str | os.PathLike,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a pair's history (main file + parts, and the file of an older version's name
    for it, :func:`~.names.legacy_path`): ``(timestamps_ms, bids, asks)``.

    ``bids``/``asks`` are (T, L, 2) float64 arrays ([price, size], NaN padded), sorted by
    timestamp. A missing file gives T = 0 (L = 0).
    """
    df = _read_history(Path(path))
    if df is None or df.height == 0:
        return np.empty(0, dtype=np.int64), np.empty((0, 0, 2)), np.empty((0, 0, 2))
    ts = df["timestamp"].to_numpy().astype(np.int64)
    out = []
    for side in ("bid", "ask"):
        px = np.asarray(df[f"{side}_px"].to_numpy(), dtype=np.float64)
        sz = np.asarray(df[f"{side}_sz"].to_numpy(), dtype=np.float64)
        out.append(np.stack((px, sz), axis=-1))
    return ts, out[0], out[1]


def align_to_candles(
    timestamps_ms: np.ndarray,
    bids: np.ndarray,
    asks: np.ndarray,
    candle_close_ms,
    tolerance_ms: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The last snapshot at or before each candle close, if within ``tolerance_ms``.

    ``candle_close_ms``: (C,) int64 close times (freqtrade's ``date`` is the candle *open*:
    pass ``date + timeframe``). Returns ``(bids, asks, available)`` with (C, L, 2) arrays
    (NaN rows where unavailable) and the (C,) bool mask.
    """
    ts = np.asarray(timestamps_ms, dtype=np.int64)
    close = np.asarray(candle_close_ms, dtype=np.int64)
    if ts.ndim != 1 or close.ndim != 1:
        raise ValueError("timestamps_ms and candle_close_ms must be 1-D")
    if bids.shape[0] != len(ts) or asks.shape[0] != len(ts):
        raise ValueError("bids/asks must have one row per timestamp")
    if len(ts) > 1 and np.any(np.diff(ts) < 0):
        order = np.argsort(ts, kind="stable")
        ts, bids, asks = ts[order], bids[order], asks[order]
    idx = np.searchsorted(ts, close, side="right") - 1
    ok = idx >= 0
    ok[ok] &= close[ok] - ts[idx[ok]] <= int(tolerance_ms)
    L_b, L_a = bids.shape[1], asks.shape[1]
    ob = np.full((len(close), L_b, 2), np.nan)
    oa = np.full((len(close), L_a, 2), np.nan)
    ob[ok] = bids[idx[ok]]
    oa[ok] = asks[idx[ok]]
    return ob, oa, ok


def load_recorded_for_candles(
    root: str | os.PathLike,
    exchange: str,
    pair: str,
    candle_close_ms,
    tolerance_ms: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``read_orderbooks`` + ``align_to_candles`` for one pair; empty history -> nothing."""
    ts, b, a = read_orderbooks(pair_path(root, exchange, pair))
    close = np.asarray(candle_close_ms, dtype=np.int64)
    if len(ts) == 0:
        empty = np.full((len(close), 1, 2), np.nan)
        return empty, empty.copy(), np.zeros(len(close), dtype=bool)
    return align_to_candles(ts, b, a, close, tolerance_ms)
