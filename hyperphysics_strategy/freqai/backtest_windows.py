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
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from freqtrade.freqai.data_kitchen import FreqaiDataKitchen
from pandas import DataFrame

from .model_identity import note_features, predictions_reusable

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


@dataclass
class _Trained:
    """What training window ``k`` produced in its own kitchen."""

    model: Any
    attributes: dict[str, Any]  # kitchen attributes training replaced
    data: dict[str, Any]  # dk.data entries training set
    new_data: dict[str, Any] | None  # dk.data itself, when training replaced it


def _kitchen_changes(dk: FreqaiDataKitchen, before: dict[str, Any], data_before: dict) -> tuple:
    """Attributes and ``dk.data`` entries that training replaced (``before`` keeps the old
    objects alive, so an identity test cannot be fooled by a reused id)."""
    attributes = {k: v for k, v in vars(dk).items() if k != "data" and before.get(k) is not v}
    if dk.data is not before["data"]:
        return attributes, {}, dk.data
    data = {k: v for k, v in dk.data.items() if data_before.get(k, _MISSING) is not v}
    return attributes, data, None


_MISSING = object()


def _train_window(model: Any, df: DataFrame, pair: str, dk: FreqaiDataKitchen) -> _Trained:
    before = dict(vars(dk))
    data_before = dict(dk.data)
    # the class's own train, not the stand-in this module puts on the instance
    fitted = type(model).train(model, df, pair, dk)
    attributes, data, new_data = _kitchen_changes(dk, before, data_before)
    return _Trained(fitted, attributes, data, new_data)


