"""Mirrors ``IFreqaiModel._start_scanning`` (freqtrade 2026.9): FreqAI's live training loop.

:class:`..rounds.LiveRounds` replaces that loop. It keeps FreqAI's way of choosing what to
train, which is here: the train queue (oldest model first), a pair no longer in the
whitelist leaves the queue with FreqAI's warning, ``get_pair_dict_info`` gives the pair's
last training time, and a fresh ``FreqaiDataKitchen`` decides whether a new model is due
(``check_if_new_training_required``) and where it is saved (``set_paths``). The loop runs
until FreqAI's stop event (set by ``IFreqaiModel.shutdown``) is set.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from freqtrade.configuration import TimeRange
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen

from .fingerprint import Upstream

logger = logging.getLogger(__name__)

UPSTREAM = Upstream(
    "freqtrade.freqai.freqai_interface",
    "IFreqaiModel._start_scanning",
    "2026.9",
    "9e814cefaaf0a3b6f817c3f7114cabfefa70336d49470dfc95fd7e2886c44df4",
)


@dataclass
class DuePair:
    """A pair whose model is due, with the time ranges FreqAI chose for it."""

    pair: str
    dk: FreqaiDataKitchen
    trained_timerange: TimeRange
    data_load_timerange: TimeRange


def stop_event(model: Any) -> threading.Event | None:
    """FreqAI's stop event of ``model`` (set when freqtrade shuts FreqAI down)."""
    return getattr(model, "_stop_event", None)


def due_pairs(model: Any, strategy: Any) -> list[DuePair]:
    """The pairs of FreqAI's train queue whose model is due, oldest model first; pairs
    that left the whitelist leave the queue."""
    dd, queue = model.dd, model.train_queue
    whitelist = set(strategy.dp.current_whitelist())
    for pair in [p for p in queue if p not in whitelist]:
        queue.remove(pair)
        logger.warning(f"{pair} not in current whitelist, removing from train queue.")
    due = []
    for pair in list(queue):
        with dd.pair_dict_lock:
            _, trained_timestamp = dd.get_pair_dict_info(pair)
        dk = FreqaiDataKitchen(model.config, model.live, pair)
        retrain, trained_timerange, data_load_timerange = dk.check_if_new_training_required(
            trained_timestamp
        )
        if retrain:
            dk.set_paths(pair, trained_timerange.stopts)
            due.append(DuePair(pair, dk, trained_timerange, data_load_timerange))
    return due


def to_the_back(model: Any, pairs: list[str]) -> None:
    """Move ``pairs`` (just trained) to the back of FreqAI's train queue, which stays
    oldest model first (FreqAI rotates its queue by one after each training)."""
    queue = model.train_queue
    for pair in pairs:
        if pair in queue:
            queue.remove(pair)
            queue.append(pair)


def model_ages(model: Any, now: float) -> dict[str, float]:
    """Seconds from each training range's end to ``now``, for the train queue's pairs that
    have a model, in queue order."""
    dd, ages = model.dd, {}
    with dd.pair_dict_lock:
        for pair in model.train_queue:
            info = dd.pair_dict.get(pair) or {}
            stamp = info.get("trained_timestamp") or 0
            if stamp and info.get("model_filename"):
                ages[pair] = max(0.0, now - stamp)
    return ages
