"""What a search leaves in OUT: ``champion.json``, ``HyperPhysicsStrategy.json``, ``report.md``
and ``pareto.png``.

``champion.json`` is a freqtrade config fragment (``freqtrade trade -c config.json -c
OUT/champion.json``): the chosen configuration's keys where freqtrade, FreqAI and the strategy
read them (``timeframe``; ``freqai.train_period_days``, ``feature_parameters``,
``model_training_parameters``) and ``hyperphysics.champion``
(:class:`~hyperphysics_strategy.trading.champion.Champion`), which the edge gate reads.
The entry margin is a strategy parameter, not a config key: ``HyperPhysicsStrategy.json`` is
freqtrade's strategy-parameter file for it (copy it next to the strategy stub).
"""

from __future__ import annotations

import json
import math
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna

from ..champion import Champion
from .selection import Outcome
from .spec import TrialSpec


def fragment(spec: TrialSpec, champion: Champion) -> dict[str, Any]:
    """The freqtrade config fragment of ``spec`` with its champion block."""
    timeframes = [spec.timeframe] + (
        ["1h"] if "multi_timeframe" in spec.feature_groups and spec.timeframe != "1h" else []
    )
    return {
        "timeframe": spec.timeframe,
        "freqai": {
            "train_period_days": spec.train_days,
            "feature_parameters": {
                "label_period_candles": spec.horizon,
                "indicator_periods_candles": list(spec.indicator_periods),
                "include_timeframes": timeframes,
            },
            "model_training_parameters": {
                "experts": list(spec.experts),
                "stacking_folds": 3 if spec.stacking else 0,
                **{e: dict(spec.expert_params.get(e, {})) for e in spec.experts},
            },
        },
        "hyperphysics": {"champion": json.loads(champion.model_dump_json())},
    }


def strategy_parameters(spec: TrialSpec) -> dict[str, Any]:
    """freqtrade's strategy-parameter file holding the champion's entry margin."""
    return {
        "strategy_name": "HyperPhysicsStrategy",
        "params": {"buy": {"entry_ev_margin": round(spec.margin, 2)}},
        "ft_stratparam_v": 1,
        "export_time": datetime.now(UTC).isoformat(),
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")  # per writer
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)


def _cell(o: Outcome | None) -> list[str]:
    if o is None:
        return ["-"] * 5
    s = o.score
    if s.trades == 0:
        return ["0", "-", "-", "-", "-"]
    se = f" ± {s.se_bp:.1f}" if math.isfinite(s.se_bp) else ""
    return [
        f"{s.trades:,}",
        f"{s.net_bp_per_trade:+.1f}{se}",
        f"{s.upper:.2f} / {s.lower:.2f} / {s.time:.2f}",
        f"{s.sharpe:+.3f}" if math.isfinite(s.sharpe) else "-",
        f"{s.relative_log_loss:+.4f}" if math.isfinite(s.relative_log_loss) else "-",
    ]


def importances(study: optuna.Study, top: int = 10) -> list[tuple[str, float]]:
    """Optuna's parameter importances for the net expectancy (empty when too few trials)."""
    try:
        imp = optuna.importance.get_param_importances(
            study,
            evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0),
            target=lambda t: t.values[0],
        )
    except (RuntimeError, ValueError, ZeroDivisionError):
        return []
    return list(imp.items())[:top]


def pareto_plot(study: optuna.Study, path: Path) -> bool:
    """Net bp per trade against trades of every complete trial, the Pareto front marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [t for t in study.trials if t.values is not None]
    if not done:
        return False
    front = {t.number for t in study.best_trials}
    fig, ax = plt.subplots(figsize=(6, 4))
    for on, color, label in ((False, "grey", "trial"), (True, "crimson", "Pareto front")):
        pts = [t for t in done if (t.number in front) == on and t.values[0] > -1e4]
        ax.scatter(
            [t.values[2] for t in pts], [t.values[0] for t in pts], c=color, label=label, s=18
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xscale("symlog")
    ax.set_xlabel("trades (search period)")
    ax.set_ylabel("net bp per trade after fees")
    ax.set_title("Search trials (the third objective, log-loss, not drawn)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def report(
    rows: dict[str, tuple[Outcome | None, Outcome | None]],
    head: list[str],
    imp: list[tuple[str, float]],
    verdict: str,
) -> str:
    """``report.md``: the heading lines, the rules on both periods, the importances."""
    cols = ["trades", "bp/trade ± s.e.", "upper / lower / time", "Sharpe/trade", "rel. log-loss"]
    lines = ["# hyperphysics search report", "", *head, "", f"**{verdict}**", ""]
    lines += ["| rule | period | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for name, (first, second) in rows.items():
        for period, o in (("search", first), ("confirmation", second)):
            lines.append(f"| {name} | {period} | " + " | ".join(_cell(o)) + " |")
    lines += [
        "",
        "Pareto front: pareto.png.",
        "",
        "## Most important parameters (net bp/trade)",
        "",
    ]
    lines += [f"- {k}: {v:.3f}" for k, v in imp] or ["- too few complete trials to tell"]
    return "\n".join(lines) + "\n"
