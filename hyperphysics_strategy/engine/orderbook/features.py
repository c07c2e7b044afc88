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

from . import _single, cleaning
from ._backend import NumpyBackend, TorchBackend
from .hyperbolic import ball_eps, level_angles

DEPTHS = (1, 5, 10)

_SIDE_HYP = (
    "hdist",
    "centroid_x",
    "centroid_y",
    "dispersion",
    "rho0",
    "lambda",
    "decay_rate",
    "fit_r2",
)

FEATURE_COLUMNS: tuple[str, ...] = (
    "valid",
    "reason",
    "n_bid",
    "n_ask",
    "mid",
    "spread",
    "spread_bps",
    "microprice",
    "microprice_bps",
    *(f"imbalance_{k}" for k in (*DEPTHS, "all")),
    *(f"bid_depth_{k}" for k in (*DEPTHS, "all")),
    *(f"ask_depth_{k}" for k in (*DEPTHS, "all")),
    "centroid_distance",
    *(f"bid_{n}" for n in _SIDE_HYP),
    *(f"ask_{n}" for n in _SIDE_HYP),
)
"""Column order of ``batch`` and key order of ``update``."""
assert len(FEATURE_COLUMNS) == 4 + _single.N_OUT

SCALE_FREE_COLUMNS: tuple[str, ...] = tuple(
    c
    for c in FEATURE_COLUMNS
    if c.startswith("imbalance")
    or c in ("valid", "reason", "n_bid", "n_ask", "mid", "spread", "spread_bps", "microprice")
    or c == "microprice_bps"
    or c == "centroid_distance"
    or any(c.endswith(s) for s in _SIDE_HYP if s != "rho0")
)
"""Columns unchanged when every size is multiplied by the same k > 0."""

