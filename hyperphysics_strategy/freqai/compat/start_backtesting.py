"""Mirrors ``IFreqaiModel.start_backtesting`` (freqtrade 2026.9): FreqAI's backtesting loop.

The loop runs unchanged; this package hooks into it and repeats its steps ahead of it:

* :func:`backtest_checks`: the loop calls ``dk.get_unique_classes_from_labels(frame)`` right
  before ``model_exists`` (the window's features are noted there) and asks
  ``dk.check_if_backtest_prediction_is_valid`` whether a window's saved predictions are
  reused (they are only while the model identity matches, :mod:`..model_identity`);
* :func:`window_hooks`: while a pair's windows train ahead of the loop
  (:mod:`..backtest_windows`), the loop's ``self.train`` is an instance attribute, and the
  features the loop computes once per pair (``use_strategy_to_populate_indicators`` with
  the pair's dataframe) are handed over, so they are not computed twice;
* :func:`backtest_windows` and :func:`prepare_window`: each window's model name, and its
  training frame and kitchen, with the same steps and skips, in the same order, as the
  loop (a window whose predictions are reusable, or whose model is saved, is not trained);
* :func:`train_in_kitchen` / :meth:`Trained.apply`: what training wrote on its own kitchen
  (attributes and ``dk.data`` entries), copied onto the loop's kitchen.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freqtrade.configuration import TimeRange
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen
from pandas import DataFrame

from ..model_identity import log_once, note_features, saved_model_change
from .fingerprint import Upstream

UPSTREAM = Upstream(
    "freqtrade.freqai.freqai_interface",
    "IFreqaiModel.start_backtesting",
    "2026.9",
    "f3546e5dccf5c4267d22083e68812c0bbbd92b070b1e780927f55c8b639b9d6d",
)


def predictions_reusable(data_drawer: Any, dk: Any, rows: int, log: bool = True) -> bool:
    """FreqAI's ``check_if_backtest_prediction_is_valid``, and the window's model was
    trained with the same expert set, features and labels as the model's now."""
    if not type(dk).check_if_backtest_prediction_is_valid(dk, rows):
        return False
    change = saved_model_change(data_drawer, dk)
    if change and log:
        log_once(
            data_drawer,
            Path(dk.data_path),
            "HyperPhysics %s: retraining %s, not reusing its saved backtest predictions: %s",
            dk.pair,
            Path(dk.data_path).name,
            change,
        )
    return not change


@contextlib.contextmanager
def backtest_checks(dk: Any, data_drawer: Any) -> Iterator[None]:
    """Within the block, FreqAI's backtesting loop (kitchen ``dk``) notes each window's
    features (it calls ``get_unique_classes_from_labels(frame)`` right before
    ``model_exists``) and reuses a window's saved predictions only while
    :func:`predictions_reusable`."""
    labels = dk.get_unique_classes_from_labels

    def noting(dataframe: Any) -> Any:
        note_features(dk, dataframe)
        return labels(dataframe)

    dk.get_unique_classes_from_labels = noting
    dk.check_if_backtest_prediction_is_valid = lambda rows: predictions_reusable(
        data_drawer, dk, rows
    )
    try:
        yield
    finally:
        del dk.get_unique_classes_from_labels
        del dk.check_if_backtest_prediction_is_valid


@contextlib.contextmanager
def window_hooks(
    model: Any,
    dk: Any,
    raw: DataFrame,
    train: Callable[..., Any],
    populated: Callable[[DataFrame], None],
) -> Iterator[None]:
    """Within the block, the loop's ``model.train`` is ``train`` (the class's is untouched),
    and ``populated(frame)`` receives the features the loop computes on ``raw``."""
    original = dk.use_strategy_to_populate_indicators

    def populate(strategy: Any, *args: Any, **kwargs: Any) -> DataFrame:
        out = original(strategy, *args, **kwargs)
        if kwargs.get("prediction_dataframe") is raw:
            populated(out)
        return out

    dk.use_strategy_to_populate_indicators = populate
    model.train = train
    try:
        yield
    finally:
        del model.train
        del dk.use_strategy_to_populate_indicators


