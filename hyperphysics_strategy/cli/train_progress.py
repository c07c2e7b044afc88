"""``hyperphysics train``'s live table: one row per expert and per stacking fold, fed by
the ensemble's callbacks and its fold log lines, and the log routed above the table."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from ..ensemble.report import EnsembleReport
    from ..ensemble.scheduling import TrainingOutcome


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

    STYLES = {
        "queued": "dim",
        "training": "yellow",
        "done": "green",
        "dropped": "red",
        "left out": "red",
        "skipped": "dim",
    }

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
            experts = [r for k, r in self.rows.items() if not k.startswith("fold ")]
            all_done = all(r.status in ("done", "dropped") for r in experts)
        if all_done:
            self.folds_started()

    def on_fold(self, n: int, total: int, status: str, seconds: float | None) -> None:
        """A stacking fold finished (``done``/``left out``/``skipped``): mark it, and the
        next fold as training."""
        with self._lock:
            # fewer rows than planned give fewer folds: drop the planned rows
            for key in [k for k in self.rows if k.startswith("fold ")]:
                if not key.endswith(f"/{total}"):
                    del self.rows[key]
            row = self.rows.setdefault(f"fold {n}/{total}", _Row("-", note="stacking"))
            row.status, row.seconds, row.started = status, seconds, None
            if n < total:
                nxt = self.rows.setdefault(f"fold {n + 1}/{total}", _Row("-", note="stacking"))
                nxt.status, nxt.started = "training", time.perf_counter()

    def add_folds(self, total: int) -> None:
        with self._lock:
            for n in range(1, total + 1):
                self.rows.setdefault(f"fold {n}/{total}", _Row("-", note="stacking"))

    def folds_started(self) -> None:
        """Every expert is done: the first stacking fold trains now."""
        with self._lock:
            first = next((r for k, r in self.rows.items() if k.startswith("fold ")), None)
            if first is not None and first.status == "queued":
                first.status, first.started = "training", time.perf_counter()

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


@contextmanager
def log_to(target: Console, verbose: bool) -> Iterator[None]:
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


class FoldLog(logging.Handler):
    """Turns the ensemble's "stacking fold n/N ..." log lines into progress rows."""

    PATTERN = re.compile(r"stacking fold (\d+)/(\d+)(?:: .* in ([0-9.]+)s| (left out|skipped))")

    def __init__(self, progress: TrainingProgress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        match = self.PATTERN.match(record.getMessage())
        if match:
            n, total, seconds, other = match.groups()
            status = other or "done"
            self.progress.on_fold(int(n), int(total), status, float(seconds) if seconds else None)
