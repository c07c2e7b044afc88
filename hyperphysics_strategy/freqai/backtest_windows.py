"""A pair's backtest windows trained concurrently, with the results of a sequential run.

FreqAI's ``IFreqaiModel.start_backtesting`` walks a pair's sliding windows one after the
other: prepare window *k*'s training frame, train, save, predict window *k*'s backtest
candles, then window *k+1*. Its training is the only slow step, and a window's training
depends only on that window's candles, never on an earlier window's model. So
:func:`concurrent_windows` lets FreqAI's own loop run unchanged, while training runs
ahead of it:

* the first time the loop asks for a model, this module prepares the next windows that
  FreqAI is going to train, exactly as the loop does (the strategy's features once per
  pair, ``set_freqai_targets``, the buffered training slice, the same skips: a window whose
  saved backtest predictions are valid, or whose model is already saved, is not trained),
  each in **its own** ``FreqaiDataKitchen``, and trains them in a thread pool;
* the loop's ``train`` call for window *k* waits for window *k*'s result and copies what
  training wrote into the kitchen (``data_dictionary``, ``feature_pipeline``,
  ``train_dates``, the ``dk.data`` entries: label means, extra returns, the ensemble
  report) onto the loop's kitchen; a training error is raised there, so FreqAI logs it and
  appends null predictions as it always does;
* everything else stays in FreqAI's loop, in the main thread and in window order: saving
  (``save_backtest_models``, the crash-safe :mod:`.model_store` wrapper, which swaps drawer
  methods and so must never run from two threads), ``pair_dict``, the predictions, their
  feather files and their reuse. A window the lookahead did not prepare is trained in
  the loop's thread, as FreqAI would.

Results equal a sequential run: every window trains on the same frame with the same
expert seeds (``seed + i``, fixed per expert, not per window) and the same placements and
thread counts; experts that are not thread-safe keep their locks (torch experts train
one at a time per process under ``torch_base._THREAD_LOCK`` or in their own worker
process); :mod:`..ensemble.durations` is locked. Training reads nothing of FreqAI's data
drawer. At most ``2 x workers`` windows are prepared ahead of the loop, so memory stays
bounded however many windows the backtest has.

Only one pair at a time: freqtrade backtesting hands FreqAI one pair's strategy
dataframe per call (``IStrategy.advise_all_indicators`` loops over the pairs), and the
features and targets are user code run on that dataframe, so a pair's call cannot build
another pair's training frames without running the strategy for it (docs/scheduling.md).

The steps that repeat FreqAI's loop, and the hooks into it, live in
:mod:`.compat.start_backtesting`.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

from pandas import DataFrame

from .compat.start_backtesting import (
    Trained,
    backtest_windows,
    kitchen_like,
    populate_features,
    prepare_window,
    train_in_kitchen,
    window_hooks,
    window_name,
)

logger = logging.getLogger(__name__)


def auto_window_workers(n_experts: int, gpu_count: int, cores: int) -> int:
    """Windows trained at once when ``concurrent_windows`` is null.

    A window's experts already share the usable cores (all but one of the ``cores`` this
    process may use; the spare one is for freqtrade, idle while a backtest trains) and one
    GPU each, round-robin. So on CPUs a second window fills the first one's gaps and the
    spare core (FreqAI's data split and pipeline, stacking folds, the slowest expert
    trailing): 2. With GPUs, enough windows that their experts cover every GPU:
    ``ceil(gpus / experts)``, at least 2. One core and no GPU: 1 (sequential).
    """
    if gpu_count <= 0 and cores < 2:
        return 1
    return max(2, math.ceil(gpu_count / max(1, n_experts)))


def hardware_window_workers(n_experts: int) -> int:
    """:func:`auto_window_workers` for this machine (cached hardware detection)."""
    from hyperphysics_strategy.engine.hardware import get_hardware_info

    info = get_hardware_info()
    return auto_window_workers(n_experts, info.gpu_count, info.cpu.allowed_cores)


class WindowTrainer:
    """Trains one pair's backtest windows ahead of FreqAI's loop; :meth:`train` stands in
    for the model's ``train`` inside that loop."""

    def __init__(
        self, model: Any, dataframe: DataFrame, metadata: dict, strategy: Any, workers: int
    ) -> None:
        self.model = model
        self.raw = dataframe
        self.metadata = metadata
        self.pair: str = metadata["pair"]
        self.strategy = strategy
        self.workers = workers
        self.lookahead = 2 * workers
        self.windows = backtest_windows(model, self.pair)
        self.names: list[str] = [name for _, _, name in self.windows]
        self.next_window = 0  # windows before this one are prepared (or skipped)
        self.populated: DataFrame | None = None
        self.futures: dict[str, Future[Trained]] = {}
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="hp-window")
        self.trained_ahead = 0

    # -- FreqAI's loop calls this instead of model.train --------------------------------
    def train(self, unfiltered_df: DataFrame, pair: str, dk: Any, **kwargs: Any):
        name = window_name(dk)
        if pair != self.pair or name not in self.names or kwargs:
            return type(self.model).train(self.model, unfiltered_df, pair, dk, **kwargs)
        k = self.names.index(name)
        if name not in self.futures and self.next_window <= k:
            # FreqAI's own frame for this window, the others prepared here
            self.next_window = k + 1
            own = kitchen_like(self.model, self.pair, dk, unfiltered_df)
            self._submit(name, unfiltered_df, own)
        self._prepare_until(k + 1 + self.lookahead)
        future = self.futures.pop(name, None)
        if future is None:  # not foreseen (e.g. a model file vanished): train it here
            logger.info("HyperPhysics %s: training window %s in FreqAI's loop", pair, name)
            return type(self.model).train(self.model, unfiltered_df, pair, dk)
        trained = future.result()  # a training error is raised here, where FreqAI catches it
        trained.apply(dk)
        return trained.model

    # -- preparing windows as FreqAI's loop would --------------------------------------
    def record_populated(self, frame: DataFrame) -> None:
        """Keep the features FreqAI's loop computes on the pair's dataframe (once per pair,
        before its first training), so that preparing the other windows does not compute
        them a second time."""
        self.populated = frame

    def _populated_frame(self) -> DataFrame:
        if self.populated is None:  # FreqAI's loop has not computed them: compute them here
            self.populated = populate_features(self.model, self.strategy, self.raw, self.pair)
        return self.populated

    def _prepare_until(self, stop: int) -> None:
        while self.next_window < min(stop, len(self.windows)):
            k = self.next_window
            self.next_window += 1
            try:
                prepared = prepare_window(
                    self.model,
                    self.windows[k],
                    self.raw,
                    self._populated_frame,
                    self.strategy,
                    self.metadata,
                )
            except Exception as exc:  # left to FreqAI's loop, which meets it in sequence
                logger.debug("HyperPhysics %s: window %s not prepared ahead: %r", self.pair, k, exc)
                continue
            if prepared is not None:
                self._submit(self.names[k], *prepared)

    def _submit(self, name: str, df_train: DataFrame, dk: Any) -> None:
        self.trained_ahead += 1
        # the class's own train, not the stand-in this module puts on the instance
        train = partial(type(self.model).train, self.model)
        self.futures[name] = self.pool.submit(train_in_kitchen, train, df_train, self.pair, dk)

    def close(self) -> None:
        """Drop windows the loop never asked for (it raised) and wait for running ones."""
        for future in self.futures.values():
            future.cancel()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.futures.clear()
        logger.info(
            "HyperPhysics %s: %d of %d backtest windows trained concurrently",
            self.pair,
            self.trained_ahead,
            len(self.windows),
        )


@contextlib.contextmanager
def concurrent_windows(
    model: Any,
    dataframe: DataFrame,
    metadata: dict,
    dk: Any,
    strategy: Any,
    workers: int,
) -> Iterator[WindowTrainer | None]:
    """Within the block, ``model.train`` called by FreqAI's backtesting loop (for the pair
    of ``dataframe``, with kitchen ``dk``) returns the windows trained ahead by ``workers``
    threads; ``workers <= 1``: nothing changes."""
    if workers <= 1:
        yield None
        return
    trainer = WindowTrainer(model, dataframe, metadata, strategy, workers)
    logger.info(
        "HyperPhysics %s: up to %d of %d backtest windows train at once",
        metadata["pair"],
        workers,
        len(trainer.windows),
    )
    try:
        with window_hooks(model, dk, dataframe, trainer.train, trainer.record_populated):
            yield trainer
    finally:
        trainer.close()
