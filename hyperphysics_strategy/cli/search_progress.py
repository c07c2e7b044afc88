"""``hyperphysics search``'s live table: trials done, best so far, lanes busy, ETA."""

from __future__ import annotations

import math
import time

from rich.table import Table

from ..ensemble.scheduling import default_scheduler
from ..trading.search.study import finished
from ..trading.search.usage import busy_fraction


class SearchProgress:
    """Called by the search after every change (``progress(study, running)``)."""

    def __init__(self, target: int, concurrent: int) -> None:
        self.target, self.concurrent = target, concurrent
        self.started = time.perf_counter()
        self.done_at_start: int | None = None
        self.row: dict[str, str] = {}

    def __call__(self, study, running: int) -> None:
        done = finished(study)
        if self.done_at_start is None:
            self.done_at_start = len(done)
        failed = sum(t.state.name == "FAIL" for t in study.get_trials(deepcopy=False))
        pruned = sum(t.state.name == "PRUNED" for t in done)
        scored = [t.values[0] for t in done if t.values and t.values[0] > -1e4]
        now = time.perf_counter()
        new = len(done) - self.done_at_start
        left = max(0, self.target - len(done))
        eta = (now - self.started) / new * left if new else math.nan
        sched = default_scheduler()
        busy = busy_fraction(
            sched.finished_jobs(), sched.executor.cpu_budget or 1, self.started, now
        )
        self.row = {
            "trials done": f"{len(done)} / {self.target}",
            "running": str(running),
            "pruned": str(pruned),
            "failed": str(failed),
            "best bp/trade": f"{max(scored):+.1f}" if scored else "-",
            "lanes busy": f"{busy:.0%}",
            "ETA": f"{eta / 60:.0f} min" if math.isfinite(eta) else "-",
        }

    def __rich__(self) -> Table:
        table = Table(title="hyperphysics search")
        for key in self.row:
            table.add_column(key, justify="right")
        table.add_row(*self.row.values())
        return table
