"""Hyperbolic order-book features: one snapshot (``update``) or whole histories (``batch``).

See docs/orderbook.md for every formula. In short, with ``mid`` the mid price, a level at
price ``p`` lies at hyperbolic distance ``d = ln(1 + |ln(p/mid)| / delta)`` from the origin
of the Poincaré disk of curvature ``-c`` (``delta = scale_bps * 1e-4``), at angle
``phi_k`` (asks) or ``pi - phi_k`` (bids) where ``phi_k`` fans the depth rank ``k`` over
``fan`` radians. Per side: the size-weighted Einstein midpoint (centroid), its distance from
the mid, the Lorentzian dispersion around it and the fit ``size ~ rho0 exp(-d/lambda)``.

``update`` runs one compiled float64 pass over the levels (numba, ``_single``; the first call
in a fresh environment compiles it, ~2 s, then it is cached on disk); ``batch`` runs one
vectorised kernel in chunks on numpy or torch (any device) in the configured dtype.
"""

from __future__ import annotations

import math
from itertools import chain

import numpy as np
import pandas as pd
import torch

from hyperphysics_strategy.engine.devices import resolve_device

from . import _batch, _single, cleaning
from ._backend import numpy_backend, torch_backend
from .columns import FEATURE_COLUMNS
from .geometry import level_angles, level_distance, level_points, radial_cap

_NAN = float("nan")


def _as_side(x, name: str, single: bool) -> np.ndarray | torch.Tensor:
    """Validate shape/type of one side; raise ValueError naming the problem."""
    if isinstance(x, torch.Tensor) or isinstance(x, np.ndarray) and x.dtype.kind == "f":
        arr = x
    else:
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            msg = f"{name}: cannot read as a float array of [price, size] ({exc})"
            raise ValueError(msg) from exc
    want = 2 if single else 3
    if single and arr.ndim == 1 and arr.shape[0] == 0:
        arr = arr.reshape(0, 2)
    if arr.ndim != want or arr.shape[-1] != 2:
        shape = "(L, 2)" if single else "(T, L, 2)"
        raise ValueError(f"{name}: expected shape {shape} of [price, size], got {tuple(arr.shape)}")
    if isinstance(arr, torch.Tensor) and not arr.is_floating_point():
        arr = arr.double()
    return arr


_PAIR = {2}


def _list_side(x: list) -> np.ndarray | None:
    """A list of [price, size] rows as an (n, 2) float64 array, or None (let ``_as_side``
    handle it).  ``np.fromiter`` over the flattened rows is ~3x faster than ``np.array``."""
    n = len(x)
    try:
        if n and set(map(len, x)) == _PAIR:
            return np.fromiter(chain.from_iterable(x), np.float64, 2 * n).reshape(n, 2)
    except (TypeError, ValueError):
        pass
    return None


