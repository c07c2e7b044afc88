"""Backtest HyperPhysicsStrategy + HyperPhysicsEnsemble against freqtrade's own
FreqaiExampleStrategy + LightGBMRegressor on the shared candles, same pairs, timerange,
fees and wallet, through the exchange simulator, and print a Markdown table.

    python benchmarks/studies/compare_freqai_example.py [--pairs BTC ETH SOL ADA] \
        [--timerange 20210101-20210717] [--backtest-days 14] [--out table.md]

FreqaiExampleStrategy is copied from freqtrade's templates. It sets ``can_short = True``,
which freqtrade refuses on spot markets (the only markets the simulator serves), so it
runs as a long-only subclass; HyperPhysicsStrategy is long-only on spot too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: common helpers
import freqtrade
from common import CANDLES
from freqtrade.configuration.load_config import load_config_file
from freqtrade.data.btanalysis import load_backtest_stats

from hyperphysics_strategy.exchange import ExchangeSimulator
from hyperphysics_strategy.runner import (
    freqtrade_command,
    prepare_user_dir,
    run_streaming,
    write_simulator_config,
)
from hyperphysics_strategy.stubs import EXAMPLE_CONFIG

FEE = 0.001
WALLET = 1000.0
#: The default timerange, then its sub-periods: the rise to the May 2021 top, the crash to
#: the June bottom, and after (dates UTC; a trade belongs to the period it opened in).
PERIODS = (
    ("whole", "2021-01-01", "2021-07-17"),
    ("rise", "2021-01-01", "2021-05-12"),
    ("crash", "2021-05-12", "2021-06-23"),
    ("after", "2021-06-23", "2021-07-18"),
)

EXAMPLE_STUB = """
from FreqaiExampleStrategy import FreqaiExampleStrategy as _Example


class FreqaiExampleStrategySpot(_Example):
    can_short = False  # freqtrade refuses short strategies on spot markets
"""


def common_overrides(pairs: list[str], backtest_days: float, identifier: str) -> dict:
    return {
        "exchange": {"pair_whitelist": pairs},
        "fee": FEE,
        "max_open_trades": 3,
        "dry_run_wallet": WALLET,
        "stake_amount": "unlimited",
        "freqai": {
            "identifier": identifier,
            "train_period_days": 30,
            "backtest_period_days": backtest_days,
            "save_backtest_models": False,
            "activate_tensorboard": False,
        },
    }


def example_overrides() -> dict:
    """FreqAI settings of freqtrade's example config, on the 5m/1h data available here."""
    return {
        "freqaimodel": "LightGBMRegressor",
        "freqai": {
            "feature_parameters": {
                "include_timeframes": ["5m", "1h"],
                "include_corr_pairlist": [],
                "label_period_candles": 20,
                "include_shifted_candles": 2,
                "indicator_periods_candles": [10, 20],
                "DI_threshold": 0.9,
                "weight_factor": 0.9,
                "principal_component_analysis": False,
                "use_SVM_to_remove_outliers": True,
            },
            "data_split_parameters": {"test_size": 0.33, "random_state": 1},
            "model_training_parameters": {"n_estimators": 800},
        },
    }


def standalone_config(base: Path, overrides: dict, out: Path) -> Path:
    """``base`` with ``overrides`` applied; dicts merge, but a model's parameter sections are
    replaced whole (freqtrade deep-merges ``-c`` files, which would leak one model's
    parameters into the other's)."""
    config = load_config_file(str(base))  # freqtrade's loader: the config has // comments
    replace = {"model_training_parameters", "feature_parameters", "data_split_parameters"}

    def merge(into: dict, new: dict) -> None:
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict) and key not in replace:
                merge(into[key], value)
            else:
                into[key] = value

    merge(config, overrides)
    out.write_text(json.dumps(config, indent=2))
    return out


