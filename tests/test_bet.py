"""BetSpec: the bet's parameters, its barrier prices and its entry rule with one tie-break."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from hyperphysics_strategy.trading.bet import DEFAULT_BET, BetSpec
from hyperphysics_strategy.trading.decision import long_expected_value


def test_bad_parameters_are_refused_by_name():
    with pytest.raises(ValidationError, match="horizn"):
        BetSpec(horizn=12)
    with pytest.raises(ValidationError, match="k_down"):
        BetSpec(k_down=0.0)
    with pytest.raises(ValidationError, match="margin"):
        BetSpec(margin=float("nan"))
    with pytest.raises(ValidationError, match="horizon"):
        BetSpec(horizon=0)
    with pytest.raises(ValidationError, match="frozen"):
        DEFAULT_BET.horizon = 48


def test_prices_are_k_sigma_sqrt_h_from_the_entry_and_a_short_mirrors():
    bet = BetSpec(horizon=16, k_up=2.0, k_down=1.0)
    take, stop = bet.prices(100.0, 0.01)
    assert take == pytest.approx(100 * math.exp(2.0 * 0.01 * 4))
    assert stop == pytest.approx(100 * math.exp(-1.0 * 0.01 * 4))
    s_take, s_stop = bet.prices(100.0, 0.01, is_short=True)
    assert (s_take, s_stop) == pytest.approx((100 * math.exp(-0.08), 100 * math.exp(0.04)))
    wide_take, wide_stop = bet.prices(100.0, 0.01, take_scale=1.5, stop_scale=2.0)
    assert wide_take == pytest.approx(100 * math.exp(0.12))
    assert wide_stop == pytest.approx(100 * math.exp(-0.08))


def test_expected_values_are_the_decision_modules():
    bet = BetSpec(horizon=9, k_up=1.5, k_down=1.0, fee=0.002)
    ev_long, _ = bet.expected_values(0.4, 0.3, 0.3, 0.01, 0.001)
    want = long_expected_value(0.4, 0.3, 0.3, 1.5 * 0.03, 0.03, 0.001, 0.002)
    assert float(ev_long) == pytest.approx(float(want))


def test_one_tie_break_the_larger_ev_enters_a_tie_goes_long():
    bet = BetSpec(horizon=4, margin=-1.0)  # both sides clear the margin
    sigma = np.full(4, 0.01)
    ev_long = np.array([0.01, 0.00, 0.02, np.nan])
    ev_short = np.array([0.00, 0.01, 0.02, 0.03])
    assert bet.signal(ev_long, ev_short, sigma).tolist() == [1, -1, 1, -1]
    assert bet.signal(ev_long, None, sigma).tolist() == [1, 1, 1, 0]  # longs only
    strict = BetSpec(horizon=4, margin=0.5)  # 0.5 x 0.01 x 2 = 0.01 to clear
    assert strict.signal(ev_long, ev_short, sigma).tolist() == [0, 0, 1, -1]
    assert strict.signal(ev_long, ev_short, np.full(4, np.nan)).tolist() == [0, 0, 0, 0]