def window_name(dk: Any) -> str:
    """The name of the model the loop is training with kitchen ``dk``."""
    return dk.model_filename


def backtest_windows(model: Any, pair: str) -> list[tuple[TimeRange, TimeRange, str]]:
    """The loop's windows of ``pair``: (training range, backtest range, model name)."""
    kitchen = FreqaiDataKitchen(model.config, False, pair)
    out = []
    for tr_train, tr_backtest in zip(
        kitchen.training_timeranges, kitchen.backtesting_timeranges, strict=False
    ):
        kitchen.set_new_model_names(pair, int(tr_train.stopts))
        out.append((tr_train, tr_backtest, kitchen.model_filename))
    return out


def kitchen_like(model: Any, pair: str, dk: Any, df_train: DataFrame) -> FreqaiDataKitchen:
    """A fresh kitchen in the state the loop leaves ``dk`` in right before training."""
    own = FreqaiDataKitchen(model.config, False, pair)
    own.data_path = dk.data_path
    own.model_filename = dk.model_filename
    own.get_unique_classes_from_labels(df_train)
    own.find_features(df_train)
    own.find_labels(df_train)
    return own


def populate_features(model: Any, strategy: Any, raw: DataFrame, pair: str) -> DataFrame:
    """The strategy's features on the pair's whole dataframe, as the loop computes them."""
    kitchen = FreqaiDataKitchen(model.config, False, pair)
    return kitchen.use_strategy_to_populate_indicators(
        strategy, prediction_dataframe=raw, pair=pair
    )


def prepare_window(
    model: Any,
    window: tuple[TimeRange, TimeRange, str],
    raw: DataFrame,
    features: Callable[[], DataFrame],
    strategy: Any,
    metadata: dict,
) -> tuple[DataFrame, FreqaiDataKitchen] | None:
    """The window's training frame and kitchen, or None when the loop will not train it
    (the same tests, in the same order); ``features()``: the pair's populated frame."""
    pair = metadata["pair"]
    tr_train, tr_backtest = (copy.deepcopy(tr) for tr in window[:2])
    in_backtest = (raw["date"] >= tr_backtest.startdt) & (raw["date"] < tr_backtest.stopdt)
    len_backtest_df = int(in_backtest.sum())
    if not model.ensure_data_exists(len_backtest_df, tr_backtest, pair):
        return None
    dk = FreqaiDataKitchen(model.config, False, pair)
    timestamp = int(tr_train.stopts)
    dk.set_paths(pair, timestamp)
    dk.set_new_model_names(pair, timestamp)
    if predictions_reusable(getattr(model, "dd", None), dk, len_backtest_df, log=False):
        return None
    populated = features()
    base_train = populated.loc[populated["date"] < tr_train.stopdt, :]
    base_train = strategy.set_freqai_targets(base_train, metadata=metadata)
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


_MISSING = object()


@dataclass
class Trained:
    """What training a window produced in its own kitchen."""

    model: Any
    attributes: dict[str, Any]  # kitchen attributes training replaced
    data: dict[str, Any]  # dk.data entries training set
    new_data: dict[str, Any] | None  # dk.data itself, when training replaced it

    def apply(self, dk: Any) -> None:
        """Copy what training wrote onto the loop's kitchen ``dk``."""
        for name, value in self.attributes.items():
            setattr(dk, name, value)
        if self.new_data is not None:
            dk.data = self.new_data
        else:
            dk.data.update(self.data)


def train_in_kitchen(train: Callable[..., Any], df: DataFrame, pair: str, dk: Any) -> Trained:
    """``train(df, pair, dk)``, and the attributes and ``dk.data`` entries it replaced (the
    old objects are kept alive meanwhile, so a reused id cannot fool the identity test)."""
    before = dict(vars(dk))
    data_before = dict(dk.data)
    fitted = train(df, pair, dk)
    attributes = {k: v for k, v in vars(dk).items() if k != "data" and before.get(k) is not v}
    if dk.data is not before["data"]:
        return Trained(fitted, attributes, {}, dk.data)
    data = {k: v for k, v in dk.data.items() if data_before.get(k, _MISSING) is not v}
    return Trained(fitted, attributes, data, None)
