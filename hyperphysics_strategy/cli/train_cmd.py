"""``hyperphysics train``: train the expert ensemble on one pair's candles, with a live table.

Features and labels are the strategy's (:func:`~hyperphysics_strategy.strategy.features.
build_training_set`), the ensemble is :class:`~hyperphysics_strategy.ensemble.
ExpertEnsemble` with the hardware module's device plan, and the progress comes from its
``on_expert_start`` / ``on_expert_done`` callbacks (the same events freqtrade's log shows).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .app import app, console, err_console

if TYPE_CHECKING:
    import pandas as pd

    from ..ensemble.ensemble import EnsembleReport
    from ..ensemble.training import TrainingOutcome

#: Characters freqtrade replaces by ``_`` in data file names (``pair_to_filename``).
_FILENAME_CHARS = "/ .@$+:"
MIN_ROWS = 100
#: The ensemble's experts (``ensemble.experts.EXPERT_REGISTRY``, in the hardware plan's
#: order; a test keeps them equal), named here so that ``--help`` needs no torch.
EXPERT_NAMES: tuple[str, ...] = (
    "lightgbm",
    "xgboost",
    "catboost",
    "xgboost_rf",
    "xgboost_dart",
    "catboost_alt",
    "mlp",
    "nbeats",
    "tide",
    "tabnet",
    "kan",
    "transformer",
)


class InputError(Exception):
    """Bad user input: reported as one line, exit code 2."""


def _fail(message: str) -> typer.Exit:
    err_console.print(Text.assemble(("hyperphysics train: ", "bold red"), message), soft_wrap=True)
    return typer.Exit(2)


def pair_filename(pair: str) -> str:
    """freqtrade's file stem of ``pair``: ``BTC/USDT`` -> ``BTC_USDT``."""
    for ch in _FILENAME_CHARS:
        pair = pair.replace(ch, "_")
    return pair


def candle_file(datadir: Path, pair: str, timeframe: str) -> Path:
    """The feather file of ``pair`` at ``timeframe`` in freqtrade's data layout.

    Spot candles are ``<datadir>/BTC_USDT-1h.feather``, futures candles
    ``<datadir>/futures/BTC_USDT_USDT-1h-futures.feather``. Raises :class:`InputError`
    naming the problem (no folder, malformed pair, no file for the pair).
    """
    if "/" not in pair:
        raise InputError(f"pair must look like BTC/USDT, got {pair!r}")
    if not datadir.is_dir():
        raise InputError(f"data directory {datadir} does not exist")
    stem = pair_filename(pair)
    candidates = [datadir / f"{stem}-{timeframe}.feather"]
    if ":" in pair:
        candidates.insert(0, datadir / "futures" / f"{stem}-{timeframe}-futures.feather")
    for path in candidates:
        if path.is_file():
            return path
    available = sorted(
        p.name[: -len(f"-{timeframe}.feather")].replace("_", "/", 1)
        for p in datadir.glob(f"*-{timeframe}.feather")
    )
    known = ", ".join(available) if available else "none"
    raise InputError(
        f"unknown pair {pair}: no {timeframe} candles for it in {datadir} "
        f"(looked for {candidates[-1].name}; pairs with {timeframe} candles there: {known})"
    )


def parse_experts(text: str) -> list[str]:
    """``--experts``: comma-separated registry names, or ``all`` (the twelve)."""
    from ..engine.hardware import DEFAULT_EXPERT_NAMES
    from ..ensemble.experts import EXPERT_REGISTRY

    if text.strip().lower() == "all":
        return list(DEFAULT_EXPERT_NAMES)
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError("--experts names no expert")
    unknown = [n for n in names if n not in EXPERT_REGISTRY]
    if unknown:
        raise InputError(
            f"unknown expert {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(EXPERT_REGISTRY)}, or all)"
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"expert listed twice: {', '.join(twice)}")
    return names


