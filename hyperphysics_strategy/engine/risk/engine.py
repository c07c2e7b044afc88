"""``GPURiskEngine``: VaR/ES (historical, parametric, Monte Carlo, rolling), VaR backtests
and option Greeks, batched on one torch device (GPU or CPU).

Returns are per-period returns, gains positive; VaR and ES come back as **positive loss
numbers** (see ``hyperphysics_strategy.engine.risk.var`` for the quantile convention).

Shapes and kinds: ``returns`` is 1-D ``(n,)`` or batched ``(..., n)`` (one series per
leading index).  A scalar ``confidence`` gives results without the level axis, a
sequence gives a trailing axis of ``len(confidence)``.  numpy/pandas/list in -> numpy out
(a 1-D series with a scalar level gives Python floats); torch in -> torch out on the
engine's device.  Rolling methods return ``(..., n)`` or ``(..., n, L)`` with NaN for the
first ``window - 1`` candles.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Unpack

import numpy as np
import torch

from ..devices import resolve_device
from ..greeks import ALL_GREEKS, black76_greeks, bsm_greeks, theta_per_day, vega_per_vol_point
from ..greeks.terms import DEFAULTS, ArrayLike, Kind, Priced, takes
from . import backtest as bt
from .monte_carlo import MonteCarloDraws, mc_var_es
from .rolling import rolling_historical, rolling_monte_carlo, rolling_parametric
from .var import (
    MONTE_CARLO,
    PARAMETRIC,
    check_levels,
    historical_var_es,
    parametric_var_es,
    tail_count,
)

__all__ = ["GPURiskEngine", "METHODS"]

METHODS = ("historical",) + PARAMETRIC + tuple(f"mc_{d}" for d in MONTE_CARLO)


class OptionInputs(Priced, Kind, total=False):
    """Keywords of ``calculate_greeks``: those of ``bsm_greeks`` (``greeks.terms``), with
    the rate named ``risk_free_rate``."""

    risk_free_rate: ArrayLike
    dividend_yield: ArrayLike


class GreeksInputs(OptionInputs, total=False):
    """Keywords of ``greeks``: ``model`` is ``"bsm"`` (default) or ``"black76"``."""

    model: str
    second_order: bool


class GPURiskEngine:
    """Batched risk computations on one torch device.

    Parameters
    ----------
    device:
        ``None``/``"auto"`` = this machine's default device (``resolve_device``), or an
        explicit ``"cpu"``, ``"cuda:0"``...
    mc_simulations:
        Monte Carlo paths per series (default 10,000).
    seed:
        Seed of the Monte Carlo draws.  The draws for a given ``(seed, n_paths)`` are made
        once and reused (common random numbers), so the same inputs always give the same
        outputs; ``seed=None`` picks a random seed once per engine (``self.seed``).
        ``reseed()`` draws afresh.
    dtype:
        Floating dtype of the computations (float64 recommended; float32 halves memory on
        GPU at ~1e-7 relative accuracy).
    ewma_lambda:
        Decay of the EWMA volatility used by filtered historical simulation.
    """

    def __init__(
        self,
        device: str | torch.device | None = None,
        mc_simulations: int = 10_000,
        seed: int | None = None,
        dtype: torch.dtype = torch.float64,
        *,
        ewma_lambda: float = 0.94,
    ) -> None:
        self.device = resolve_device(device)
        if not isinstance(mc_simulations, (int, np.integer)) or mc_simulations < 2:
            raise ValueError("mc_simulations must be an integer >= 2")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError("dtype must be torch.float32 or torch.float64")
        if not 0.0 < ewma_lambda < 1.0:
            raise ValueError("ewma_lambda must lie in (0, 1)")
        self.mc_simulations = int(mc_simulations)
        self.dtype = dtype
        self.ewma_lambda = float(ewma_lambda)
        self.reseed(seed)

    def reseed(self, seed: int | None = None) -> None:
        """Reset the Monte Carlo draws (a random seed when ``seed`` is None)."""
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError("seed must be a non-negative integer or None")
        self.seed = int(seed)
        self._draws = MonteCarloDraws(self.seed, self.device, self.dtype)

    def __repr__(self) -> str:
        return (
            f"GPURiskEngine(device={str(self.device)!r}, mc_simulations={self.mc_simulations}, "
            f"seed={self.seed}, dtype={self.dtype})"
        )

    # ------------------------------------------------------------------ plumbing
    def _returns(self, returns: Any, min_len: int = 2) -> tuple[torch.Tensor, bool]:
        is_torch = isinstance(returns, torch.Tensor)
        if is_torch:
            t = returns.detach().to(device=self.device, dtype=self.dtype)
        else:
            try:
                arr = np.asarray(returns, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError("returns must be numeric") from exc
            t = torch.as_tensor(arr, dtype=self.dtype, device=self.device)
        if t.dim() == 0:
            raise ValueError("returns must be a series (1-D) or a batch of series (..., n)")
        if t.shape[-1] < min_len:
            raise ValueError(f"returns needs at least {min_len} observations, got {t.shape[-1]}")
        if not bool(torch.isfinite(t).all()):
            raise ValueError("returns contains NaN or inf")
        return t, is_torch

    @staticmethod
    def _out(value: torch.Tensor, is_torch: bool, scalar: bool) -> Any:
        if scalar:
            value = value[..., 0]
        if is_torch:
            return value
        arr = value.cpu().numpy()
        if arr.ndim == 0:
            return float(arr)
        return arr

    def _pair(self, var, es, is_torch, scalar):
        return self._out(var, is_torch, scalar), self._out(es, is_torch, scalar)

    # ------------------------------------------------------------------ point VaR
    def var_historical(self, returns: Any, confidence: float | Sequence[float] = 0.95):
        """Historical-simulation ``(VaR, ES)`` (m-th largest loss, mean of the m largest)."""
        levels, scalar = check_levels(confidence)
        r, is_torch = self._returns(returns)
        return self._pair(*historical_var_es(r, levels), is_torch, scalar)

    def var_parametric(
        self,
        returns: Any,
        confidence: float | Sequence[float] = 0.95,
        distribution: str = "normal",
        *,
        df: float | None = None,
        fit: str = "moments",
    ):
        """Closed-form ``(VaR, ES)``: ``normal``, fitted ``student_t`` or ``cornish_fisher``.

        ``student_t`` fits the degrees of freedom from the excess kurtosis (``fit=
        "moments"``) or by maximum likelihood (``fit="mle"``), unless ``df`` is given.
        """
        levels, scalar = check_levels(confidence)
        r, is_torch = self._returns(returns, min_len=3)
        var, es = parametric_var_es(r, levels, distribution, df=df, fit=fit)
        return self._pair(var, es, is_torch, scalar)

    def var_monte_carlo(
        self,
        returns: Any,
        confidence: float | Sequence[float] = 0.95,
        distribution: str = "normal",
        *,
        df: float | None = None,
        n_simulations: int | None = None,
    ):
        """Monte Carlo ``(VaR, ES)`` from ``mc_simulations`` simulated one-period returns.

        ``distribution``: ``normal`` / ``student_t`` (moments fitted to the series, t df
        from the kurtosis or ``df``), ``bootstrap`` (resampling the observed returns) or
        ``filtered`` (filtered historical simulation: returns standardised by an EWMA
        volatility, resampled, rescaled by the one-step EWMA forecast; GARCH-free).
        """
        n = int(n_simulations or self.mc_simulations)
        if n < 2:
            raise ValueError("n_simulations must be >= 2")
        if (
            distribution == "normal"
            and self.device.type == "cpu"
            and not isinstance(returns, torch.Tensor)
            and np.ndim(confidence) == 0
        ):
            fast = self._mc_normal_fast(returns, float(confidence), n)
            if fast is not None:
                return fast
        levels, scalar = check_levels(confidence)
        r, is_torch = self._returns(returns)
        var, es = mc_var_es(
            r, levels, self._draws, n, distribution, df=df, ewma_lambda=self.ewma_lambda
        )
        return self._pair(var, es, is_torch, scalar)

    def _mc_normal_fast(self, returns: Any, confidence: float, n: int):
        """numpy fast path: one 1-D series, one level, normal model, CPU."""
        x = np.asarray(returns, dtype=np.float64)
        if x.ndim != 1 or x.size < 2:
            return None
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence levels must lie in (0, 1), got {confidence}")
        total = x.sum()
        if not math.isfinite(total):
            raise ValueError("returns contains NaN or inf")
        mu = total / x.size
        d = x - mu
        sd = math.sqrt(float(d @ d) / (x.size - 1))
        z, prefix, _, _ = self._draws.normal_tail(n)
        k = tail_count(n, confidence)
        return -(mu + sd * float(z[k - 1])), -(mu + sd * float(prefix[k - 1]) / k)

    def var(
        self,
        returns: Any,
        confidence: float | Sequence[float] = (0.95, 0.99),
        method: str = "historical",
        **kwargs: Any,
    ):
        """``(VaR, ES)`` by ``method`` in ``METHODS``: ``historical``, ``normal``,
        ``student_t``, ``cornish_fisher``, ``mc_normal``, ``mc_student_t``,
        ``mc_bootstrap``, ``mc_filtered``."""
        if method == "historical":
            return self.var_historical(returns, confidence)
        if method in PARAMETRIC:
            return self.var_parametric(returns, confidence, method, **kwargs)
        if method.startswith("mc_") and method[3:] in MONTE_CARLO:
            return self.var_monte_carlo(returns, confidence, method[3:], **kwargs)
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")

    # ------------------------------------------------------------------ rolling
    def rolling_var(
        self,
        returns: Any,
        window: int = 288,
        confidence: float | Sequence[float] = (0.95, 0.99),
        method: str = "historical",
        *,
        df: float | None = None,
    ):
        """Rolling ``(VaR, ES)``: value at ``t`` from returns ``t-window+1..t``; NaN warm-up.

        Methods: ``historical`` (exact sliding order statistics), ``normal``,
        ``student_t`` (df fitted per window from the kurtosis, or fixed ``df``),
        ``cornish_fisher``, ``mc_normal``, ``mc_student_t`` (fixed ``df``).
        """
        levels, scalar = check_levels(confidence)
        if not isinstance(window, (int, np.integer)) or window < 3:
            raise ValueError("window must be an integer >= 3")
        r, is_torch = self._returns(returns, min_len=window)
        batch = r.shape[:-1]
        flat = r.reshape(-1, r.shape[-1])
        if method == "historical":
            if tail_count(window, min(levels)) > window:
                raise ValueError("window too short for the requested confidence")
            var, es = rolling_historical(flat, int(window), levels)
        elif method in PARAMETRIC:
            var, es = rolling_parametric(flat, int(window), levels, method, df=df)
        elif method in ("mc_normal", "mc_student_t"):
            var, es = rolling_monte_carlo(
                flat, int(window), levels, self._draws, self.mc_simulations, method[3:], df=df
            )
        else:
            raise ValueError(
                "rolling method must be one of historical, normal, student_t, "
                f"cornish_fisher, mc_normal, mc_student_t; got {method!r}"
            )
        shape = batch + var.shape[-2:]
        return self._pair(var.reshape(shape), es.reshape(shape), is_torch, scalar)

    # ------------------------------------------------------------------ backtests
    backtest = staticmethod(bt.backtest_var)
    kupiec_test = staticmethod(bt.kupiec_pof)
    christoffersen_test = staticmethod(bt.christoffersen_independence)
    conditional_coverage_test = staticmethod(bt.conditional_coverage)

    # ------------------------------------------------------------------ Greeks
    @takes(GreeksInputs, "self", "spot", "strike", risk_free_rate=DEFAULTS["rate"], model="bsm")
    def greeks(
        self, spot: ArrayLike, strike: ArrayLike, **kw: Unpack[GreeksInputs]
    ) -> dict[str, Any]:
        """Batched price and Greeks on the engine's device (``bsm_greeks`` / ``black76_greeks``).

        Everything after ``strike`` is keyword-only, so ``time_to_expiry`` and
        ``volatility`` cannot be swapped.  ``model="bsm"`` (``spot``, continuous
        ``dividend_yield``) or ``"black76"`` (``spot`` is the forward).  numpy in -> numpy
        out, torch in -> torch out.  Units: vega per 1.00 vol, theta per year.
        """
        if kw["model"] not in ("bsm", "black76"):
            raise ValueError("model must be 'bsm' or 'black76'")
        args = _model_arguments(spot, strike, kw, kw["model"])
        option_type = args.pop("option_type")
        on_device = self.device.type != "cpu" and not any(
            isinstance(a, torch.Tensor) for a in args.values()
        )
        if on_device:  # numpy in: compute on the engine's device, numpy out
            args = {name: self._tensor(name, a) for name, a in args.items()}
        fn = bsm_greeks if kw["model"] == "bsm" else black76_greeks
        out = fn(
            args.pop("spot"),
            args.pop("strike"),
            **args,
            option_type=option_type,
            second_order=kw["second_order"],
        )
        if on_device:
            out = {key: val.cpu().numpy() for key, val in out.items()}
        return out

    def _tensor(self, name: str, value: Any) -> torch.Tensor:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numeric") from exc
        return torch.as_tensor(arr, dtype=self.dtype, device=self.device)

    @takes(OptionInputs, "self", "spot", "strike", risk_free_rate=DEFAULTS["rate"])
    def calculate_greeks(
        self, spot: float, strike: float, **kw: Unpack[OptionInputs]
    ) -> dict[str, float]:
        """Black-Scholes-Merton price and Greeks of **one** option as Python floats.

        Keys: ``price, delta, gamma, vega, theta, rho, vanna, volga, charm`` (vega per
        1.00 vol, theta and charm per year, rho per 1.00 rate) plus
        ``vega_per_vol_point`` and ``theta_per_day`` (365 days), converted by the helpers
        of the same names.  Computed on the CPU: a single option is not worth a device
        launch.
        """
        args = _model_arguments(spot, strike, kw, "bsm")
        for name in ("spot", "strike", "volatility", "time_to_expiry"):
            if np.ndim(args[name]) != 0:
                raise ValueError(f"{name} must be a scalar for calculate_greeks; use greeks()")
        out = bsm_greeks(args.pop("spot"), args.pop("strike"), **args, second_order=True)
        res = {k: float(out[k]) for k in ALL_GREEKS}
        res["vega_per_vol_point"] = vega_per_vol_point(res["vega"])
        res["theta_per_day"] = theta_per_day(res["theta"])
        return res


def _model_arguments(spot: Any, strike: Any, kw: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The engine's keywords ``kw`` as the arguments of ``bsm_greeks``/``black76_greeks``:
    ``risk_free_rate`` is their ``rate``; Black-76 has no dividend yield."""
    args = {"spot": spot, "strike": strike}
    for name in ("time_to_expiry", "volatility", "risk_free_rate", "dividend_yield", "option_type"):
        if name != "dividend_yield" or model == "bsm":
            args["rate" if name == "risk_free_rate" else name] = kw[name]
    return args
