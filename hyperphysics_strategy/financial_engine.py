"""``HyperPhysicsFinancialEngine``: the engine and a trained ensemble outside freqtrade.

A thin facade for notebooks and other bots, in the original design's names::

    hp = HyperPhysicsFinancialEngine(device="auto", use_gpu=True)
    hp.process_market_data(bids, asks)          # hyperbolic order-book features of one book
    hp.calculate_risk_metrics(returns)          # VaR / ES at 95% and 99%, three methods
    hp.train_signals(features, labels)          # fit the expert ensemble (sell/neutral/buy)
    hp.train_from_candles(candles)              # ... or on the strategy's features and labels
    hp.generate_trading_signals(dataframe)      # probabilities, EVs, a -1/0/+1 signal per row

It imports no freqtrade. ``generate_trading_signals`` uses the feature columns the
ensemble was trained on (its ``feature_names``), else the columns whose names start with
``%`` (FreqAI's feature naming); given plain candles (``date, open, high, low, close,
volume``) without them it builds the strategy's features itself
(:func:`~hyperphysics_strategy.strategy.features.build_features`). A model trained by
FreqAI also expects FreqAI's fitted feature pipeline (scaling) to be applied first; an
ensemble trained here takes the raw features.

``device="cuda:0"`` on a machine without that GPU raises ``ValueError`` naming the GPUs
there are; ``device="auto"`` (or ``None``) takes this machine's default device and falls
back to the CPU; ``use_gpu=False`` forces the CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hyperphysics_strategy.engine.devices import resolve_device
from hyperphysics_strategy.engine.orderbook import HyperbolicOrderBook
from hyperphysics_strategy.engine.risk import GPURiskEngine
from hyperphysics_strategy.ensemble import ExpertEnsemble
from hyperphysics_strategy.ensemble.experts import DEFAULT_EXPERTS
from hyperphysics_strategy.trading.barriers import valid_trailing_sigma
from hyperphysics_strategy.trading.bet import DEFAULT_BET, BetSpec

_CANDLE_COLUMNS = {"date", "open", "high", "low", "close", "volume"}


class HyperPhysicsFinancialEngine:
    """Order-book geometry, risk metrics and ensemble signals behind one object."""

    def __init__(
        self,
        device: str | None = None,
        use_gpu: bool = True,
        ensemble: ExpertEnsemble | None = None,
        max_levels: int = 20,
        seed: int = 0,
    ) -> None:
        try:
            self.device = resolve_device("cpu" if not use_gpu else device)
        except ValueError as exc:
            raise ValueError(
                f"{exc}; pass device='auto' (this machine's default, CPU when there is no "
                "GPU) or use_gpu=False"
            ) from exc
        self.feature_periods: tuple[int, ...] = (10, 20)
        self.orderbook = HyperbolicOrderBook(device=self.device, max_levels=max_levels)
        self.risk = GPURiskEngine(device=self.device, seed=seed)
        self.ensemble = ensemble
        self.seed = seed

    def process_market_data(self, bids: Any, asks: Any) -> dict[str, float]:
        """Features of one L2 snapshot (``[price, size]`` rows, best first)."""
        return self.orderbook.update(bids, asks)

    def calculate_risk_metrics(
        self, returns: Any, confidence: Sequence[float] = (0.95, 0.99)
    ) -> dict[str, dict[str, float]]:
        """VaR and ES (positive loss fractions) by historical, Cornish-Fisher and Monte Carlo."""
        out: dict[str, dict[str, float]] = {}
        for method in ("historical", "cornish_fisher", "mc_student_t"):
            var, es = self.risk.var(returns, confidence=tuple(confidence), method=method)
            var, es = np.atleast_1d(var), np.atleast_1d(es)
            for level, v, e in zip(confidence, var, es, strict=True):
                out.setdefault(method, {})[f"var_{level:g}"] = float(v)
                out[method][f"es_{level:g}"] = float(e)
        return out

    def train_signals(
        self,
        features: pd.DataFrame,
        labels: Sequence[str],
        experts: Sequence[str] = DEFAULT_EXPERTS,
    ) -> ExpertEnsemble:
        """Fit an ensemble on feature rows and sell/neutral/buy labels (time-ordered rows)."""
        ensemble = ExpertEnsemble(experts, seed=self.seed, feature_names=list(features.columns))
        self.ensemble = ensemble.fit(features.to_numpy(), labels)
        return self.ensemble

    def train_from_candles(
        self,
        candles: pd.DataFrame,
        horizon: int = DEFAULT_BET.horizon,
        periods: Sequence[int] = (10, 20),
        experts: Sequence[str] = DEFAULT_EXPERTS,
    ) -> ExpertEnsemble:
        """Fit an ensemble on one pair's plain candles, with the strategy's features and
        triple-barrier labels over ``horizon`` candles (:func:`build_training_set`)."""
        from hyperphysics_strategy.strategy.features import build_training_set

        features, labels = build_training_set(candles, periods=periods, horizon=horizon)
        self.feature_periods = tuple(int(p) for p in periods)
        return self.train_signals(features, labels.to_numpy(), experts=experts)

    def generate_trading_signals(
        self,
        dataframe: pd.DataFrame,
        feature_columns: Sequence[str] | None = None,
        horizon: int = DEFAULT_BET.horizon,
        vol_window: int = DEFAULT_BET.vol_window,
        k_up: float = DEFAULT_BET.k_up,
        k_down: float = DEFAULT_BET.k_down,
        fee: float = DEFAULT_BET.fee,
        m_time: float = 0.0,
        margin: float = DEFAULT_BET.margin,
    ) -> pd.DataFrame:
        """Class probabilities, the EV of a long and a short, and ``signal`` (+1 long, -1
        short, 0 none) for every row.

        A row signals by the strategy's entry rule (:class:`~.trading.bet.BetSpec`): the EV of the
        triple-barrier bet (barriers ``k_up`` / ``k_down`` x sigma x sqrt(``horizon``), sigma
        the trailing volatility of ``dataframe["close"]`` over ``vol_window`` candles, ``fee``
        per side, ``m_time`` the training rows' mean time-barrier return) exceeds ``margin``
        x sigma x sqrt(``horizon``). Rows with missing features get probabilities NaN and
        signal 0; a row whose close is NaN, infinite, zero or negative has no sigma and
        signal 0, and counts as the last valid close for the others' sigma. When both sides
        signal (unequal barriers), the larger EV wins, a tie the long. Features built from
        plain candles come sorted by date, one row per date (``ordered_candles``).
        """
        bet = BetSpec(
            horizon=horizon, vol_window=vol_window, k_up=k_up, k_down=k_down, fee=fee, margin=margin
        )
        if "close" not in dataframe.columns:
            raise ValueError("dataframe lacks the column 'close' (the barriers' volatility)")
        close = dataframe["close"].to_numpy(dtype=np.float64)
        if self.ensemble is None:
            raise ValueError(
                "no trained ensemble: pass one to the constructor or call train_signals"
            )
        columns = list(
            feature_columns
            or self.ensemble.feature_names
            or [c for c in dataframe.columns if c.startswith("%")]
        )
        missing = [c for c in columns if c not in dataframe.columns]
        if (not columns or missing) and set(dataframe.columns) >= _CANDLE_COLUMNS:
            from hyperphysics_strategy.strategy.features import build_features, ordered_candles

            candles = ordered_candles(dataframe)  # sorted, one row per date, in UTC
            close = candles["close"].to_numpy(dtype=np.float64)
            dataframe = build_features(candles, self.feature_periods)
            columns = columns or list(dataframe.columns)
            missing = [c for c in columns if c not in dataframe.columns]
        if not columns or missing:
            raise ValueError(
                f"dataframe lacks the feature columns {missing or '(none found)'}: pass the "
                "columns the ensemble was trained on, or plain candles (date, open, high, "
                "low, close, volume) to build the strategy's features from "
                "(hyperphysics_strategy.build_features)"
            )
        X = dataframe[columns].to_numpy(dtype=np.float32)
        ok = np.isfinite(X).all(axis=1)
        proba = np.full((len(dataframe), len(self.ensemble.classes_)), np.nan)
        if ok.any():
            proba[ok] = self.ensemble.predict_proba(X[ok])
        out = pd.DataFrame(proba, columns=list(self.ensemble.classes_), index=dataframe.index)
        sigma = valid_trailing_sigma(close, bet.vol_window)  # NaN (no signal) on a bad close
        probs = (out.get("buy"), out.get("sell"), out.get("neutral"))
        signal = np.zeros(len(out), dtype=np.int8)
        if all(p is not None for p in probs):
            out["ev_long"], out["ev_short"] = bet.expected_values(*probs, sigma, m_time)
            signal = bet.signal(out["ev_long"], out["ev_short"], sigma)
        out["signal"] = signal
        return out
