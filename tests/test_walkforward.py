"""The walk-forward evaluator (trading/walkforward.py, trading/selection.py).

``test_the_evaluator_gives_the_old_scripts_numbers`` compares it with numbers of the script it
replaces, frozen here: benchmarks/decision_walkforward.py as of commit 9f305a1 (before the
evaluator moved into the package), its ``fold_predictions`` and ``trades`` run on the bundled
BTC/USDT 5m candles (their first 45 days, from 2021-01-01) with h = 12, k = 1, fee 0.1%, 20
training and 10 test days, LightGBM + XGBoost of 10 trees, margins -0.3, -0.2 and 0, split
2021-02-05, and its choice and deflated Sharpe ratio over those three rules. (With k != 1
the old script scaled the margin by k x sigma x sqrt(h), the strategy by sigma x sqrt(h);
the evaluator uses the strategy's rule, so only k = 1 is compared.)
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hyperphysics_strategy.strategy import features as F
from hyperphysics_strategy.trading.bet import BetSpec
from hyperphysics_strategy.trading.selection import select
from hyperphysics_strategy.trading.walkforward import (
    EnsembleFitter,
    Folds,
    PairData,
    evaluate,
)
from tests.data_paths import DEMO_CANDLES

SPLIT = pd.Timestamp("2021-02-05", tz="UTC")
#: per rule and period: trades, sum of net returns, Sharpe ratio per trade, sum of entry rows
OLD = {
    ("always", "first"): [489, -0.8924970017054455, -0.1892506318980591, 3953160],
    ("always", "second"): [207, -0.3564402040267467, -0.1885297249152301, 2263171],
    ("always", "all"): [695, -1.2540534943973904, -0.19021425394544367, 6206240],
    (-0.3, "first"): [424, -0.831971986978219, -0.19623823169175258, 3382692],
    (-0.3, "second"): [168, -0.3097270769496334, -0.19203111056198036, 1855946],
    (-0.3, "all"): [591, -1.1468153525930505, -0.1964574610786323, 5228547],
    (-0.2, "first"): [94, -0.11260883085409268, -0.08784873903768124, 716616],
    (-0.2, "second"): [40, 0.012832404631494376, 0.023921906376236545, 451619],
    (-0.2, "all"): [134, -0.0997764262225983, -0.055004021510499546, 1168235],
    (0.0, "first"): [0, 0.0, None, 0],
    (0.0, "second"): [0, 0.0, None, 0],
    (0.0, "all"): [0, 0.0, None, 0],
}
OLD_ROWS, OLD_P_UP_SUM, OLD_EV_SUM = 5736, 1284.9966456252675, -16.037842533999793
OLD_TRIAL_SHARPES = [-0.1964574610786323, -0.055004021510499546, math.nan]
OLD_DSR = (0.1079528724327275, -0.055004021510499546, 0.051987325774926214)


def _pair(name: str, days: int | None = None) -> PairData:
    candles = F.ordered_candles(pd.read_feather(DEMO_CANDLES / f"{name}_USDT-5m.feather"))
    if days is not None:
        candles = candles.iloc[: days * 288]
    return PairData(name, candles, F.build_features(candles, (10, 20)))


def test_the_evaluator_gives_the_old_scripts_numbers():
    experts = ("lightgbm", "xgboost")
    fit = EnsembleFitter(experts, {e: {"n_estimators": 10} for e in experts})
    folds = Folds(train_days=20, test_days=10)
    ev = evaluate([_pair("BTC", days=45)], BetSpec(horizon=12), folds, fit)
    pred = ev.predictions
    assert len(pred) == OLD_ROWS
    assert pred["p_up"].sum() == pytest.approx(OLD_P_UP_SUM, rel=1e-9)
    assert pred["ev_long"].sum() == pytest.approx(OLD_EV_SUM, rel=1e-9)
    first = (pred["date"] < SPLIT).to_numpy()
    periods = {"first": first, "second": ~first, "all": None}
    for (margin, period), (n, total, sharpe, t_sum) in OLD.items():
        trades = ev.trades(None if margin == "always" else margin, periods[period])
        assert len(trades) == n, (margin, period)
        assert trades["net"].sum() == pytest.approx(total, rel=1e-9, abs=1e-12)
        assert int(trades["t"].sum()) == t_sum
        stats = ev.stats(None if margin == "always" else margin, periods[period])
        if sharpe is None:
            assert math.isnan(stats.sharpe)
        else:
            assert stats.sharpe == pytest.approx(sharpe, rel=1e-9)
    sel = select([(ev, m) for m in (-0.3, -0.2, 0.0)], SPLIT)
    assert sel.chosen == 1  # margin -0.2
    np.testing.assert_allclose(sel.trial_sharpes, OLD_TRIAL_SHARPES, rtol=1e-9)
    assert (sel.dsr, sel.sharpe, sel.sr0) == pytest.approx(OLD_DSR, rel=1e-9)
    # per fold: the folds' trades are the whole walk-forward's
    per_fold = ev.per_fold(-0.2)
    assert sorted(k[1] for k in per_fold) == list(range(len(per_fold))) and len(per_fold) > 1
    assert sum(s.trades for s in per_fold.values()) == OLD[(-0.2, "all")][0]


class _Prior:
    """A model that predicts the training rows' class frequencies."""

    def __init__(self, y: np.ndarray) -> None:
        self.classes_ = ("sell", "neutral", "buy")
        self.p = np.array([np.mean(y == c) for c in self.classes_])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.tile(self.p, (len(X), 1))


def _prior_fit(X, y, embargo, seed):
    return _Prior(y)


def test_folds_are_purged_and_embargoed():
    pair = _pair("ETH", days=40)
    pos = pair.features.assign(**{"%-pos": np.arange(len(pair.features), dtype=float)})
    pair = PairData("ETH", pair.candles, pos)  # the last feature: the candle's position
    bet = BetSpec(horizon=24)
    seen = []

    def fit(X, y, embargo, seed):
        seen.append((X[:, -1].min(), X[:, -1].max(), embargo, seed))
        return _Prior(y)

    ev = evaluate([pair], bet, Folds(train_days=10, test_days=10), fit)
    pred = ev.predictions
    assert len(seen) == pred["fold"].nunique() >= 2
    h = bet.horizon
    for fold, (lo, hi, embargo, seed) in enumerate(seen):
        assert (embargo, seed) == (h, fold)
        test = pred.loc[pred["fold"] == fold, "t"]
        # purged: the last training label (hi + h) ends before the test block's boundary,
        # embargoed: the test rows start h candles after it
        assert test.min() - hi == 2 * h + 1
        assert test.max() - test.min() < 10 * 288
        if fold:  # the training window moves on by one test block
            assert lo - seen[fold - 1][0] == 10 * 288
    # a trade never outlives its fold: per-fold trades add up to the whole
    tr = ev.trades(None)
    assert sum(s.trades for s in ev.per_fold(None).values()) == len(tr)
    starts, ends = tr["t"].to_numpy(), (tr["t"] + tr["candles"]).to_numpy()
    assert (starts[1:] >= ends[:-1]).all()  # no two trades of a pair overlap


def test_a_pair_too_short_for_one_fold_is_a_clear_error():
    with pytest.raises(ValueError, match="no fold to test"):
        evaluate([_pair("BTC", days=5)], BetSpec(), Folds(), _prior_fit)


def test_features_off_the_candles_index_are_refused():
    pair = _pair("BTC", days=3)
    with pytest.raises(ValueError, match="BTC: the features must have one row per candle"):
        PairData("BTC", pair.candles, pair.features.iloc[1:])