def load_training_set(
    path: Path, rows: int | None, horizon: int
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Features, labels and candle dates of the last ``rows`` usable rows of ``path``."""
    import pandas as pd

    from ..strategy.features import build_training_set

    try:
        candles = pd.read_feather(path)
    except Exception as exc:  # not a feather file, unreadable
        raise InputError(f"cannot read {path}: {exc}") from exc
    missing = {"date", "open", "high", "low", "close", "volume"} - set(candles.columns)
    if missing:
        raise InputError(f"{path} lacks the candle columns {sorted(missing)}")
    candles = candles.sort_values("date").drop_duplicates("date").reset_index(drop=True)
    X, y = build_training_set(candles, horizon=horizon)
    if rows is not None:
        X, y = X.iloc[-rows:], y.iloc[-rows:]
    if len(y) < MIN_ROWS:
        raise InputError(
            f"{path.name}: only {len(y)} usable rows after the features' warm-up and the "
            f"{horizon}-candle label horizon; at least {MIN_ROWS} are needed"
        )
    return X, y, candles.loc[X.index, "date"]


# -- the live table ----------------------------------------------------------------------


@dataclass
class _Row:
    device: str
    status: str = "queued"
    started: float | None = None
    seconds: float | None = None
    val_log_loss: float | None = None
    weight: float | None = None
    note: str = ""


class TrainingProgress:
    """One row per expert, updated from the ensemble's callbacks (any thread)."""

    STYLES = {"queued": "dim", "training": "yellow", "done": "green", "dropped": "red"}

    def __init__(self, planned: list[tuple[str, str]], title: str) -> None:
        self.rows = {name: _Row(device) for name, device in planned}
        self.title = title
        self._lock = threading.Lock()

    def on_start(self, name: str, device: str) -> None:
        with self._lock:
            row = self.rows.setdefault(name, _Row(device))
            row.device, row.status, row.started = device, "training", time.perf_counter()

    def on_done(self, outcome: TrainingOutcome) -> None:
        with self._lock:
            row = self.rows.setdefault(outcome.expert.name, _Row(outcome.device))
            row.device = outcome.device or row.device
            row.seconds = outcome.seconds
            row.status = "done" if outcome.ok else "dropped"
            row.note = outcome.worker + (", retried on cpu" if outcome.retried_on_cpu else "")
            if not outcome.ok:
                row.note = outcome.error or "failed"

    def finish(self, report: EnsembleReport) -> None:
        """Blend weights and validation log-losses once the ensemble is fitted."""
        with self._lock:
            for r in report.experts:
                row = self.rows.get(r.name)
                if row is None or r.error:
                    continue
                row.weight, row.val_log_loss = r.weight, r.val_log_loss

    def __rich__(self) -> Table:
        with self._lock:
            table = Table(title=self.title)
            for col, justify in (
                ("expert", "left"),
                ("device", "left"),
                ("status", "left"),
                ("seconds", "right"),
                ("val log-loss", "right"),
                ("weight", "right"),
                ("note", "left"),
            ):
                table.add_column(col, justify=justify)  # type: ignore[arg-type]
            now = time.perf_counter()
            for name, row in self.rows.items():
                seconds = row.seconds
                if seconds is None and row.started is not None:
                    seconds = now - row.started
                table.add_row(
                    name,
                    row.device,
                    Text(row.status, style=self.STYLES.get(row.status, "")),
                    "-" if seconds is None else f"{seconds:.1f}",
                    "-" if row.val_log_loss is None else f"{row.val_log_loss:.4f}",
                    "-" if row.weight is None else f"{row.weight:.3f}",
                    Text(row.note, style="red" if row.status == "dropped" else "dim"),
                )
            return table


# -- the command ------------------------------------------------------------------------


@contextmanager
def _log_to(target: Console, verbose: bool) -> Iterator[None]:
    """The package's log lines (warnings; with ``verbose`` also info) on ``target``, which
    keeps them above the live table, for the duration of the command."""
    from rich.logging import RichHandler

    log = logging.getLogger("hyperphysics_strategy")
    handler = RichHandler(console=target, show_path=False, markup=False)
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    # the drift summary is a line of the report printed at the end
    handler.addFilter(lambda r: not r.getMessage().startswith("ensemble: feature drift"))
    previous_level, previous_propagate = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(min(handler.level, log.getEffectiveLevel()))
    log.propagate = False  # once is enough: not again through the root logger's handlers
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(previous_level)
        log.propagate = previous_propagate


def _save(directory: Path, ensemble: Any, meta: dict[str, Any]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for expert in ensemble.experts:
        expert.save(directory / expert.name)
        written.append(directory / expert.name)
    weights = zip(ensemble.experts, ensemble.weights, strict=True)
    report = {
        **meta,
        "classes": list(ensemble.codec.classes),
        "weights": {e.name: float(w) for e, w in weights},
        "report": ensemble.report.to_dict(),
    }
    tmp = directory / "report.json.tmp"
    tmp.write_text(json.dumps(report, indent=2, default=str))
    tmp.replace(directory / "report.json")
    written.append(directory / "report.json")
    return written


@app.command("train", short_help="Train the expert ensemble on one pair's candles.")
def train(
    datadir: Path = typer.Option(
        Path("user_data/data/binance"),
        "--datadir",
        help="freqtrade data folder with <BASE>_<QUOTE>-<timeframe>.feather candle files.",
    ),
    pair: str = typer.Option("BTC/USDT", "--pair", help="Pair to train on."),
    timeframe: str = typer.Option("1h", "--timeframe", help="Candle timeframe."),
    experts: str = typer.Option(
        "lightgbm,xgboost",
        "--experts",
        help=f"Comma-separated expert names from {', '.join(EXPERT_NAMES)}; or 'all' (the "
        "twelve).",
    ),
    rows: int | None = typer.Option(
        None,
        "--rows",
        min=1,
        help="Train on the last N usable rows (after the features' warm-up); default all.",
    ),
    save: Path | None = typer.Option(
        None,
        "--save",
        help="Folder for each expert's native save (<DIR>/<expert>/) and report.json.",
    ),
    horizon: int = typer.Option(
        12, "--horizon", min=1, help="Label horizon in candles (label_period_candles)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the experts."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Also show the training log (placements, workers)."
    ),
) -> None:
    """Train the expert ensemble on one pair's candles, showing each expert's progress."""
    try:
        path = candle_file(datadir, pair.strip().upper(), timeframe)
        names = parse_experts(experts)
        X, y, dates = load_training_set(path, rows, horizon)
    except InputError as exc:
        raise _fail(str(exc)) from exc

    from ..engine.hardware import DevicePlan, get_hardware_info
    from ..engine.hardware.summary import summary_lines
    from ..ensemble import ExpertEnsemble

    pair = pair.strip().upper()
    ensemble = ExpertEnsemble(names, embargo=horizon, seed=seed, feature_names=list(X.columns))
    info = get_hardware_info()
    plan = DevicePlan.build([(e.name, e.library) for e in ensemble.experts], info=info)
    counts = y.value_counts().to_dict()
    console.print(
        f"[bold]{pair}[/bold] {timeframe}: {len(y)} rows x {X.shape[1]} features "
        f"({dates.iloc[0]:%Y-%m-%d %H:%M} to {dates.iloc[-1]:%Y-%m-%d %H:%M}), labels over "
        f"{horizon} candles: "
        + ", ".join(f"{c} {counts.get(c, 0)}" for c in ensemble.codec.classes),
        highlight=False,
        soft_wrap=True,
    )
    progress = TrainingProgress(
        [(p.task, str(p.device)) for p in plan], f"Training {len(names)} expert(s)"
    )
    started = time.perf_counter()
    try:
        # transient: in a terminal the live table gives way to the final one printed
        # below; elsewhere (a file, a pipe) only the final table is written
        with (
            _log_to(console, verbose),
            Live(progress, console=console, refresh_per_second=4, transient=True),
        ):
            ensemble.fit(
                X.to_numpy("float32"),
                y.to_numpy(),
                on_expert_start=progress.on_start,
                on_expert_done=progress.on_done,
            )
    except RuntimeError as exc:  # every expert failed
        console.print(progress)
        err_console.print(
            Text.assemble(("hyperphysics train: ", "bold red"), str(exc)), soft_wrap=True
        )
        raise typer.Exit(1) from exc
    progress.finish(ensemble.report)
    console.print(progress)
    for line in [*ensemble.report.lines(), *summary_lines(info, plan)]:
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if save is not None:
        meta = {
            "pair": pair,
            "timeframe": timeframe,
            "candles": str(path),
            "rows": len(y),
            "first_date": str(dates.iloc[0]),
            "last_date": str(dates.iloc[-1]),
            "horizon": horizon,
            "seed": seed,
            "feature_names": list(X.columns),
            "seconds": round(time.perf_counter() - started, 3),
        }
        written = _save(save, ensemble, meta)
        console.print(f"saved {len(written) - 1} expert(s) and report.json in {save}")
