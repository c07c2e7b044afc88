"""``hyperphysics search``: search the whole bet on the user's candles, confirm once, write the
champion fragment and the report (docs/search.md). The logic is ``trading.search``'s."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.live import Live
from rich.text import Text

from .app import app, config_option, console, err_console
from .search_data import datadir, load_config, pair_candles, timerange
from .train_data import InputError, parse_experts


def _fail(message: str) -> typer.Exit:
    err_console.print(Text.assemble(("hyperphysics search: ", "bold red"), message), soft_wrap=True)
    return typer.Exit(2)


def _whole_numbers(text: str, option: str) -> tuple[int, ...]:
    try:
        out = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise InputError(
            f"{option} takes whole numbers separated by commas, got {text!r}"
        ) from None
    if not out or min(out) < 1:
        raise InputError(f"{option} needs at least one number of days >= 1, got {text!r}")
    return out


@app.command("search", short_help="Search the whole bet for an edge that survives.")
def search_cmd(
    config: list[Path] | None = config_option(
        "freqtrade config file(s), merged like freqtrade's -c: the exchange (data folder), "
        "datadir and fee come from them."
    ),
    userdir: Path = typer.Option(Path("user_data"), "--userdir", help="freqtrade user folder."),
    pairs: str = typer.Option(
        ..., "--pairs", help="Comma-separated pairs, e.g. BTC/USDT,ETH/USDT."
    ),
    search_range: str = typer.Option(
        ..., "--timerange", help="Search period (freqtrade timerange YYYYMMDD-YYYYMMDD)."
    ),
    confirm_range: str = typer.Option(
        ..., "--confirm-timerange", help="Untouched confirmation period, after the search period."
    ),
    trials: int = typer.Option(
        60, "--trials", min=1, help="Finished trials the study should hold."
    ),
    out: Path = typer.Option(..., "--out", help="Study folder; the same --out resumes the study."),
    experts: str = typer.Option(
        "lightgbm,xgboost", "--experts", help="Candidate experts (the search picks subsets); 'all'."
    ),
    timeframes: str = typer.Option("5m,15m,1h", "--timeframes", help="Candidate timeframes."),
    groups: str = typer.Option(
        "multi_timeframe,risk", "--feature-groups", help="Feature groups the search may switch on."
    ),
    train_days: str = typer.Option(
        "14,30,60", "--train-days", help="Candidate training windows, in days."
    ),
    concurrent: int = typer.Option(2, "--concurrent", min=1, help="Trials run at once."),
    test_days: int = typer.Option(
        30, "--test-days", min=1, help="Days per walk-forward test block."
    ),
    min_trades: int = typer.Option(30, "--min-trades", min=1, help="Trades a champion needs."),
    min_dsr: float = typer.Option(0.95, "--min-dsr", help="DSR the report calls a surviving edge."),
    backend: str = typer.Option("local", "--backend", help="Expert jobs: local lanes or ray."),
    baseline: bool = typer.Option(
        True, "--baseline/--no-baseline", help="Also run the hand-picked default on both periods."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the sampler."),
) -> None:
    """Search timeframe, label, margin, experts, their parameters, features, training window
    and stacking with Optuna (NSGA-II: net bp per trade, log-loss against the prior, trades)
    on --timerange; run the chosen one once on --confirm-timerange; write OUT/champion.json
    (a config fragment: freqtrade -c config.json -c OUT/champion.json) and OUT/report.md."""
    import pandas as pd

    from ..strategy.search_features import trial_features
    from ..trading.bet import DEFAULT_BET
    from ..trading.search import DEFAULT_SPEC, Market, SearchRun, SearchSpace, conclude, search

    try:
        cfg = load_config(config)
        s_start, s_end = timerange(search_range, "--timerange")
        c_start, c_end = timerange(confirm_range, "--confirm-timerange")
        if c_start < s_end:
            raise InputError("--confirm-timerange must start where --timerange ends or later")
        if backend not in ("local", "ray"):
            raise InputError(f"--backend must be local or ray, got {backend!r}")
        names = [p.strip().upper() for p in pairs.split(",") if p.strip()]
        if not names:
            raise InputError("--pairs names no pair")
        space = SearchSpace(
            timeframes=tuple(t.strip() for t in timeframes.split(",") if t.strip()),
            experts=tuple(parse_experts(experts)),
            feature_groups=tuple(g.strip() for g in groups.split(",") if g.strip()),
            train_days=_whole_numbers(train_days, "--train-days"),
        )
        tfs = set(space.timeframes) | ({DEFAULT_SPEC.timeframe} if baseline else set())
        since = s_start - pd.Timedelta(days=max(space.train_days) + 5)  # training + warm-up
        folder = datadir(cfg, userdir)
        candles = {p: pair_candles(folder, p, tfs, since, c_end) for p in names}
    except (InputError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    fee = float(cfg["fee"]) if cfg.get("fee") is not None else DEFAULT_BET.fee
    market = Market(
        candles,
        trial_features,
        fee=fee,
        test_days=test_days,
        cache_dir=out / "cache",
        backend=backend,
    )
    run = SearchRun(out, s_start, s_end, trials, space=space, concurrent=concurrent, seed=seed)
    from .search_progress import SearchProgress

    progress = SearchProgress(trials, concurrent)
    # quiet while the live table runs; the levels go back after, for in-process callers
    quiet = {"hyperphysics_strategy.ensemble": logging.ERROR, "optuna": logging.WARNING}
    previous = {name: logging.getLogger(name).level for name in quiet}
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)
    try:
        try:
            with Live(progress, console=console, refresh_per_second=2):
                study = search(market, run, progress)
        except KeyboardInterrupt:
            console.print(f"stopped: finished trials are kept in {out}; run again to resume")
            raise typer.Exit(130) from None
        except RuntimeError as exc:
            raise _fail(str(exc)) from exc
        console.print(
            "choosing the champion and running it once on the confirmation period"
            + (", and the hand-picked default on both periods" if baseline else "")
            + " (each trains its folds)..."
        )
        summary = conclude(
            study,
            market,
            (s_start, s_end),
            (c_start, c_end),
            (search_range, confirm_range),
            out,
            min_trades=min_trades,
            min_dsr=min_dsr,
            default_spec=DEFAULT_SPEC if baseline else None,
        )
        console.print(summary["verdict"], soft_wrap=True)
        written = [
            n
            for n in ("champion.json", "HyperPhysicsStrategy.json", "report.md", "pareto.png")
            if (out / n).exists()
        ]
        console.print(f"written to {out}: {', '.join(written)}")
    finally:
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)