_NAN = float("nan")
_LOG_CLIP = 80.0  # exp(80) ~ 5.5e34 still fits float32


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
        than torch on CPU in ``benchmarks/bench_orderbook.py``) or "torch".
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
        # radial cap: the level's Poincaré norm tanh(h) stays below 1 - eps(dtype)
        self._hmax = {
            dt: 0.5 * math.log((2.0 - ball_eps(dt)) / ball_eps(dt))
            for dt in (torch.float32, torch.float64)
        }
        self._np64 = NumpyBackend(np.float64)
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
            1.0 / self.delta, self.sqrt_c, self._hmax[torch.float64], self.lambda_max
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
            return NumpyBackend(np.float32 if self.dtype == torch.float32 else np.float64)
        return TorchBackend(self.dtype, self.device)

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
        consts = self._batch_consts(xp)
        with np.errstate(all="ignore"):
            for s in range(0, T, chunk):
                e = min(T, s + chunk)
                res = self._batch_chunk(xp, consts, b[s:e], a[s:e])
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

    def _batch_consts(self, xp):
        L = self.max_levels
        trig_a = np.stack((np.cos(self._phi_ask), np.sin(self._phi_ask)), axis=1)
        trig_b = np.stack((np.cos(self._theta_bid), np.sin(self._theta_bid)), axis=1)
        return {
            "trig_b": xp.const(trig_b),
            "trig_a": xp.const(trig_a),
            "cos_b": xp.const(trig_b[:, 0]),
            "sin_b": xp.const(trig_b[:, 1]),
            "cos_a": xp.const(trig_a[:, 0]),
            "sin_a": xp.const(trig_a[:, 1]),
            "L": L,
            "hmax": self._hmax[self.dtype],
            "umax": math.exp(2.0 * self._hmax[self.dtype] / self.sqrt_c),
            "depth_mat": xp.const(np.arange(L)[:, None] < np.array([*DEPTHS, L])[None, :]),
            "tol": 64 * float(torch.finfo(self.dtype).eps),
            # one-pass dispersion kept where its relative error (~eps (1+a0m1)^2 / nl2m1)
            # stays below ~1e-5 (float32) / 1e-10 (float64)
            "one_pass": 1e-2 if self.dtype == torch.float32 else 1e-5,
        }

    def _batch_chunk(self, xp, k, b, a) -> dict:
        L = k["L"]
        bp, bq, nb, fb, ok_b = cleaning.clean_side(
            xp, xp.asarray(b[..., 0]), xp.asarray(b[..., 1]), True, L
        )
        ap, aq, na, fa, ok_a = cleaning.clean_side(
            xp, xp.asarray(a[..., 0]), xp.asarray(a[..., 1]), False, L
        )
        reason = fb | fa
        reason = reason | xp.to_int(nb == 0) * cleaning.EMPTY_BID
        reason = reason | xp.to_int(na == 0) * cleaning.EMPTY_ASK
        bb, ba = bp[:, 0], ap[:, 0]
        crossed = ~(bb < ba) & (nb > 0) & (na > 0)
        reason = reason | xp.to_int(crossed) * cleaning.CROSSED
        valid = (reason & cleaning.INVALID_MASK) == 0
        mid = (bb + ba) * 0.5
        spread = ba - bb
        qb1, qa1 = bq[:, 0], aq[:, 0]
        micro = (bb * qa1 + ba * qb1) / (qb1 + qa1)
        # disk origin: the log (geometric) mid; levels enter through p / gmid (no cancellation)
        inv_gmid = xp.reciprocal(xp.sqrt(bb * ba))[:, None]
        res = {
            "valid": valid,
            "reason": reason,
            "n_bid": nb,
            "n_ask": na,
            "mid": mid,
            "spread": spread,
            "spread_bps": spread / mid * 1e4,
            "microprice": micro,
            "microprice_bps": (micro - mid) / mid * 1e4,
        }
        # cumulative depth within 1, 5, 10 and all levels: one small matmul per side
        dep_b = bq @ k["depth_mat"][: bq.shape[1]]
        dep_a = aq @ k["depth_mat"][: aq.shape[1]]
        depth_b = [dep_b[:, j] for j in range(4)]
        depth_a = [dep_a[:, j] for j in range(4)]
        for name, x, z in zip((*DEPTHS, "all"), depth_b, depth_a, strict=True):
            res[f"imbalance_{name}"] = (x - z) / (x + z)
        for name, x in zip((*DEPTHS, "all"), depth_b, strict=True):
            res[f"bid_depth_{name}"] = x
        for name, x in zip((*DEPTHS, "all"), depth_a, strict=True):
            res[f"ask_depth_{name}"] = x
        side_b = self._side_batch(xp, k, bp, bq, depth_b[-1], inv_gmid, True, ok_b)
        side_a = self._side_batch(xp, k, ap, aq, depth_a[-1], inv_gmid, False, ok_a)
        sc = self.sqrt_c
        vx = side_b["sh"] * side_a["ch"] * side_b["ux"] - side_b["ch"] * side_a["sh"] * side_a["ux"]
        vy = side_b["sh"] * side_a["ch"] * side_b["uy"] - side_b["ch"] * side_a["sh"] * side_a["uy"]
        res["centroid_distance"] = xp.asinh(xp.sqrt(vx * vx + vy * vy)) * (2.0 / sc)
        for prefix, side in (("bid", side_b), ("ask", side_a)):
            for name in _SIDE_HYP:
                res[f"{prefix}_{name}"] = side[name]
        if not bool(valid.all()):
            nan = float("nan")
            for name in FEATURE_COLUMNS[4:]:
                res[name] = xp.where(valid, res[name], nan)
        return res

    def _side_batch(self, xp, k, P, w, W, inv_gmid, is_bid: bool, all_ok: bool) -> dict:
        """Per-side hyperbolic features of a chunk: P, w (T, L) cleaned prices and sizes."""
        sc = self.sqrt_c
        n = P.shape[1]
        cos = k["cos_b" if is_bid else "cos_a"][:n]
        sin = k["sin_b" if is_bid else "sin_a"][:n]
        trig = k["trig_b" if is_bid else "trig_a"][:n]
        # radial coordinate h = sqrt(c) d / 2 with d = ln(1 + |ln(p/gmid)| / delta)
        h = P * inv_gmid
        h = xp.log_(h)
        h *= (-1.0 if is_bid else 1.0) / self.delta
        h += 1.0
        if sc == 1.0:  # e^h = sqrt(1 + x/delta): cheaper than exp
            h = xp.clamp_max_(h, k["umax"])
            e = xp.sqrt(h)
            h = xp.log_(h)
            h *= 0.5
        else:
            h = xp.log_(h)
            h *= 0.5 * sc
            h = xp.clamp_max_(h, k["hmax"])
            e = xp.exp_(h * 1.0)
        ei = xp.reciprocal(e)
        S = e - ei  # 2 sinh h
        C = ei
        C += e  # 2 cosh h
        Sw = S * w
        a0m1 = xp.rowdot(Sw, S) * 0.5 / W  # mean (cosh a - 1) = mean 2 sinh^2 h
        Sw *= C  # w 2 sinh(a)
        axy = (Sw @ trig) * 0.5
        ax = axy[:, 0] / W
        ay = axy[:, 1] / W
        nl2m1 = xp.clamp_min(a0m1 * (a0m1 + 2.0) - (ax * ax + ay * ay), 0.0)
        nl = xp.sqrt(nl2m1 + 1.0)
        m0 = (a0m1 + 1.0) / nl
        mx, my = ax / nl, ay / nl
        msp = xp.sqrt(mx * mx + my * my)
        ch = xp.sqrt((m0 + 1.0) * 0.5)
        sh = msp / (ch * 2.0)
        safe = xp.where(msp > 0, msp, 1.0)
        ux = xp.where(msp > 0, mx / safe, 1.0)
        uy = xp.where(msp > 0, my / safe, 0.0)
        kk = 1.0 / (sc * (m0 + 1.0))
        # dispersion: one pass (mean sinh^2(d_i/2) = (nl - 1)/2) where it is well conditioned,
        # the arsinh-form second pass on the rows where it would cancel
        ms = nl2m1 * 0.5 / (nl + 1.0)
        risky = nl2m1 < k["one_pass"] * (a0m1 + 1.0) * (a0m1 + 1.0)
        if bool(risky.any()):
            r = xp.nonzero(risky)
            Sr, Cr, wr = S[r], C[r], w[r]
            vx = Sr * cos
            vx *= ch[r][:, None]
            vx -= Cr * (sh * ux)[r][:, None]
            vy = Sr * sin
            vy *= ch[r][:, None]
            vy -= Cr * (sh * uy)[r][:, None]
            vx *= vx
            vy *= vy
            vx += vy
            ms[r] = xp.rowdot(vx, wr) * 0.25 / W[r]
        disp = xp.asinh(xp.sqrt(ms)) * (2.0 / sc)
        # weighted log-linear least squares, centred on the best level for precision
        h0 = h[:, :1]
        hc = h - h0
        y = xp.log(w) if all_ok else xp.log(xp.where(w > 0, w, 1.0))
        y0 = y[:, :1] * 1.0  # a copy: y is shifted in place next
        y -= y0
        wh = w * hc
        swh = xp.rowsum(wh)
        swhh = xp.rowdot(wh, hc)
        swy = xp.rowdot(w, y)
        swyy = xp.rowdot(w * y, y)
        swhy = xp.rowdot(wh, y)
        hbar, ybar = swh / W, swy / W
        sxx = swhh - swh * hbar
        syy = swyy - swy * ybar
        sxy = swhy - swh * ybar
        tol = k["tol"]
        fit = sxx > tol * swhh
        beta = xp.where(fit, sxy / xp.where(fit, sxx, 1.0), 0.0)
        flat_y = syy <= tol * swyy
        r2 = xp.where(
            fit,
            xp.where(flat_y, 1.0, xp.clamp_max(sxy * sxy / xp.where(fit, sxx * syy, 1.0), 1.0)),
            0.0,
        )
        lrho0 = y0[:, 0] + ybar - beta * (h0[:, 0] + hbar)
        lrho0 = xp.clamp_max(xp.clamp_min(lrho0, -_LOG_CLIP), _LOG_CLIP)
        rate = beta * (-0.5 * sc)
        lam = 1.0 / xp.clamp_min(rate, 1.0 / self.lambda_max)
        return {
            "hdist": xp.asinh(sh) * (2.0 / sc),
            "centroid_x": mx * kk,
            "centroid_y": my * kk,
            "dispersion": disp,
            "rho0": xp.exp_(lrho0),
            "lambda": lam,
            "decay_rate": rate,
            "fit_r2": r2,
            "sh": sh,
            "ch": ch,
            "ux": ux,
            "uy": uy,
        }

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
        mid = np.sqrt(bp[:, :1] * ap[:, :1])
        for P, Q, theta in ((bp, bq, self._theta_bid), (ap, aq, self._phi_ask)):
            with np.errstate(all="ignore"):
                d = np.log1p(np.abs(np.log(P / mid)) / self.delta)
            hh = np.minimum(0.5 * self.sqrt_c * d, self._hmax[torch.float64])
            r = np.tanh(hh) / self.sqrt_c
            th = theta[: P.shape[1]]
            xy = np.stack((r * np.cos(th), r * np.sin(th)), axis=-1)
            out += [torch.from_numpy(xy), torch.from_numpy(Q)]
        return tuple(out)
