"""Greeks and implied vol: what the public functions accept (keyword-only terms, one
signature per function) and the errors that name a bad argument."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from hyperphysics_strategy.engine import greeks
from hyperphysics_strategy.engine.greeks import black76_rho, bsm_greeks
from hyperphysics_strategy.engine.risk import GPURiskEngine


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"spot": -1.0}, "spot"),
        ({"spot": 0.0}, "spot"),
        ({"strike": np.array([100.0, np.nan])}, "strike"),
        ({"volatility": 0.0}, "volatility"),
        ({"time_to_expiry": -0.1}, "time_to_expiry"),
        ({"time_to_expiry": np.nan}, "time_to_expiry"),
        ({"rate": np.inf}, "rate"),
        ({"dividend_yield": np.nan}, "dividend_yield"),
        ({"spot": np.ones(3), "strike": np.ones(4)}, "spot"),
        ({"option_type": "straddle"}, "option_type"),
    ],
)
def test_bad_inputs_raise_value_error_naming_argument(kwargs, name):
    args = {
        "spot": 100.0,
        "strike": 100.0,
        "time_to_expiry": 1.0,
        "volatility": 0.2,
        "rate": 0.01,
        "dividend_yield": 0.0,
        "option_type": "call",
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        bsm_greeks(**args)


def test_black76_errors_name_forward():
    with pytest.raises(ValueError, match="forward"):
        black76_rho(-5.0, 100.0, time_to_expiry=1.0, volatility=0.2)


def test_time_and_volatility_are_keyword_only():
    """``time_to_expiry`` and ``volatility`` (two floats easily swapped) must be named."""
    eng = GPURiskEngine(device="cpu", seed=1)
    with pytest.raises(TypeError):
        eng.greeks(100.0, 100.0, 0.2, 1.0)
    with pytest.raises(TypeError):
        bsm_greeks(100.0, 100.0, 1.0, 0.2)
    by_name = eng.greeks(100.0, 100.0, volatility=0.2, time_to_expiry=1.0, risk_free_rate=0.05)
    assert by_name["price"] == pytest.approx(10.450583572185565, rel=1e-12)


def test_every_function_shows_and_enforces_its_own_signature():
    """The keywords are written once (``greeks.terms``); each public function still has a
    signature of its own, under its own name, and rejects what it does not take."""
    for name in greeks.__all__:
        obj = getattr(greeks, name)
        if callable(obj):
            assert obj.__name__ == name
    bsm = list(inspect.signature(greeks.bsm_delta).parameters)
    assert bsm == [
        *("spot", "strike", "time_to_expiry", "volatility", "rate", "dividend_yield"),
        *("option_type", "validate"),
    ]
    assert list(inspect.signature(greeks.black76_implied_vol).parameters) == [
        *("price", "forward", "strike", "time_to_expiry", "rate", "option_type"),
        *("tol", "max_iter"),
    ]
    kinds = {p.kind for p in list(inspect.signature(greeks.bsm_greeks).parameters.values())[2:]}
    assert kinds == {inspect.Parameter.KEYWORD_ONLY}
    call = {"time_to_expiry": 1.0, "volatility": 0.2}
    assert greeks.black76_price(forward=100.0, strike=90.0, **call) == pytest.approx(
        greeks.black76_greeks(100.0, 90.0, **call)["price"], rel=1e-15
    )
    for fn, bad in (
        (greeks.black76_greeks, {"dividend_yield": 0.0}),  # Black-76 has no dividend yield
        (greeks.bsm_delta, {"second_order": True}),  # a single Greek has no order
        (greeks.bsm_greeks, {"risk_free_rate": 0.05}),  # the engine's name, not the function's
    ):
        with pytest.raises(TypeError, match=f"unexpected keyword argument '{next(iter(bad))}'"):
            fn(100.0, 100.0, **call, **bad)
    with pytest.raises(TypeError, match="volatility"):
        greeks.bsm_vega(100.0, 100.0, time_to_expiry=1.0)
    eng = GPURiskEngine(device="cpu", seed=1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'rate'"):
        eng.calculate_greeks(100.0, 100.0, **call, rate=0.05)
