"""After the trials: choose, confirm once, deflate, write the champion fragment and the report."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from hyperphysics_strategy.ensemble.experts import DEFAULT_EXPERTS

from ..bet import DEFAULT_BET
from ..champion import Champion
from .folds import Market
from .results import fragment, importances, pareto_plot, report, strategy_parameters, write_json
from .selection import Outcome, choose, deflated_sharpe, run_once, trial_sharpes, trials_ran
from .spec import TrialSpec

logger = logging.getLogger(__name__)

#: the strategy's hand-picked default bet (docs/results.md chose it from 12 configurations)
DEFAULT_SPEC = TrialSpec(
    timeframe="5m",
    horizon=DEFAULT_BET.horizon,
    k_up=DEFAULT_BET.k_up,
    k_down=DEFAULT_BET.k_down,
    margin=DEFAULT_BET.margin,
    experts=DEFAULT_EXPERTS,
    expert_params={e: {"n_estimators": 300, "learning_rate": 0.05} for e in DEFAULT_EXPERTS},
    feature_groups=("multi_timeframe", "risk"),
    indicator_periods=(10, 20),
    train_days=30,
)


def conclude(
    study: optuna.Study,
    market: Market,
    search: tuple[pd.Timestamp, pd.Timestamp],
    confirm: tuple[pd.Timestamp, pd.Timestamp],
    timeranges: tuple[str, str],
    out: Path,
    *,
    min_trades: int = 30,
    min_dsr: float = 0.95,
    default_spec: TrialSpec | None = DEFAULT_SPEC,
) -> dict[str, Any]:
    """Write OUT's champion fragment (when a trial qualifies), report and Pareto plot; return
    the summary (also ``OUT/summary.json``)."""
    n = len(trials_ran(study))
    sharpes = trial_sharpes(study)
    rows: dict[str, tuple[Outcome | None, Outcome | None]] = {}
    best = choose(study, min_trades)
    summary: dict[str, Any] = {
        "study": study.study_name,
        "trials": n,
        "scored_trials": len(sharpes),
        "champion": None,
    }
    if default_spec is not None:
        (d1, a1), (d2, a2) = (
            run_once(market, default_spec, *search),
            run_once(market, default_spec, *confirm),
        )
        rows["hand-picked default"] = (d1, d2)
        rows["always enter (default bet, no model)"] = (a1, a2)
    if best is None:
        verdict = (
            f"No trial traded {min_trades} times on the search period with a finite "
            f"expectancy: no champion, no fragment written."
        )
    else:
        spec = TrialSpec.from_dict(best.user_attrs["spec"])
        (c1, ca1), (c2, ca2) = run_once(market, spec, *search), run_once(market, spec, *confirm)
        rows[f"champion (trial {best.number})"] = (c1, c2)
        rows["always enter (champion's bet, no model)"] = (ca1, ca2)
        dsr, sr, sr0 = deflated_sharpe(c2.net, n, sharpes)
        champ = Champion(
            study=study.study_name,
            trials=max(1, n),
            dsr=round(dsr, 4),
            timeframe=spec.timeframe,
            pairs=tuple(market.pairs),
            search_timerange=timeranges[0],
            confirm_timerange=timeranges[1],
            trades=c2.score.trades,
            net_bp_per_trade=round(c2.score.net_bp_per_trade, 2) if c2.score.trades else 0.0,
            created=datetime.now(UTC),
            horizon=spec.horizon,
            k_up=spec.k_up,
            k_down=spec.k_down,
            entry_ev_margin=spec.margin,
        )
        write_json(out / "champion.json", fragment(spec, champ))
        write_json(out / "HyperPhysicsStrategy.json", strategy_parameters(spec))
        passed = dsr >= min_dsr
        verdict = (
            f"{'An edge survives' if passed else 'No edge survives'}: the champion's "
            f"deflated Sharpe ratio on the confirmation period is {dsr:.3f} over {n} "
            + (
                f"trials (SR {sr:+.4f} per trade against SR0 {sr0:.4f}; "
                if c2.score.trades > 2
                else f"trials ({c2.score.trades} trades there, too few to test; "
            )
            + f"the gate needs {min_dsr})."
        )
        summary.update(
            champion=best.number,
            dsr=dsr,
            sharpe=sr,
            sr0=sr0,
            passed=passed,
            spec=spec.to_dict(),
            confirm=c2.score.to_dict(),
            search=c1.score.to_dict(),
        )
    drawn = pareto_plot(study, out / "pareto.png")
    head = [
        f"- pairs: {', '.join(market.pairs)}; fee {market.fee:.2%} a side; test blocks of "
        f"{market.test_days} days",
        f"- search period {timeranges[0]}, confirmation period {timeranges[1]} (seen once, "
        f"by the champion and the baselines only)",
        f"- trials run: {n} (complete, pruned and failed, every run of the study); "
        f"{len(sharpes)} scored a Sharpe ratio",
        f"- Pareto front: {len(study.best_trials)} trials" + ("" if drawn else " (no plot)"),
    ]
    (out / "report.md").write_text(report(rows, head, importances(study), verdict))
    summary["verdict"] = verdict
    write_json(out / "summary.json", summary)
    return summary
