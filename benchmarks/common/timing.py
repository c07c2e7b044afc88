"""Wall-clock timing shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable


def wall_times(
    fn: Callable[[], object],
    repeat: int,
    *,
    warmup: bool = True,
    sync: Callable[[], object] = lambda: None,
) -> list[float]:
    """Seconds of each of ``repeat`` calls of ``fn``, after one untimed call when ``warmup``
    (JIT compilation, caches). ``sync`` runs after each call and inside its time: pass
    ``torch.cuda.synchronize`` so that queued GPU work counts."""
    if warmup:
        fn()
        sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return times


def best_time(
    fn: Callable[[], object],
    repeat: int = 3,
    *,
    warmup: bool = True,
    sync: Callable[[], object] = lambda: None,
) -> float:
    """The shortest of :func:`wall_times` (the least disturbed run on a shared machine)."""
    return min(wall_times(fn, repeat, warmup=warmup, sync=sync))
