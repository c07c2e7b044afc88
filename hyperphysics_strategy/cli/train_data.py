"""``hyperphysics train``'s input: the pair's candles in freqtrade's data layout, the
strategy's settings from a freqtrade config, and the features and labels built from them.

Bad input raises :class:`InputError` naming the problem (the command prints it as one
line and exits with code 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

MIN_ROWS = 100
#: The twelve experts (``ensemble.experts.EXPERT_REGISTRY``, in its order; a test keeps
#: them equal), named here so that ``--help`` needs no torch.
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


def candle_file(datadir: Path, pair: str, timeframe: str) -> Path:
    """The feather file of ``pair`` at ``timeframe`` in freqtrade's data layout.

    Spot candles are ``<datadir>/BTC_USDT-1h.feather``, futures candles
    ``<datadir>/futures/BTC_USDT_USDT-1h-futures.feather``. Raises :class:`InputError`
    naming the problem (no folder, malformed pair, no file for the pair).
    """
    from freqtrade.misc import pair_to_filename

    if "/" not in pair:
        raise InputError(f"pair must look like BTC/USDT, got {pair!r}")
    if not datadir.is_dir():
        raise InputError(f"data directory {datadir} does not exist")
    stem = pair_to_filename(pair)
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
    from ..ensemble.experts import EXPERT_REGISTRY

    if text.strip().lower() == "all":
        return list(EXPERT_REGISTRY)
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


def load_candles(path: Path, pair: str, timeframe: str) -> pd.DataFrame:
    """``pair``'s candles as freqtrade loads them (``load_pair_history``: sorted,
    de-duplicated, missing candles filled), from the file :func:`candle_file` found."""
    from freqtrade.data.history import load_pair_history
    from freqtrade.enums import CandleType

    futures = path.parent.name == "futures"
    try:
        candles = load_pair_history(
            pair,
            timeframe,
            path.parent.parent if futures else path.parent,
            data_format="feather",
            candle_type=CandleType.FUTURES if futures else CandleType.SPOT,
        )
    except Exception as exc:  # not a feather file, unreadable
        raise InputError(f"cannot read {path}: {exc}") from exc
    if candles.empty:
        raise InputError(f"{path}: freqtrade's loader finds no candles in it")
    return candles


@dataclass(frozen=True)
class StrategySettings:
    """What the strategy's features and labels depend on, read from a freqtrade config:
    ``freqai.feature_parameters`` (indicator periods, label horizon) and the validated
    ``hyperphysics`` section (the strategy's settings model)."""

    periods: tuple[int, ...]
    horizon: int
    hyperphysics: dict[str, Any]
    source: str
    #: FreqAI's expansion in the config, which ``train`` does not apply (see feature_scope)
    include_timeframes: tuple[str, ...] = ()
    shifted_candles: int = 0
    corr_pairs: tuple[str, ...] = ()


def feature_scope(settings: StrategySettings, pair: str, timeframe: str, columns: int) -> str:
    """What ``train``'s features are, and which parts of FreqAI's feature expansion of the
    same config they leave out (FreqAI trains on all of them; ``train`` on one timeframe)."""
    left_out = []
    other = [t for t in settings.include_timeframes if t != timeframe]
    if other:
        left_out.append(
            f"the other include_timeframes {other} (of {list(settings.include_timeframes)})"
        )
    if settings.shifted_candles:
        left_out.append(f"include_shifted_candles {settings.shifted_candles}")
    if settings.corr_pairs:
        left_out.append(f"include_corr_pairlist {list(settings.corr_pairs)}")
    left_out.append("the risk and order-book columns (feature_engineering_standard)")
    return (
        f"features: {columns} columns of {pair} {timeframe} candles only: the strategy's "
        f"indicators for periods {list(settings.periods)}, candle shape and calendar "
        f"(build_features). Not applied from FreqAI's expansion of this config: "
        + "; ".join(left_out)
        + ". A FreqAI model of the same config trains on more columns than this."
    )


def _positive_ints(value: Any, key: str) -> tuple[int, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise InputError(f"{key} must be a non-empty list of positive integers, got {value!r}")
    return tuple(value)


def strategy_settings(configs: list[Path] | None, horizon: int | None = None) -> StrategySettings:
    """The strategy's settings from ``configs`` (merged as freqtrade merges its ``-c``
    files, a later one wins), or from the example config that ``hyperphysics init`` writes
    when there is none; ``horizon``, when given, overrides ``label_period_candles``."""
    import rapidjson
    from freqtrade.configuration.load_config import CONFIG_PARSE_MODE, load_config_file
    from freqtrade.misc import deep_merge_dicts

    from ..strategy.settings import load_settings
    from ..stubs import EXAMPLE_CONFIG, example_config_text

    config: dict[str, Any] = {}
    if configs:
        for path in configs:
            try:
                config = deep_merge_dicts(load_config_file(str(path)), config)
            except Exception as exc:  # OperationalException / ConfigurationError, with reason
                raise InputError(f"cannot read config {path}: {exc}") from exc
        source = ", ".join(str(p) for p in configs)
    else:
        config = rapidjson.loads(example_config_text(), parse_mode=CONFIG_PARSE_MODE)
        source = f"the package's {EXAMPLE_CONFIG}"
    freqai = config.get("freqai") or {}
    features = freqai.get("feature_parameters") or {}
    key = "freqai.feature_parameters"
    periods = _positive_ints(
        features.get("indicator_periods_candles", [10, 20]), f"{key}.indicator_periods_candles"
    )
    if horizon is None:
        from hyperphysics_strategy.trading.bet import DEFAULT_BET

        horizon = features.get("label_period_candles", DEFAULT_BET.horizon)
        if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
            raise InputError(f"{key}.label_period_candles must be a positive integer: {horizon!r}")
    try:
        settings = load_settings(config)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    shifts = features.get("include_shifted_candles", 0)
    return StrategySettings(
        periods,
        horizon,
        settings.model_dump(mode="json"),
        source,
        tuple(str(t) for t in features.get("include_timeframes") or ()),
        shifts if isinstance(shifts, int) and not isinstance(shifts, bool) else 0,
        tuple(str(p) for p in features.get("include_corr_pairlist") or ()),
    )


def load_training_set(
    path: Path,
    rows: int | None,
    horizon: int,
    pair: str = "",
    timeframe: str = "",
    periods: tuple[int, ...] = (10, 20),
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Features, labels and candle dates of the last ``rows`` usable rows of ``path``."""

    from ..strategy.features import build_training_set

    pair = pair or path.name.split("-")[0].replace("_", "/", 1)
    timeframe = timeframe or path.stem.split("-")[1]
    candles = load_candles(path, pair, timeframe)
    X, y = build_training_set(candles, periods=periods, horizon=horizon)
    if rows is not None:
        X, y = X.iloc[-rows:], y.iloc[-rows:]
    if len(y) < MIN_ROWS:
        raise InputError(
            f"{path.name}: only {len(y)} usable rows after the features' warm-up and the "
            f"{horizon}-candle label horizon; at least {MIN_ROWS} are needed"
        )
    return X, y, candles.loc[X.index, "date"]
