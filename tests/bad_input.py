"""What the bad-input tests (tests/test_bad_input_*.py; issue 16, docs/reliability.md) share:
a small three-class training set, fast expert settings, synthetic L2 books, and the
fork-and-SIGKILL loop of the crash-safety tests."""

from __future__ import annotations

import os
import random
import select
import signal
import time
from collections.abc import Callable, Sequence
from itertools import cycle

import numpy as np

from hyperphysics_strategy.ensemble.experts import FitData

KILLS = 24

FAST = {
    "lightgbm": {"n_estimators": 30},
    "xgboost": {"n_estimators": 30},
    "mlp": {"max_epochs": 3, "hidden": [16]},
}


def fit_data(n: int = 600, seed: int = 0) -> FitData:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    s = X[:, 0] + 0.3 * rng.normal(size=n)
    y = np.where(s > 0.5, 0, np.where(s < -0.5, 2, 1))
    k = n * 4 // 5
    return FitData(X[:k], y[:k], np.ones(k), X[k:], y[k:], np.ones(n - k), 3)


def labels(codes):
    return np.array(["buy", "neutral", "sell"], dtype=object)[codes]


def book(ts: int, levels: int = 20) -> tuple[list, list]:
    shift = (ts % 97) * 0.01
    bids = [[100.0 - k - shift, 1.0 + k] for k in range(1, levels + 1)]
    asks = [[100.0 + k + shift, 2.0 + k] for k in range(1, levels + 1)]
    return bids, asks


def kill_repeatedly(
    saves: Sequence[Callable[[], None]],
    check: Callable[[], None],
    kills: int,
    max_delay: float,
) -> None:
    """Fork a child that runs ``saves`` in turn, forever; SIGKILL it at a random moment;
    ``check``; ``kills`` times.

    The moment does not depend on how fast a loaded machine forks: the child reports each
    save that returned through a pipe, and the kill comes a random 0 to ``max_delay``
    seconds after its first 1 to ``len(saves)`` reports (a random count, so that each save
    of the list is sometimes the last one completed)."""
    rng = random.Random(16)
    for _ in range(kills):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: never returns into pytest
            try:
                os.close(read_end)
                for save in cycle(saves):
                    save()
                    os.write(write_end, b".")
            finally:
                os._exit(0)
        os.close(write_end)
        try:
            _await_reports(read_end, rng.randint(1, len(saves)))
            time.sleep(rng.uniform(0.0, max_delay))
        finally:
            os.kill(pid, signal.SIGKILL)  # before closing the pipe: no BrokenPipeError exit
            _, status = os.waitpid(pid, 0)
            os.close(read_end)
        assert os.WIFSIGNALED(status), "the child ended before it was killed"
        check()


def _await_reports(fd: int, count: int, timeout_s: float = 120.0) -> None:
    """Read ``count`` one-byte reports from the child's pipe."""
    deadline = time.monotonic() + timeout_s
    while count > 0:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"the child reported no save in {timeout_s:.0f} s"
        got = os.read(fd, count)
        assert got, "the child ended before its first save"
        count -= len(got)


def freqai_predictor():
    """A ``HyperPhysicsEnsemble`` without FreqAI's set-up (not under test) and a live data
    kitchen for BTC/USDT with a fresh feature pipeline: what ``predict`` needs."""
    from freqtrade.freqai.data_kitchen import FreqaiDataKitchen

    from hyperphysics_strategy.freqai import HyperPhysicsEnsemble

    config = {"freqai": {"feature_parameters": {}}, "exchange": {"pair_whitelist": ["BTC/USDT"]}}
    model = object.__new__(HyperPhysicsEnsemble)
    model.freqai_info, model.CONV_WIDTH = config["freqai"], 1
    dk = FreqaiDataKitchen(config, live=True, pair="BTC/USDT")
    dk.label_list = ["&s-direction"]
    dk.feature_pipeline = model.define_data_pipeline(threads=1)
    return model, dk


def fitted_freqai_predictor(expert_params: dict, **ensemble_options):
    """:func:`freqai_predictor` holding an ensemble of ``expert_params``' experts fitted on
    :func:`fit_data` through the kitchen's pipeline, in backtest mode (``live`` False);
    returns ``(model, dk, frame)``, ``frame`` the validation rows as FreqAI passes them."""
    import pandas as pd

    from hyperphysics_strategy.ensemble import ExpertEnsemble

    data = fit_data()
    model, dk = freqai_predictor()
    names = [f"%f{i}" for i in range(data.X.shape[1])]
    X = dk.feature_pipeline.fit_transform(pd.DataFrame(data.X, columns=names))[0]
    Xv = dk.feature_pipeline.transform(pd.DataFrame(data.X_val, columns=names))[0]
    ensemble = ExpertEnsemble(
        experts=tuple(expert_params), expert_params=expert_params, stacking_folds=0,
        **ensemble_options,
    )  # fmt: skip
    model.model = ensemble.fit(X, labels(data.y), None, Xv, labels(data.y_val))
    model.live = False
    return model, dk, pd.DataFrame(data.X_val, columns=names)
