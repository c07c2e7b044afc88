"""The keyword arguments of the public Greeks and implied-vol functions, described once.

Every price, Greek and implied-vol function takes the underlying and the strike by
position and everything else by keyword, so ``time_to_expiry`` and ``volatility`` (two
floats easily swapped) must always be named.  The keywords are the ``TypedDict`` classes
below (for type checkers, as ``**kwargs: Unpack[...]``), their defaults are
:data:`DEFAULTS`, and :func:`takes` makes them the function's signature at run time:
calls bind as they would to a written-out signature (``TypeError`` for a missing,
unknown or surplus argument) and ``help()`` / ``inspect.signature`` show every keyword.

Meaning and units (the domain rules are ``formulas.DOMAIN``'s):

``time_to_expiry``
    years (>= 0; 0 gives the limits at expiry).
``volatility``
    annualised, as a decimal (0.2 = 20 %; > 0).
``rate``
    continuously compounded risk-free rate per year (default 0.0).
``dividend_yield``
    BSM only: continuous dividend yield or cost of carry per year (default 0.0).
``option_type``
    ``"call"``/``"put"``, a boolean array (True = call), or an array of such strings or
    of +1/-1 (default ``"call"``).
``validate``
    raise ``ValueError`` naming the first argument out of its domain (default True).
``second_order``, ``greeks``, ``compile``
    ``*_greeks`` only: add vanna, volga, charm; or return exactly the named Greeks; or run
    the reference through ``torch.compile`` (defaults False, None, False).
``tol``, ``max_iter``
    implied vol only: relative tolerance on the volatility and Newton steps at most
    (defaults 1e-12, 100).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypedDict, TypeVar

__all__ = [
    "DEFAULTS",
    "Black76Greeks",
    "Black76ImpliedVol",
    "Black76Price",
    "BSMGreeks",
    "BSMImpliedVol",
    "BSMPrice",
    "Expiry",
    "Kind",
    "Priced",
    "takes",
]

ArrayLike = Any
"""A float, a numpy array (or anything ``np.asarray`` takes) or a torch tensor."""


class Expiry(TypedDict):
    time_to_expiry: ArrayLike


class Priced(Expiry):
    volatility: ArrayLike


class Kind(TypedDict, total=False):
    option_type: Any


class _Rate(TypedDict, total=False):
    rate: ArrayLike


class _Carry(TypedDict, total=False):
    dividend_yield: ArrayLike


class _Validate(TypedDict, total=False):
    validate: bool


class _AllAtOnce(TypedDict, total=False):
    second_order: bool
    greeks: Sequence[str] | None
    compile: bool


class _Solver(TypedDict, total=False):
    tol: float
    max_iter: int


class Black76Price(Priced, _Rate, Kind, _Validate):
    """Keywords of ``black76_price``, ``black76_delta``, ... (one output each)."""


class BSMPrice(Priced, _Rate, _Carry, Kind, _Validate):
    """Keywords of ``bsm_price``, ``bsm_delta``, ... (one output each)."""


class Black76Greeks(Black76Price, _AllAtOnce):
    """Keywords of ``black76_greeks``."""


class BSMGreeks(BSMPrice, _AllAtOnce):
    """Keywords of ``bsm_greeks``."""


class Black76ImpliedVol(Expiry, _Rate, Kind, _Solver):
    """Keywords of ``black76_implied_vol``."""


class BSMImpliedVol(Expiry, _Rate, _Carry, Kind, _Solver):
    """Keywords of ``bsm_implied_vol``."""


DEFAULTS: dict[str, Any] = {
    "rate": 0.0,
    "dividend_yield": 0.0,
    "option_type": "call",
    "validate": True,
    "second_order": False,
    "greeks": None,
    "compile": False,
    "tol": 1e-12,
    "max_iter": 100,
}
"""The default of every optional keyword above (the one place they are written)."""

F = TypeVar("F", bound=Callable[..., Any])


def _signature(
    spec: type, positional: Sequence[str], defaults: dict[str, Any]
) -> inspect.Signature:
    """``positional`` (positional or keyword), then ``spec``'s keys, keyword-only; the
    optional ones default to ``defaults`` (falling back on :data:`DEFAULTS`)."""
    required = spec.__required_keys__  # type: ignore[attr-defined]
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in positional]
    for name in spec.__annotations__:
        default = inspect.Parameter.empty if name in required else {**DEFAULTS, **defaults}[name]
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default))
    return inspect.Signature(params)


def takes(spec: type, *positional: str, **defaults: Any) -> Callable[[F], F]:
    """Decorate ``fn(*positional, **kwargs: Unpack[spec])`` so that every call binds to
    ``_signature(spec, positional, defaults)`` and ``fn`` receives every argument, the
    omitted ones at their defaults.

    >>> @takes(Expiry, "spot", "strike")
    ... def moneyness_time(spot, strike, **kw):
    ...     return spot / strike, kw["time_to_expiry"]
    >>> moneyness_time(110.0, 100.0, time_to_expiry=0.5)
    (1.1, 0.5)
    >>> moneyness_time(110.0, 100.0, 0.5)
    Traceback (most recent call last):
    TypeError: too many positional arguments
    """
    sig = _signature(spec, positional, defaults)

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def bound(*args: Any, **kwargs: Any) -> Any:
            call = sig.bind(*args, **kwargs)
            call.apply_defaults()
            return fn(**call.arguments)

        bound.__signature__ = sig  # type: ignore[attr-defined]
        return bound  # type: ignore[return-value]

    return decorate
