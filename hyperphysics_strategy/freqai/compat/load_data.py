"""Wraps ``FreqaiDataDrawer.load_data`` (freqtrade 2026.9): a model folder verified first.

Before FreqAI's ``load_data`` unpickles a saved model (live: the folder ``pair_dict``
names, unless the model is in ``model_dictionary`` already; backtesting: ``dk.data_path``),
the folder is checked against its manifest and its model identity. A corrupt folder
raises in backtesting; in live mode it, or a model trained with another identity, resets
the pair to FreqAI's ``empty_pair_dict`` (never trained) and loads nothing, so FreqAI
predicts nothing for the candle and retrains.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..model_identity import saved_model_change
from ..model_store import verified_model_folder
from .fingerprint import Upstream

logger = logging.getLogger(__name__)

UPSTREAM = Upstream(
    "freqtrade.freqai.data_drawer",
    "FreqaiDataDrawer.load_data",
    "2026.9",
    "05b3d5c19841fbb90de7993a78d56c63a2edca7c1b0640011bfcfb20c4c6b92c",
)


def verified_load_data(
    data_drawer: Any, save_drawer_to_disk: Callable[[], None]
) -> Callable[[str, Any], Any]:
    """The drawer's ``load_data``, refusing a corrupt or outdated model folder."""
    original = data_drawer.load_data

    @functools.wraps(original)
    def load_data(coin: str, dk: Any) -> Any:
        info = data_drawer.pair_dict.get(coin) or {}
        from_memory = dk.live and coin in data_drawer.model_dictionary
        if info.get("model_filename") and not from_memory:
            path = Path(info["data_path"]) if dk.live else Path(dk.data_path)
            problem = verified_model_folder(path)
            if problem is not None and not dk.live:
                raise problem
            change = saved_model_change(data_drawer, dk, path) if problem is None else None
            if problem is not None:
                logger.error(
                    "FreqAI model for %s refused: %s. Its predictions stay empty until it "
                    "is retrained.",
                    coin,
                    problem,
                )
            elif change:
                logger.warning("HyperPhysics %s: retraining %s: %s", coin, path.name, change)
            if problem is not None or change:
                data_drawer.pair_dict[coin] = dict(data_drawer.empty_pair_dict)
                data_drawer.meta_data_dictionary.pop(coin, None)
                save_drawer_to_disk()
                return None
        return original(coin, dk)

    return load_data