class HyperbolicOrderBook:
    """Order-book features with hyperbolic (Poincaré-disk) liquidity geometry.

    Parameters
    ----------
    device: where ``batch`` runs (``None``/"auto": this machine's default, see
        ``engine.devices.resolve_device``). ``update`` always runs float64 numpy on the CPU.
    max_levels: levels kept per side (best first); deeper levels are ignored.
    dtype: ``torch.float32`` or ``torch.float64`` for ``batch``.
    curvature: ``c > 0``; the disk has curvature ``-c``. Larger ``c`` weighs the angular
        separation (side, depth rank) more against the radial one.
    scale_bps: ``delta`` in basis points: the log-distance to mid at which the radial map
        ``d = ln(1 + x/delta)`` turns from linear to logarithmic (pick about one tick).
    fan: angular width (radians, < pi) over which the depth ranks of a side are spread.
    lambda_max: cap on the decay length reported when liquidity does not decay.
    cpu_backend: where ``batch`` runs on a CPU device: "numpy" (default; about 8x faster
        than torch on CPU in ``benchmarks/perf/bench_orderbook.py``) or "torch".
    chunk_rows: rows per batch chunk (None: 4096 on CPU (fits L2), 1,048,576 on a GPU).
    """

    def __init__(
        self,
        device: str | torch.device | None = None,
        max_levels: int = 20,
        dtype: torch.dtype = torch.float32,
        curvature: float = 1.0,
        scale_bps: float = 1.0,
        fan: float = math.pi / 2,
        lambda_max: float = 1000.0,
        cpu_backend: str = "numpy",
        chunk_rows: int | None = None,
    ):
        if not isinstance(max_levels, int | np.integer) or max_levels < 1:
            raise ValueError(f"max_levels must be a positive int, got {max_levels!r}")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        c = float(curvature)
        if not (c > 0 and math.isfinite(c)):
            raise ValueError(f"curvature must be positive and finite, got {curvature!r}")
        if not (float(scale_bps) > 0 and math.isfinite(float(scale_bps))):
            raise ValueError(f"scale_bps must be positive and finite, got {scale_bps!r}")
        if not (0.0 <= float(fan) < math.pi):
            raise ValueError(f"fan must be in [0, pi), got {fan!r}")
        if not float(lambda_max) > 0:
            raise ValueError(f"lambda_max must be positive, got {lambda_max!r}")
        if cpu_backend not in ("numpy", "torch"):
            raise ValueError(f"cpu_backend must be 'numpy' or 'torch', got {cpu_backend!r}")
        self.device = resolve_device(device)
        self.max_levels = int(max_levels)
        self.dtype = dtype
        self.curvature = c
        self.sqrt_c = math.sqrt(c)
        self.scale_bps = float(scale_bps)
        self.delta = self.scale_bps * 1e-4
        self.fan = float(fan)
        self.lambda_max = float(lambda_max)
        self.cpu_backend = cpu_backend
        self.chunk_rows = chunk_rows
        self._phi_ask, self._theta_bid = level_angles(self.max_levels, self.fan)
        self._np64 = numpy_backend(np.float64)
        # constants and scratch of the single-snapshot kernel
        L = self.max_levels
        self._trig = np.stack(
            (
                np.cos(self._theta_bid),
                np.sin(self._theta_bid),
                np.cos(self._phi_ask),
                np.sin(self._phi_ask),
            )
        )
        self._prm = _single.make_params(
            1.0 / self.delta, self.sqrt_c, radial_cap(torch.float64), self.lambda_max
        )
        self._work = np.empty((4, max(18, L)))
        self._out = np.empty(_single.N_OUT)
        self.columns = FEATURE_COLUMNS

    # ------------------------------------------------------------------ single snapshot
    def update(self, bids, asks, *, apply_hyperbolic: bool = True) -> dict[str, float]:
        """Features of one snapshot; ``bids``/``asks``: [price, size] rows, best first.

        Never raises on bad book data (see ``cleaning``); raises ``ValueError`` for inputs
        that are not (L, 2) arrays of numbers. Runs one compiled pass (``_single``) on a
        clean book; other books are cleaned first. ``apply_hyperbolic`` (the original
        design's keyword) is accepted as ``True``: the flat and the hyperbolic features
        always come together.
        """
        if apply_hyperbolic is not True:
            raise ValueError(
                "apply_hyperbolic=False is not supported: update() always returns the flat "
                "features (spread, microprice, imbalance_*, *_depth_*) and the hyperbolic "
                "ones (centroid_distance, bid_*/ask_*) together; read the keys you need"
            )
        if type(bids) is list and type(asks) is list:
            b, a = _list_side(bids), _list_side(asks)
            if b is not None and a is not None:
                return self._update_arr(b, a, 0)
        b = self._single_side(bids, "bids")
        a = self._single_side(asks, "asks")
        return self._update_arr(b, a, 0)

    @staticmethod
    def _single_side(x, name: str) -> np.ndarray:
        arr = _as_side(x, name, True)
        if isinstance(arr, torch.Tensor):
            return arr.detach().cpu().double().numpy()
        return arr if arr.dtype == np.float64 else arr.astype(np.float64)

    def _update_arr(
        self, b: np.ndarray, a: np.ndarray, reason: int, slow_ok: bool = True
    ) -> dict[str, float]:
        out = self._out
        status = _single.snapshot_features(b, a, self._trig, self._prm, self._work, out)
        if status == _single.OK:
            vals = (True, reason, len(b), len(a), *out.tolist())
            return dict(zip(FEATURE_COLUMNS, vals, strict=True))
        if slow_ok:
            return self._update_slow(b, a)
        flag = cleaning.CROSSED if status == _single.NEEDS_CLEANING else cleaning.DROPPED_LEVELS
        return self._invalid(reason | flag, len(b), len(a))  # pragma: no cover

    def _update_slow(self, b: np.ndarray, a: np.ndarray) -> dict[str, float]:
        xp = self._np64
        L = self.max_levels
        bp, bq, bn, bf, _ = cleaning.clean_side(xp, b[None, :, 0], b[None, :, 1], True, L)
        ap, aq, an, af, _ = cleaning.clean_side(xp, a[None, :, 0], a[None, :, 1], False, L)
        reason = int(bf[0]) | int(af[0])
        nb, na = int(bn[0]), int(an[0])
        if nb == 0:
            reason |= cleaning.EMPTY_BID
        if na == 0:
            reason |= cleaning.EMPTY_ASK
        if nb and na and not bp[0, 0] < ap[0, 0]:
            reason |= cleaning.CROSSED
        if reason & cleaning.INVALID_MASK:
            return self._invalid(reason, nb, na)
        b = np.stack((bp[0, :nb], bq[0, :nb]), axis=1)
        a = np.stack((ap[0, :na], aq[0, :na]), axis=1)
        return self._update_arr(b, a, reason, slow_ok=False)

    def _invalid(self, reason: int, nb: int, na: int) -> dict[str, float]:
        out = dict.fromkeys(FEATURE_COLUMNS, _NAN)
        out.update(valid=False, reason=reason, n_bid=nb, n_ask=na)
        return out

    # ------------------------------------------------------------------ batch
    def _backend(self):
        if self.device.type == "cpu" and self.cpu_backend == "numpy":
            return numpy_backend(np.float32 if self.dtype == torch.float32 else np.float64)
        return torch_backend(self.dtype, self.device)

    def batch(self, bids, asks, source=None, index=None) -> pd.DataFrame:
        """Features of T snapshots: ``bids``/``asks`` (T, L, 2) arrays, NaN for missing levels.

        Returns a DataFrame with one row per snapshot and the columns ``FEATURE_COLUMNS``
        (plus ``source`` when given: one int code per row, see ``sources``). ``index`` is
        used as the frame's index when given.
        """
        b = _as_side(bids, "bids", False)
        a = _as_side(asks, "asks", False)
        if b.shape[0] != a.shape[0]:
            raise ValueError(f"bids has {b.shape[0]} snapshots but asks has {a.shape[0]}")
        T = int(b.shape[0])
        if b.shape[1] == 0:  # no level columns at all: one missing level
            b = np.full((T, 1, 2), np.nan)
        if a.shape[1] == 0:
            a = np.full((T, 1, 2), np.nan)
        xp = self._backend()
        on_gpu = xp.name == "torch" and self.device.type != "cpu"
        chunk = self.chunk_rows or (1 << 20 if on_gpu else 4096)
        np_dtype = np.float32 if self.dtype == torch.float32 else np.float64
        out = {c: np.empty(T, dtype=np_dtype) for c in FEATURE_COLUMNS[4:]}
        valid = np.empty(T, dtype=bool)
        reason = np.empty(T, dtype=np.int64)
        nbid = np.empty(T, dtype=np.int64)
        nask = np.empty(T, dtype=np.int64)
        consts = _batch.batch_consts(xp, self)
        with np.errstate(all="ignore"):
            for s in range(0, T, chunk):
                e = min(T, s + chunk)
                res = _batch.batch_chunk(xp, consts, b[s:e], a[s:e])
                valid[s:e] = xp.to_numpy(res.pop("valid"))
                reason[s:e] = xp.to_numpy(res.pop("reason"))
                nbid[s:e] = xp.to_numpy(res.pop("n_bid"))
                nask[s:e] = xp.to_numpy(res.pop("n_ask"))
                for k, v in res.items():
                    out[k][s:e] = xp.to_numpy(v)
        cols = {"valid": valid, "reason": reason, "n_bid": nbid, "n_ask": nask, **out}
        if source is not None:
            src = np.asarray(source)
            if src.shape != (T,):
                raise ValueError(f"source: expected shape ({T},), got {src.shape}")
            cols["source"] = src.astype(np.int8)
        return pd.DataFrame(cols, index=index, copy=False)

    # ------------------------------------------------------------------ introspection
    def embed(self, bids, asks):
        """Poincaré coordinates of the cleaned levels of a batch (float64 torch, CPU).

        Returns ``(bid_xy, bid_w, ask_xy, ask_w)``: (T, L', 2) points and (T, L') sizes
        (0 for missing levels). For tests and plots; ``batch`` never builds these.
        """
        b = _as_side(bids, "bids", False)
        a = _as_side(asks, "asks", False)
        xp = self._np64
        L = self.max_levels
        out = []
        bp, bq, _, _, _ = cleaning.clean_side(
            xp, np.asarray(b[..., 0]), np.asarray(b[..., 1]), True, L
        )
        ap, aq, _, _, _ = cleaning.clean_side(
            xp, np.asarray(a[..., 0]), np.asarray(a[..., 1]), False, L
        )
        mid = torch.from_numpy(np.sqrt(bp[:, :1] * ap[:, :1]))
        for P, Q, theta in ((bp, bq, self._theta_bid), (ap, aq, self._phi_ask)):
            d = level_distance(torch.from_numpy(P), mid, self.delta)
            angle = torch.from_numpy(theta[: P.shape[1]])
            out += [level_points(d, angle, self.curvature), torch.from_numpy(Q)]
        return tuple(out)
