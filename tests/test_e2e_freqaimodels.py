"""Every FreqAI model that `hyperphysics init` writes loads through freqtrade's resolver,
and every single-expert class trains and predicts in a real `freqtrade backtesting`.

One freqtrade process backtests all single-expert classes (``--strategy-list``, one
strategy per class, each pointing FreqAI at its model and its own identifier) over one
short window of one pair, to keep the suite's time in check.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import joblib
import pytest
from freqtrade.data.btanalysis import load_backtest_stats

from hyperphysics_strategy.ensemble import EXPERT_REGISTRY
from hyperphysics_strategy.freqai import FREQAI_MODELS
from hyperphysics_strategy.stubs import write_user_dir
from tests.freqtrade_e2e import model_files, run_freqtrade

pytestmark = pytest.mark.e2e

#: single-expert class -> the one expert it trains
SINGLE_EXPERT = {name: cls.EXPERTS[0] for name, cls in FREQAI_MODELS.items() if cls.EXPERTS}
TREE_ROUNDS = {"n_estimators": 20}
TORCH_EPOCHS = {"max_epochs": 2, "patience": 1}


def test_every_stub_that_init_writes_loads_through_freqtrades_resolver(tmp_path):
    write_user_dir(tmp_path)
    stubs = sorted(p.stem for p in (tmp_path / "freqaimodels").glob("*.py"))
    assert stubs == sorted(FREQAI_MODELS) and len(stubs) == 13
    out = subprocess.run(
        [sys.executable, "-m", "freqtrade", "list-freqaimodels", "--userdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "300"},  # rich wraps the table at 80 columns in a pipe
    )
    assert out.returncode == 0, out.stderr[-3000:]
    status = {}
    for line in out.stdout.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line) if c.strip()]
        if len(cells) == 3 and cells[1].endswith(".py") and not cells[1].startswith("<"):
            status[cells[1][:-3]] = cells[2]
    assert status == {name: "OK" for name in FREQAI_MODELS}, out.stdout + out.stderr[-3000:]


def _strategy_file(classes: dict[str, str]) -> str:
    """One strategy per FreqAI class: the package's strategy with FreqAI pointed at it."""
    lines = [
        "from hyperphysics_strategy.strategy import HyperPhysicsStrategy as _Base",
        "",
        "",
        "class _Pinned(_Base):",
        "    FREQAIMODEL = ''",
        "",
        "    def load_freqAI_model(self):",
        "        self.config['freqaimodel'] = self.FREQAIMODEL",
        "        self.config['freqai']['identifier'] = 'e2e-' + self.FREQAIMODEL",
        "        super().load_freqAI_model()",
    ]
    for strategy, model in classes.items():
        lines += ["", "", f"class {strategy}(_Pinned):", f"    FREQAIMODEL = {model!r}"]
    return "\n".join(lines) + "\n"


def test_each_single_expert_class_backtests(tmp_path):
    strategies = {f"S{model}": model for model in SINGLE_EXPERT}
    params = {"seed": 0, "use_processes": False, "stacking_folds": 2}
    for expert in SINGLE_EXPERT.values():
        is_torch = EXPERT_REGISTRY[expert].library == "torch"
        params[expert] = dict(TORCH_EPOCHS if is_torch else TREE_ROUNDS)
    override = {
        "freqai": {
            "train_period_days": 4,
            "backtest_period_days": 1,
            "save_backtest_models": True,
            "feature_parameters": {"include_timeframes": ["5m"], "indicator_periods_candles": [10]},
            "model_training_parameters": params,
        }
    }
    userdir = run_freqtrade(
        tmp_path, "backtesting",
        "--strategy-list", *strategies, "--timerange", "20210421-20210422",
        "--cache", "none", "--export", "trades",
        pairs=["BTC/USDT"], override=override,
        files={"strategies/SingleExperts.py": _strategy_file(strategies)},
    ).userdir  # fmt: skip
    for model, expert in SINGLE_EXPERT.items():
        files = model_files(userdir, f"e2e-{model}")
        assert set(files) == {"BTC"}, (model, files)
        fitted = joblib.load(files["BTC"][0])
        assert [e.name for e in fitted.experts_] == [expert], model
        assert list(fitted.classes_) == ["sell", "neutral", "buy"]
    stats = load_backtest_stats(userdir / "backtest_results")
    assert set(stats["strategy"]) == set(strategies)
