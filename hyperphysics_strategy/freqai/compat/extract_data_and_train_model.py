"""Mirrors ``IFreqaiModel.extract_data_and_train_model`` (freqtrade 2026.9): one live training.

A live round (:mod:`..rounds`) trains several pairs at once, so FreqAI's function is cut in
its two halves: :func:`training_frame` (the drawer's candles, the strategy's features, the
buffered training slice, the kitchen's features and labels), then the model's ``train``
inside :func:`tensorboard`, then :func:`publish_model` (the pair's training time, the model
saved by the drawer, feature importance plotted, old models purged), which the round runs
under one lock. Two additions: the candles' ``date`` columns are normalised (FreqAI's live
date bug, :mod:`..history_dates`) and the historic predictions and metrics are saved as
FreqAI's own loop saves them after a training.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from freqtrade.freqai.utils import get_tb_logger, plot_feature_importance
from pandas import DataFrame

from ..history_dates import normalise_date_column
from .fingerprint import Upstream
from .start_scanning import DuePair

UPSTREAM = Upstream(
    "freqtrade.freqai.freqai_interface",
    "IFreqaiModel.extract_data_and_train_model",
    "2026.9",
    "e37398ac681431241670f87f55371c49bd674a260105a591e2a74c92d70e1c8b",
)


def training_frame(model: Any, item: DuePair, strategy: Any) -> DataFrame:
    """The frame ``model.train`` trains ``item``'s pair on; ``item.dk`` knows its features
    and labels."""
    dd, dk, pair = model.dd, item.dk, item.pair
    corr_dataframes, base_dataframes = dd.get_base_and_corr_dataframes(
        item.data_load_timerange, pair, dk
    )
    for frames in (base_dataframes, *corr_dataframes.values()):
        for df in frames.values():  # copies: safe to fix outside the history lock
            normalise_date_column(df)
    unfiltered = dk.use_strategy_to_populate_indicators(
        strategy, corr_dataframes=corr_dataframes, base_dataframes=base_dataframes, pair=pair
    )
    unfiltered = dk.slice_dataframe(dk.buffer_timerange(item.trained_timerange), unfiltered)
    dk.find_features(unfiltered)
    dk.find_labels(unfiltered)
    return unfiltered


@contextlib.contextmanager
def tensorboard(model: Any, dk: Any) -> Iterator[None]:
    """FreqAI's tensorboard logger around one training (a no-op unless activated)."""
    tb_logger = get_tb_logger(model.dd.model_type, dk.data_path, model.activate_tensorboard)
    try:
        yield
    finally:
        tb_logger.close()


def publish_model(model: Any, trained: Any, item: DuePair, seconds: float) -> None:
    """Make ``trained`` ``item``'s model, with FreqAI's own steps and files."""
    dd, dk, pair = model.dd, item.dk, item.pair
    trained_timestamp = item.trained_timerange.stopts
    with dd.pair_dict_lock:
        dd.pair_dict[pair]["trained_timestamp"] = trained_timestamp
    dk.set_new_model_names(pair, trained_timestamp)
    dd.save_data(trained, pair, dk)
    if model.plot_features:
        plot_feature_importance(trained, pair, dk, model.plot_features)
    dd.purge_old_models()
    dd.save_historic_predictions_to_disk()
    if model.freqai_info.get("write_metrics_to_disk", False):
        dd.collect_metrics(seconds, pair)
        dd.save_metric_tracker_to_disk()
