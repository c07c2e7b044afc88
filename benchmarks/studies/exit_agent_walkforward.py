"""Walk-forward of the exit agent: barrier exits against each agent and the supervised
optimal-stop baseline, on the same entries, out of sample and after fees.

    python benchmarks/studies/exit_agent_walkforward.py [--pairs BTC,ETH,SOL,ADA,XRP,LTC]
        [--barrier 12:1] [--margin 0] [--agents exit_ppo,exit_qrdqn,exit_optimal_stop]
        [--seeds 0,1] [--timesteps 20000] [--split 2021-04-01] [--cache preds.feather]
        [--save user_data/models/<identifier>/exit_agent]

Entries: the strategy's rule on the package's walk-forward (``trading/walkforward.py``, as
``decision_walkforward.py`` runs it: the ensemble trains on ``--train-days`` and predicts
the next ``--test-days``, purged and embargoed); a candle enters a long when ``EV > margin x
sigma x sqrt(h)``. Every such candle is one episode of the exit environment
(``trading/exit_agent``): barriers fixed at entry, observations known at each candle (the
ensemble's out-of-sample probabilities now and at entry; no VaR and no order book in this
history: those inputs read 0).

The period before ``--split`` chooses: every agent x seed trains on its episodes (those
whose horizon ends before the split) through the package's scheduler in one batch, one
lane each; the last fifth of them (by entry date) is held out, and the policy with the
best expectancy there is chosen. The period from ``--split`` confirms: non-overlapping
trades per pair, exited by the barriers alone or by each policy. Reported per period:
trades, expectancy after fees (bp) +- s.e., per-trade Sharpe, the share of exits at each
reason; then the deflated Sharpe ratio of the chosen policy on the confirmation period,
counting every agent and seed. ``--save`` writes the chosen policy and its verdict
(whether it beat the barriers there by more than one s.e.) where the strategy's
``hyperphysics.exit_agent`` reads it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # benchmarks/: common helpers
sys.path.insert(0, str(HERE))  # decision_walkforward beside it, also under runpy

from common.table import print_table  # noqa: E402
from decision_walkforward import pair_data  # noqa: E402

from hyperphysics_strategy.trading import walkforward as W  # noqa: E402
from hyperphysics_strategy.trading.bet import BetSpec  # noqa: E402
from hyperphysics_strategy.trading.exit_agent import episodes as E  # noqa: E402
from hyperphysics_strategy.trading.exit_agent import evaluate, store  # noqa: E402
from hyperphysics_strategy.trading.exit_agent.agents import (  # noqa: E402
    make_policy,
    train_exit_policies,
)
from hyperphysics_strategy.trading.labels import barrier_sigma  # noqa: E402

HEADER = ["exits", "trades", "bp/trade ± s.e.", "Sharpe/trade", *E.REASONS]


def predictions(args, bet: BetSpec) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Every pair's test rows of the package's walk-forward (cached in ``--cache``) and its
    candles (the evaluator's ``t`` indexes them)."""
    data = [pair_data(p) for p in args.pairs]
    candles = {d.pair: d.candles.reset_index(drop=True) for d in data}
    if args.cache and Path(args.cache).exists():
        return pd.read_feather(args.cache), candles
    fit = W.EnsembleFitter(
        args.experts, {e: {"n_estimators": args.n_estimators} for e in args.experts}
    )
    folds = W.Folds(train_days=args.train_days, test_days=args.test_days)
    pred = W.evaluate(data, bet, folds, fit).predictions
    if args.cache:
        pred.to_feather(args.cache)
    return pred, candles


def series(candles: pd.DataFrame, mine: pd.DataFrame, bet: BetSpec, args):
    """A pair's candles with the columns episodes read, its entry candles (``--margin``)
    and its training entry candles (``--train-margin``)."""
    candles = candles.copy()
    candles["hp_sigma"] = barrier_sigma(candles["close"], bet.vol_window).to_numpy()
    t = mine["t"].to_numpy()
    candles["buy"], candles["sell"] = np.nan, np.nan
    candles.loc[t, "buy"], candles.loc[t, "sell"] = mine["p_up"].values, mine["p_down"].values

    def entries(margin: float) -> np.ndarray:
        rule = bet.model_copy(update={"margin": margin})
        return t[rule.signal(mine["ev_long"], None, mine["sigma"]) == 1]

    return candles, entries(args.margin), entries(args.train_margin)