def _apply(trained: _Trained, dk: FreqaiDataKitchen) -> None:
    for name, value in trained.attributes.items():
        setattr(dk, name, value)
    if trained.new_data is not None:
        dk.data = trained.new_data
    else:
        dk.data.update(trained.data)


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
        kitchen = FreqaiDataKitchen(model.config, False, self.pair)
        self.windows = list(
            zip(kitchen.training_timeranges, kitchen.backtesting_timeranges, strict=False)
        )
        self.names: list[str] = []
        for tr_train, _ in self.windows:
            kitchen.set_new_model_names(self.pair, int(tr_train.stopts))
            self.names.append(kitchen.model_filename)
        self.next_window = 0  # windows before this one are prepared (or skipped)
        self.populated: DataFrame | None = None
        self.futures: dict[str, Future[_Trained]] = {}
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="hp-window")
        self.trained_ahead = 0

    # -- FreqAI's loop calls this instead of model.train --------------------------------
    def train(self, unfiltered_df: DataFrame, pair: str, dk: FreqaiDataKitchen, **kwargs: Any):
        name = dk.model_filename
        if pair != self.pair or name not in self.names or kwargs:
            return type(self.model).train(self.model, unfiltered_df, pair, dk, **kwargs)
        k = self.names.index(name)
        if name not in self.futures and self.next_window <= k:
            # FreqAI's own frame for this window, the others prepared here
            self.next_window = k + 1
            self._submit(name, unfiltered_df, self._kitchen_like(dk, unfiltered_df))
        self._prepare_until(k + 1 + self.lookahead)
        future = self.futures.pop(name, None)
        if future is None:  # not foreseen (e.g. a model file vanished): train it here
            logger.info("HyperPhysics %s: training window %s in FreqAI's loop", pair, name)
            return type(self.model).train(self.model, unfiltered_df, pair, dk)
        trained = future.result()  # a training error is raised here, where FreqAI catches it
        _apply(trained, dk)
        return trained.model

    # -- preparing windows as FreqAI's loop would --------------------------------------
    def _kitchen_like(self, dk: FreqaiDataKitchen, df_train: DataFrame) -> FreqaiDataKitchen:
        """A fresh kitchen in the state FreqAI's loop leaves ``dk`` in before training."""
        own = FreqaiDataKitchen(self.model.config, False, self.pair)
        own.data_path = dk.data_path
        own.model_filename = dk.model_filename
        own.get_unique_classes_from_labels(df_train)
        own.find_features(df_train)
        own.find_labels(df_train)
        return own

    def record_populated(self, dk: FreqaiDataKitchen) -> None:
        """Keep the features FreqAI's loop computes on the pair's dataframe (once per pair,
        before its first training), so that preparing the other windows does not compute
        them a second time."""
        original = dk.use_strategy_to_populate_indicators

        def populate(strategy: Any, *args: Any, **kwargs: Any) -> DataFrame:
            out = original(strategy, *args, **kwargs)
            if kwargs.get("prediction_dataframe") is self.raw:
                self.populated = out
            return out

        dk.use_strategy_to_populate_indicators = populate

    def _populated_frame(self) -> DataFrame:
        if self.populated is None:  # FreqAI's loop has not computed them: compute them here
            kitchen = FreqaiDataKitchen(self.model.config, False, self.pair)
            self.populated = kitchen.use_strategy_to_populate_indicators(
                self.strategy, prediction_dataframe=self.raw, pair=self.pair
            )
        return self.populated

    def _prepare_until(self, stop: int) -> None:
        while self.next_window < min(stop, len(self.windows)):
            k = self.next_window
            self.next_window += 1
            try:
                prepared = self._prepare(k)
            except Exception as exc:  # left to FreqAI's loop, which meets it in sequence
                logger.debug("HyperPhysics %s: window %s not prepared ahead: %r", self.pair, k, exc)
                continue
            if prepared is not None:
                self._submit(self.names[k], *prepared)

    def _prepare(self, k: int) -> tuple[DataFrame, FreqaiDataKitchen] | None:
        """Window ``k``'s training frame and kitchen, or None when FreqAI will not train it
        (the same tests, in the same order, as ``IFreqaiModel.start_backtesting``)."""
        model, pair = self.model, self.pair
        tr_train, tr_backtest = (copy.deepcopy(tr) for tr in self.windows[k])
        df = self.raw
        in_backtest = (df["date"] >= tr_backtest.startdt) & (df["date"] < tr_backtest.stopdt)
        len_backtest_df = int(in_backtest.sum())
        if not model.ensure_data_exists(len_backtest_df, tr_backtest, pair):
            return None
        dk = FreqaiDataKitchen(model.config, False, pair)
        timestamp = int(tr_train.stopts)
        dk.set_paths(pair, timestamp)
        dk.set_new_model_names(pair, timestamp)
        if predictions_reusable(getattr(model, "dd", None), dk, len_backtest_df, log=False):
            return None
        populated = self._populated_frame()
        base_train = populated.loc[populated["date"] < tr_train.stopdt, :]
        base_train = self.strategy.set_freqai_targets(base_train, metadata=self.metadata)
        tr_train = dk.buffer_timerange(tr_train)
        df_train = dk.slice_dataframe(tr_train, base_train)
        df_train = dk.remove_special_chars_from_feature_names(df_train)
        dk.get_unique_classes_from_labels(df_train)
        note_features(dk, df_train)  # what model_exists compares a saved model with
        if model.model_exists(dk):
            return None
        dk.find_features(df_train)
        dk.find_labels(df_train)
        return df_train, dk

    def _submit(self, name: str, df_train: DataFrame, dk: FreqaiDataKitchen) -> None:
        self.trained_ahead += 1
        self.futures[name] = self.pool.submit(_train_window, self.model, df_train, self.pair, dk)

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
    dk: FreqaiDataKitchen,
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
    trainer.record_populated(dk)
    logger.info(
        "HyperPhysics %s: up to %d of %d backtest windows train at once",
        metadata["pair"],
        workers,
        len(trainer.windows),
    )
    model.train = trainer.train  # an instance attribute: the class's train is untouched
    try:
        yield trainer
    finally:
        del model.train
        del dk.use_strategy_to_populate_indicators
        trainer.close()