def run(userdir: Path, strategy: str, model: str, configs: list[Path], timerange: str) -> dict:
    cmd = freqtrade_command(
        "backtesting", userdir, configs,
        "--strategy", strategy, "--freqaimodel", model, "--timerange", timerange,
        "--datadir", str(CANDLES), "--cache", "none", "--export", "trades",
        "--backtest-filename", strategy,
    )  # fmt: skip
    start = time.perf_counter()
    rc = run_streaming(cmd, userdir / "logs" / f"{strategy}.log", echo=False)
    if rc != 0:
        sys.exit(f"{strategy} backtest failed (rc {rc}); see {userdir / 'logs' / strategy}.log")
    stats = load_backtest_stats(userdir / "backtest_results")
    result = stats["strategy"][strategy]
    result["wall_seconds"] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=["BTC", "ETH", "SOL", "ADA"])
    parser.add_argument("--timerange", default="20210101-20210717")
    parser.add_argument("--backtest-days", type=float, default=14)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--strategies",
        nargs="+",
        default=["HyperPhysicsStrategy", "FreqaiExampleStrategySpot"],
        help="run only these of the two",
    )
    args = parser.parse_args()
    pairs = [f"{p}/USDT" for p in args.pairs]

    work = Path(tempfile.mkdtemp(prefix="hp-compare-"))
    userdir = work / "user_data"
    prepare_user_dir(userdir, candles=work / "none")  # stubs + example config, no demo data
    template = Path(freqtrade.__file__).parent / "templates" / "FreqaiExampleStrategy.py"
    shutil.copy(template, userdir / "strategies" / "FreqaiExampleStrategy.py")
    (userdir / "strategies" / "FreqaiExampleStrategySpot.py").write_text(EXAMPLE_STUB)
    base = userdir / EXAMPLE_CONFIG

    results = {}
    with ExchangeSimulator(CANDLES, mode="historical") as sim:
        write_simulator_config(userdir, sim, pairs)
        sim_cfg = userdir / "exchange-simulator.json"
        for name, model, extra in (
            ("HyperPhysicsStrategy", "HyperPhysicsEnsemble", {}),
            ("FreqaiExampleStrategySpot", "LightGBMRegressor", example_overrides()),
        ):
            if name not in args.strategies:
                continue
            config = standalone_config(
                base,
                common_overrides(pairs, args.backtest_days, name.lower()),
                work / f"{name}.json",
            )
            config = standalone_config(config, extra, config)
            print(f"backtesting {name} + {model} ...", flush=True)
            results[name] = (model, run(userdir, name, model, [config, sim_cfg], args.timerange))

    header = ["strategy", "FreqAI model", "trades", "profit %", "max drawdown %", "Sharpe",
              "Sortino", "Calmar", "win %", "wall s"]  # fmt: skip
    lines = [
        f"Pairs {', '.join(pairs)}; timerange {args.timerange}; 5m candles; "
        f"fee {FEE:.2%} per side; 1000 USDT wallet, max 3 open trades; FreqAI retrains "
        f"every {args.backtest_days:g} days on the previous 30 days; spot, long only. "
        "Wall time on this machine (2 cores, no GPU).",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    for name, (model, r) in results.items():
        win = 100 * r["wins"] / max(1, r["total_trades"])
        lines.append(
            f"| {name} | {model} | {r['total_trades']} | {100 * r['profit_total']:.2f} | "
            f"{100 * r['max_drawdown_account']:.2f} | {r['sharpe']:.2f} | {r['sortino']:.2f} | "
            f"{r['calmar']:.2f} | {win:.1f} | {r['wall_seconds']:.0f} |"
        )
    lines += ["", *period_table(pairs, results)]
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")
    print(f"work dir: {work}")


def buy_and_hold(pairs: list[str], start: str, end: str) -> float:
    """Equal-weight buy-and-hold return of ``pairs`` from ``start`` to ``end`` (5m closes),
    after one fee on the way in and one on the way out."""
    import pandas as pd

    rets = []
    for pair in pairs:
        df = pd.read_feather(CANDLES / f"{pair.replace('/', '_')}-5m.feather")
        inside = df[
            (df["date"] >= pd.Timestamp(start, tz="UTC"))
            & (df["date"] < pd.Timestamp(end, tz="UTC"))
        ]
        rets.append(inside["close"].iloc[-1] / inside["close"].iloc[0] * (1 - FEE) ** 2 - 1)
    return float(sum(rets) / len(rets))


def period_table(pairs: list[str], results: dict) -> list[str]:
    """Per sub-period: each strategy's trades and profit (% of the starting wallet, by the
    period a trade opened in), its exit reasons, and equal-weight buy-and-hold."""
    from collections import Counter

    import pandas as pd

    header = ["period", "dates", "buy-and-hold %"]
    header += [f"{name} trades / profit %" for name in results]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for label, start, end in PERIODS:
        row = [label, f"{start} to {end}", f"{100 * buy_and_hold(pairs, start, end):+.2f}"]
        for _, r in results.values():
            opened = pd.to_datetime([t["open_date"] for t in r["trades"]], utc=True)
            inside = [
                t
                for t, d in zip(r["trades"], opened, strict=True)
                if pd.Timestamp(start, tz="UTC") <= d < pd.Timestamp(end, tz="UTC")
            ]
            profit = sum(t["profit_abs"] for t in inside) / WALLET
            row.append(f"{len(inside)} / {100 * profit:+.2f}")
        out.append("| " + " | ".join(row) + " |")
    for name, (_, r) in results.items():
        reasons = Counter(t["exit_reason"] for t in r["trades"])
        mean = {
            k: 100 * sum(t["profit_ratio"] for t in r["trades"] if t["exit_reason"] == k) / n
            for k, n in reasons.items()
        }
        parts = [f"{k} {n} ({mean[k]:+.2f}% mean)" for k, n in reasons.most_common()]
        out += ["", f"Exit reasons of {name}: " + ", ".join(parts) + "."]
    return out


if __name__ == "__main__":
    main()