def row(name: str, trades: pd.DataFrame) -> list[str]:
    r = evaluate.summary_row(name, trades)
    if not r["trades"]:
        return [name, "0", "", "", *["" for _ in E.REASONS]]
    return [
        name, f"{r['trades']:,}", f"{r['bp_per_trade']:+.1f} ± {r['bp_se']:.1f}",
        f"{r['sharpe_per_trade']:+.3f}", *[f"{r[x]:.2f}" for x in E.REASONS],
    ]  # fmt: skip


def run_period(per_pair, policies, select) -> dict[str, pd.DataFrame]:
    """Trades of every exit rule over all pairs: ``select(pair, episodes)`` keeps the
    period's episodes."""
    rules = {"barriers only": None} | {
        name: (lambda obs, p=p: p.predict_proba(obs)) for name, p in policies.items()
    }
    out = {}
    for name, policy in rules.items():
        parts = [evaluate.simulate(select(pair, ep), policy) for pair, ep in per_pair.items()]
        out[name] = pd.concat(parts, ignore_index=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", default="BTC,ETH,SOL,ADA,XRP,LTC")
    ap.add_argument("--barrier", default="12:1", help="h:k of the bet")
    ap.add_argument("--margin", type=float, default=0.0, help="the entry rule judged")
    ap.add_argument(
        "--train-margin",
        type=float,
        default=None,
        help="entries the policies train on (default --margin; lower: more)",
    )
    for flag, kind, default in (
        ("--train-days", int, 30),
        ("--test-days", int, 30),
        ("--experts", str, "lightgbm,xgboost"),
        ("--n-estimators", int, 150),
        ("--fee", float, 0.001),
    ):
        ap.add_argument(flag, type=kind, default=default)  # the walk-forward's (fmt: skip)
    ap.add_argument("--agents", default="exit_ppo,exit_qrdqn,exit_optimal_stop")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--timesteps", type=int, default=20_000, help="per RL agent")
    ap.add_argument("--split", default="2021-04-01")
    ap.add_argument("--cache", type=Path, default=None, help="feather file of the predictions")
    ap.add_argument("--save", type=Path, default=None, help="folder for the chosen policy")
    args = ap.parse_args()
    args.pairs = args.pairs.split(",")
    args.train_margin = args.margin if args.train_margin is None else args.train_margin
    args.experts = tuple(args.experts.split(","))
    args.horizon, args.k = int(args.barrier.split(":")[0]), float(args.barrier.split(":")[1])
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    split = pd.Timestamp(args.split, tz="UTC")
    cut = split.tz_convert(None).to_datetime64()

    bet = BetSpec(horizon=args.horizon, k_up=args.k, k_down=args.k, fee=args.fee)
    t0 = time.perf_counter()
    pred, pair_candles = predictions(args, bet)
    t_pred = time.perf_counter() - t0
    per_pair, dates, train_parts, train_keys = {}, {}, [], []
    for pair in args.pairs:
        mine = pred[pred["pair"] == pair]
        candles, entries, train_entries = series(pair_candles[pair], mine, bet, args)
        dates[pair] = pd.to_datetime(candles["date"], utc=True).dt.tz_convert(None).to_numpy()
        per_pair[pair] = E.build_episodes(candles, entries, bet)
        ep = E.build_episodes(candles, train_entries, bet)
        end = dates[pair][np.minimum(ep.entry_index + args.horizon, len(candles) - 1)]
        before = end < cut  # the whole trade before the split
        train_parts.append(ep.select(before))
        train_keys.append(dates[pair][ep.entry_index[before]].astype("int64"))
    train = E.concat_episodes(train_parts, train_keys)
    held_out_from = np.sort(np.concatenate(train_keys))[int(0.8 * len(train))]

    t1 = time.perf_counter()
    seeds = [int(s) for s in args.seeds.split(",")]
    unfitted = []
    for name in args.agents.split(","):
        params = {"total_timesteps": args.timesteps} if name != "exit_optimal_stop" else {}
        unfitted += [make_policy(name, params, seed) for seed in seeds]
    fitted = train_exit_policies(train, unfitted)
    policies = {f"{p.name} seed {p.seed}": p for p in fitted}
    t_train = time.perf_counter() - t1

    def chooses(pair, ep):  # held-out fifth of the choosing period
        entry = dates[pair][ep.entry_index].astype("int64")
        end = dates[pair][np.minimum(ep.entry_index + args.horizon, len(dates[pair]) - 1)]
        return ep.select((entry >= held_out_from) & (end < cut))

    def confirms(pair, ep):
        return ep.select(dates[pair][ep.entry_index] >= cut)

    tag = (
        f"{','.join(args.pairs)}, 5m, h = {args.horizon}, k = {args.k:g}, EV > {args.margin:g} σ√h"
    )
    results = {}
    for period, select in (("held-out fifth before the split (chooses)", chooses),
                           (f"from {args.split} (confirms)", confirms)):  # fmt: skip
        results[period] = run_period(per_pair, policies, select)
        rows = [row(name, trades) for name, trades in results[period].items()]
        print_table(f"Exit agent walk-forward, {period}: {tag}, fee {args.fee:.2%} a side",
                    HEADER, rows)  # fmt: skip
    choosing, confirming = results.values()
    eligible = {n: t["net"].mean() for n, t in choosing.items() if n in policies and len(t) >= 30}
    chosen = max(eligible, key=eligible.get) if eligible else None
    print(f"\nchosen on the held-out fifth: {chosen or 'none (no policy traded 30 times)'}")
    nets = [confirming[n]["net"].to_numpy() for n in policies]
    barrier = confirming["barriers only"]["net"].to_numpy()
    dsr = None
    if chosen and len(confirming[chosen]) > 2:
        dsr, sr, sr0 = evaluate.deflated(confirming[chosen]["net"].to_numpy(), nets)
        beats = evaluate.beats_barriers(confirming[chosen]["net"], barrier)
        print_table(
            "Chosen policy on the confirmation period",
            ["policy", "trades", "Sharpe/trade", "policies tried", "SR0", "DSR", "beats barriers"],
            [[chosen, len(confirming[chosen]), f"{sr:+.4f}", len(nets), f"{sr0:.4f}",
              f"{dsr:.3f}", "yes" if beats else "no"]],
        )  # fmt: skip
    if args.save and chosen:
        policy, mine = policies[chosen], confirming[chosen]["net"]
        verdict = store.Verdict(
            policy=policy.name,
            bet=store.BetConfig(timeframe="5m", horizon=args.horizon, k_up=args.k,
                                k_down=args.k, fee=args.fee),
            pairs=tuple(f"{p}/USDT" for p in args.pairs),
            confirm_timerange=f"{split:%Y%m%d}-{pd.Timestamp(pred['date'].max()):%Y%m%d}",
            trades=len(mine), bp_per_trade=1e4 * float(mine.mean()),
            barrier_trades=len(barrier), barrier_bp_per_trade=1e4 * float(barrier.mean()),
            beats_barriers=evaluate.beats_barriers(mine, barrier), policies_tried=len(nets),
            dsr=dsr, created=datetime.now(UTC),
        )  # fmt: skip
        store.save_exit_agent(args.save, policy, verdict)
        print(f"saved {chosen} to {args.save} (beats barriers: {verdict.beats_barriers})")
    print(
        f"\nepisodes for training: {len(train):,} ({train.episode.size:,} steps); wall time: "
        f"predictions {t_pred:.0f} s, training {len(fitted)} policies {t_train:.0f} s, "
        f"total {time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
