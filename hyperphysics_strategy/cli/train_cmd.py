"""``hyperphysics train``: train the expert ensemble on one pair's candles, with a live table.

Features and labels are the strategy's on the one timeframe trained
(:func:`~hyperphysics_strategy.strategy.features.build_training_set`), not FreqAI's
expansion of them (other timeframes, shifted candles, corr pairs, the risk and order-book
columns): the command prints which parts of the config it leaves out
(:func:`.train_data.feature_scope`). The ensemble is :class:`~hyperphysics_strategy.ensemble.
ExpertEnsemble` with the hardware module's device plan, and the progress comes from its
``on_expert_start`` / ``on_expert_done`` callbacks (the same events freqtrade's log shows).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import typer
from rich.live import Live
from rich.text import Text

from .app import app, config_option, console, err_console
from .train_data import (
    EXPERT_NAMES,
    InputError,
    candle_file,
    feature_scope,
    load_training_set,
    parse_experts,
    strategy_settings,
)
from .train_progress import FoldLog, TrainingProgress, log_to
from .train_results import (
    check_writable,
    load_saved,
    no_signal_lines,
    save_ensemble,
    score_out_of_sample,
    split_holdout,
)


def _fail(message: str) -> typer.Exit:
    err_console.print(Text.assemble(("hyperphysics train: ", "bold red"), message), soft_wrap=True)
    return typer.Exit(2)


@app.command("train", short_help="Train the expert ensemble on one pair's candles.")
def train(
    datadir: Path = typer.Option(
        Path("user_data/data/binance"),
        "--datadir",
        help="freqtrade data folder with <BASE>_<QUOTE>-<timeframe>.feather candle files.",
    ),
    pair: str = typer.Option("BTC/USDT", "--pair", help="Pair to train on."),
    timeframe: str = typer.Option("1h", "--timeframe", help="Candle timeframe."),
    experts: str = typer.Option(
        "lightgbm,xgboost",
        "--experts",
        help=f"Comma-separated expert names from {', '.join(EXPERT_NAMES)}; or 'all' (the twelve).",
    ),
    rows: int | None = typer.Option(
        None,
        "--rows",
        min=1,
        help="Use the last N usable rows (after the features' warm-up); default all.",
    ),
    holdout: float = typer.Option(
        0.2,
        "--holdout",
        min=0.0,
        max=0.8,
        help="Fraction of the rows, at the end, kept out of all training and scored out of "
        "sample against the class prior (after an embargo of --horizon rows); 0: none.",
    ),
    save: Path | None = typer.Option(
        None,
        "--save",
        help="Folder for the ensemble: each expert's native save (<DIR>/<expert>/), "
        "ensemble.json (the blend; no pickle), report.json and the out-of-sample "
        "predictions, with a manifest.json of their checksums.",
    ),
    load: Path | None = typer.Option(
        None,
        "--load",
        help="Do not train: load the ensemble --save wrote and score it on the tail rows "
        "after its training rows.",
    ),
    config: list[Path] | None = config_option(
        "freqtrade config file(s), merged like freqtrade's -c: the features' indicator "
        "periods and the label horizon come from freqai.feature_parameters, and the "
        "hyperphysics section is validated (default: the config hyperphysics init writes)."
    ),
    horizon: int | None = typer.Option(
        None,
        "--horizon",
        min=1,
        help="Label horizon in candles; default: the config's label_period_candles.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the experts."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Also show the training log (placements, workers)."
    ),
) -> None:
    """Train the expert ensemble on one pair's candles, showing each expert's progress,
    then score it out of sample against the class prior."""
    import numpy as np
    import pandas as pd

    from hyperphysics_strategy.trading.bet import DEFAULT_BET

    pair = pair.strip().upper()
    try:
        path = candle_file(datadir, pair, timeframe)
        names = parse_experts(experts)
        loaded = load_saved(load) if load is not None else None
        if save is not None and loaded is None:
            check_writable(save)
        if loaded is not None and config:
            raise InputError("--load rebuilds the features it was saved with: drop --config")
        if loaded is not None:  # the features and labels it was trained on
            saved = loaded[1]
            periods = tuple(saved.get("periods", (10, 20)))
            horizon = int(saved.get("horizon", horizon or DEFAULT_BET.horizon))
        else:
            settings = strategy_settings(config, horizon)
            periods, horizon = settings.periods, settings.horizon
        X, y, dates = load_training_set(path, rows, horizon, pair, timeframe, periods)
        if loaded is not None:
            last = pd.Timestamp(loaded[1]["last_train_date"])
            start = int((dates <= last).sum()) + horizon  # dates ascend
            if start >= len(y):
                raise InputError(
                    f"no rows after the saved ensemble's training rows (through {last}) and "
                    f"its {horizon}-row embargo in {path.name}"
                )
            end = start
        else:
            end, start = split_holdout(len(y), holdout, horizon)
    except InputError as exc:
        raise _fail(str(exc)) from exc
    if loaded is None:
        console.print(
            f"strategy settings from {settings.source}: indicator periods "
            f"{list(periods)}, label horizon {horizon} candles",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        scope = feature_scope(settings, pair, timeframe, X.shape[1])
        console.print(scope, highlight=False, markup=False, soft_wrap=True)

    X_np = X.to_numpy("float32")
    labels = y.to_numpy()
    if loaded is not None:
        ensemble, meta = loaded
        if list(meta.get("feature_names", X.columns)) != list(X.columns):
            raise _fail(f"the saved ensemble's features differ from {path.name}'s")
        console.print(f"loaded the ensemble trained on {meta['pair']} through {last} from {load}")
        train_labels = np.array(meta["train_labels"], dtype=object)
    else:
        ensemble, meta = _train(
            X, X_np, labels, dates, end, names, horizon, seed, verbose, pair, timeframe
        )
        meta["periods"] = list(periods)
        meta["config"] = settings.source
        meta["hyperphysics"] = settings.hyperphysics
        train_labels = labels[:end]
        meta["train_labels"] = train_labels.tolist()
    predictions = None
    if start < len(y):
        oos, proba, prior_proba = score_out_of_sample(
            ensemble,
            X_np[start:],
            labels[start:],
            train_labels,
            rows=len(y) - start,
            embargo=horizon,
            first_date=f"{dates.iloc[start]:%Y-%m-%d %H:%M}",
        )
        for line in oos.lines():
            console.print(line, highlight=False, markup=False, soft_wrap=True)
        meta["out_of_sample"] = {**oos.__dict__, "difference": oos.difference}
        classes = list(ensemble.classes_)
        predictions = pd.DataFrame(
            {
                "date": dates.iloc[start:].to_numpy(),
                "label": labels[start:],
                **{f"proba_{c}": proba[:, i] for i, c in enumerate(classes)},
                **{f"prior_{c}": prior_proba[:, i] for i, c in enumerate(classes)},
            }
        )
    if save is not None and loaded is None:
        written = save_ensemble(save, ensemble, meta, predictions)
        console.print(
            f"saved the ensemble, {len(ensemble.experts_)} expert(s), report.json and "
            f"{len(written) - len(ensemble.experts_) - 2} prediction file(s) in {save}"
        )


def _train(X, X_np, labels, dates, end, names, horizon, seed, verbose, pair, timeframe):
    """Fit the ensemble on the first ``end`` rows with the live table; (ensemble, meta)."""
    from ..engine.hardware import DevicePlan, get_hardware_info
    from ..engine.hardware.summary import summary_lines
    from ..ensemble import ExpertEnsemble
    from ..ensemble.experts import expert_libraries

    ensemble = ExpertEnsemble(names, embargo=horizon, seed=seed, feature_names=list(X.columns))
    info = get_hardware_info()
    plan = DevicePlan.build(expert_libraries(names), names=names, info=info)
    y_train = labels[:end]
    counts = {c: int((y_train == c).sum()) for c in ensemble.classes}
    console.print(
        f"[bold]{pair}[/bold] {timeframe}: {end} rows x {X.shape[1]} features "
        f"({dates.iloc[0]:%Y-%m-%d %H:%M} to {dates.iloc[end - 1]:%Y-%m-%d %H:%M}) for "
        f"training, labels over {horizon} candles: "
        + ", ".join(f"{c} {counts.get(c, 0)}" for c in ensemble.classes),
        highlight=False,
        soft_wrap=True,
    )
    progress = TrainingProgress(
        [(p.task, str(p.device)) for p in plan], f"Training {len(names)} expert(s)"
    )
    progress.add_folds(ensemble.stacking_folds)
    fold_log = FoldLog(progress)
    ensemble_log = logging.getLogger("hyperphysics_strategy.ensemble.crossfit")
    previous = ensemble_log.level
    ensemble_log.addHandler(fold_log)
    ensemble_log.setLevel(min(logging.INFO, ensemble_log.getEffectiveLevel()))
    started = time.perf_counter()
    try:
        # transient: in a terminal the live table gives way to the final one printed
        # below; elsewhere (a file, a pipe) only the final table is written
        with (
            log_to(console, verbose),
            Live(progress, console=console, refresh_per_second=4, transient=True),
        ):
            ensemble.fit(
                X_np[:end],
                y_train,
                on_expert_start=progress.on_start,
                on_expert_done=progress.on_done,
            )
    except RuntimeError as exc:  # every expert failed
        console.print(progress)
        err_console.print(
            Text.assemble(("hyperphysics train: ", "bold red"), str(exc)), soft_wrap=True
        )
        raise typer.Exit(1) from exc
    finally:
        ensemble_log.removeHandler(fold_log)
        ensemble_log.setLevel(previous)
    progress.finish(ensemble.report_)
    console.print(progress)
    for line in [*ensemble.report_.lines(), *summary_lines(info, plan)]:
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    for line in no_signal_lines(ensemble.report_.to_dict()):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(
        "(the ensemble's val log-loss above is partly in-sample: the stacker is fitted on "
        "blocks that include that validation block)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    meta = {
        "pair": pair,
        "timeframe": timeframe,
        "rows": end,
        "first_date": str(dates.iloc[0]),
        "last_date": str(dates.iloc[end - 1]),
        "last_train_date": str(dates.iloc[end - 1]),
        "horizon": horizon,
        "seed": seed,
        "feature_names": list(X.columns),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return ensemble, meta
