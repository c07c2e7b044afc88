"""``hyperphysics train``: train the expert ensemble on one pair's candles, with a live table.

Features and labels are the strategy's (:func:`~hyperphysics_strategy.strategy.features.
build_training_set`), the ensemble is :class:`~hyperphysics_strategy.ensemble.
ExpertEnsemble` with the hardware module's device plan, and the progress comes from its
``on_expert_start`` / ``on_expert_done`` callbacks (the same events freqtrade's log shows).
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .app import app, console, err_console

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ..ensemble.ensemble import EnsembleReport
    from ..ensemble.training import TrainingOutcome

MIN_ROWS = 100
ENSEMBLE_FILE = "ensemble.joblib"
PREDICTIONS_FILE = "out_of_sample_predictions.csv"
#: The ensemble's experts (``ensemble.experts.EXPERT_REGISTRY``, in the hardware plan's
#: order; a test keeps them equal), named here so that ``--help`` needs no torch.
EXPERT_NAMES: tuple[str, ...] = (
    "lightgbm",
    "xgboost",
    "catboost",
    "xgboost_rf",
    "xgboost_dart",
    "catboost_alt",
    "mlp",
    "nbeats",
    "tide",
    "tabnet",
    "kan",
    "transformer",
)


class InputError(Exception):
    """Bad user input: reported as one line, exit code 2."""


def _fail(message: str) -> typer.Exit:
    err_console.print(Text.assemble(("hyperphysics train: ", "bold red"), message), soft_wrap=True)
    return typer.Exit(2)


def candle_file(datadir: Path, pair: str, timeframe: str) -> Path:
    """The feather file of ``pair`` at ``timeframe`` in freqtrade's data layout.

    Spot candles are ``<datadir>/BTC_USDT-1h.feather``, futures candles
    ``<datadir>/futures/BTC_USDT_USDT-1h-futures.feather``. Raises :class:`InputError`
    naming the problem (no folder, malformed pair, no file for the pair).
    """
    from freqtrade.misc import pair_to_filename

    if "/" not in pair:
        raise InputError(f"pair must look like BTC/USDT, got {pair!r}")
    if not datadir.is_dir():
        raise InputError(f"data directory {datadir} does not exist")
    stem = pair_to_filename(pair)
    candidates = [datadir / f"{stem}-{timeframe}.feather"]
    if ":" in pair:
        candidates.insert(0, datadir / "futures" / f"{stem}-{timeframe}-futures.feather")
    for path in candidates:
        if path.is_file():
            return path
    available = sorted(
        p.name[: -len(f"-{timeframe}.feather")].replace("_", "/", 1)
        for p in datadir.glob(f"*-{timeframe}.feather")
    )
    known = ", ".join(available) if available else "none"
    raise InputError(
        f"unknown pair {pair}: no {timeframe} candles for it in {datadir} "
        f"(looked for {candidates[-1].name}; pairs with {timeframe} candles there: {known})"
    )


def parse_experts(text: str) -> list[str]:
    """``--experts``: comma-separated registry names, or ``all`` (the twelve)."""
    from ..ensemble.experts import EXPERT_REGISTRY

    if text.strip().lower() == "all":
        return list(EXPERT_REGISTRY)
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError("--experts names no expert")
    unknown = [n for n in names if n not in EXPERT_REGISTRY]
    if unknown:
        raise InputError(
            f"unknown expert {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(EXPERT_REGISTRY)}, or all)"
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"expert listed twice: {', '.join(twice)}")
    return names


def load_candles(path: Path, pair: str, timeframe: str) -> pd.DataFrame:
    """``pair``'s candles as freqtrade loads them (``load_pair_history``: sorted,
    de-duplicated, missing candles filled), from the file :func:`candle_file` found."""
    from freqtrade.data.history import load_pair_history
    from freqtrade.enums import CandleType

    futures = path.parent.name == "futures"
    try:
        candles = load_pair_history(
            pair,
            timeframe,
            path.parent.parent if futures else path.parent,
            data_format="feather",
            candle_type=CandleType.FUTURES if futures else CandleType.SPOT,
        )
    except Exception as exc:  # not a feather file, unreadable
        raise InputError(f"cannot read {path}: {exc}") from exc
    if candles.empty:
        raise InputError(f"{path}: freqtrade's loader finds no candles in it")
    return candles


@dataclass(frozen=True)
class StrategySettings:
    """What the strategy's features and labels depend on, read from a freqtrade config:
    ``freqai.feature_parameters`` (indicator periods, label horizon) and the validated
    ``hyperphysics`` section (the strategy's settings model)."""

    periods: tuple[int, ...]
    horizon: int
    hyperphysics: dict[str, Any]
    source: str


def _positive_ints(value: Any, key: str) -> tuple[int, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise InputError(f"{key} must be a non-empty list of positive integers, got {value!r}")
    return tuple(value)


def strategy_settings(configs: list[Path] | None, horizon: int | None = None) -> StrategySettings:
    """The strategy's settings from ``configs`` (merged as freqtrade merges its ``-c``
    files, a later one wins), or from the example config that ``hyperphysics init`` writes
    when there is none; ``horizon``, when given, overrides ``label_period_candles``."""
    import rapidjson
    from freqtrade.configuration.load_config import CONFIG_PARSE_MODE, load_config_file
    from freqtrade.misc import deep_merge_dicts

    from ..strategy.settings import load_settings
    from ..stubs import EXAMPLE_CONFIG, example_config_text

    config: dict[str, Any] = {}
    if configs:
        for path in configs:
            try:
                config = deep_merge_dicts(load_config_file(str(path)), config)
            except Exception as exc:  # OperationalException / ConfigurationError, with reason
                raise InputError(f"cannot read config {path}: {exc}") from exc
        source = ", ".join(str(p) for p in configs)
    else:
        config = rapidjson.loads(example_config_text(), parse_mode=CONFIG_PARSE_MODE)
        source = f"the package's {EXAMPLE_CONFIG}"
    freqai = config.get("freqai") or {}
    features = freqai.get("feature_parameters") or {}
    key = "freqai.feature_parameters"
    periods = _positive_ints(
        features.get("indicator_periods_candles", [10, 20]), f"{key}.indicator_periods_candles"
    )
    if horizon is None:
        horizon = features.get("label_period_candles", 12)
        if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
            raise InputError(f"{key}.label_period_candles must be a positive integer: {horizon!r}")
    try:
        settings = load_settings(config)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    return StrategySettings(periods, horizon, settings.model_dump(mode="json"), source)


def load_training_set(
    path: Path,
    rows: int | None,
    horizon: int,
    pair: str = "",
    timeframe: str = "",
    periods: tuple[int, ...] = (10, 20),
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Features, labels and candle dates of the last ``rows`` usable rows of ``path``."""

    from ..strategy.features import build_training_set

    pair = pair or path.name.split("-")[0].replace("_", "/", 1)
    timeframe = timeframe or path.stem.split("-")[1]
    candles = load_candles(path, pair, timeframe)
    X, y = build_training_set(candles, periods=periods, horizon=horizon)
    if rows is not None:
        X, y = X.iloc[-rows:], y.iloc[-rows:]
    if len(y) < MIN_ROWS:
        raise InputError(
            f"{path.name}: only {len(y)} usable rows after the features' warm-up and the "
            f"{horizon}-candle label horizon; at least {MIN_ROWS} are needed"
        )
    return X, y, candles.loc[X.index, "date"]


# -- the live table ----------------------------------------------------------------------


@dataclass
class _Row:
    device: str
    status: str = "queued"
    started: float | None = None
    seconds: float | None = None
    val_log_loss: float | None = None
    weight: float | None = None
    note: str = ""


class TrainingProgress:
    """One row per expert, updated from the ensemble's callbacks (any thread)."""

    STYLES = {
        "queued": "dim",
        "training": "yellow",
        "done": "green",
        "dropped": "red",
        "left out": "red",
        "skipped": "dim",
    }

    def __init__(self, planned: list[tuple[str, str]], title: str) -> None:
        self.rows = {name: _Row(device) for name, device in planned}
        self.title = title
        self._lock = threading.Lock()

    def on_start(self, name: str, device: str) -> None:
        with self._lock:
            row = self.rows.setdefault(name, _Row(device))
            row.device, row.status, row.started = device, "training", time.perf_counter()

    def on_done(self, outcome: TrainingOutcome) -> None:
        with self._lock:
            row = self.rows.setdefault(outcome.expert.name, _Row(outcome.device))
            row.device = outcome.device or row.device
            row.seconds = outcome.seconds
            row.status = "done" if outcome.ok else "dropped"
            row.note = outcome.worker + (", retried on cpu" if outcome.retried_on_cpu else "")
            if not outcome.ok:
                row.note = outcome.error or "failed"
            experts = [r for k, r in self.rows.items() if not k.startswith("fold ")]
            all_done = all(r.status in ("done", "dropped") for r in experts)
        if all_done:
            self.folds_started()

    def on_fold(self, n: int, total: int, status: str, seconds: float | None) -> None:
        """A stacking fold finished (``done``/``left out``/``skipped``): mark it, and the
        next fold as training."""
        with self._lock:
            # fewer rows than planned give fewer folds: drop the planned rows
            for key in [k for k in self.rows if k.startswith("fold ")]:
                if not key.endswith(f"/{total}"):
                    del self.rows[key]
            row = self.rows.setdefault(f"fold {n}/{total}", _Row("-", note="stacking"))
            row.status, row.seconds, row.started = status, seconds, None
            if n < total:
                nxt = self.rows.setdefault(f"fold {n + 1}/{total}", _Row("-", note="stacking"))
                nxt.status, nxt.started = "training", time.perf_counter()

    def add_folds(self, total: int) -> None:
        with self._lock:
            for n in range(1, total + 1):
                self.rows.setdefault(f"fold {n}/{total}", _Row("-", note="stacking"))

    def folds_started(self) -> None:
        """Every expert is done: the first stacking fold trains now."""
        with self._lock:
            first = next((r for k, r in self.rows.items() if k.startswith("fold ")), None)
            if first is not None and first.status == "queued":
                first.status, first.started = "training", time.perf_counter()

    def finish(self, report: EnsembleReport) -> None:
        """Blend weights and validation log-losses once the ensemble is fitted."""
        with self._lock:
            for r in report.experts:
                row = self.rows.get(r.name)
                if row is None or r.error:
                    continue
                row.weight, row.val_log_loss = r.weight, r.val_log_loss

    def __rich__(self) -> Table:
        with self._lock:
            table = Table(title=self.title)
            for col, justify in (
                ("expert", "left"),
                ("device", "left"),
                ("status", "left"),
                ("seconds", "right"),
                ("val log-loss", "right"),
                ("weight", "right"),
                ("note", "left"),
            ):
                table.add_column(col, justify=justify)  # type: ignore[arg-type]
            now = time.perf_counter()
            for name, row in self.rows.items():
                seconds = row.seconds
                if seconds is None and row.started is not None:
                    seconds = now - row.started
                table.add_row(
                    name,
                    row.device,
                    Text(row.status, style=self.STYLES.get(row.status, "")),
                    "-" if seconds is None else f"{seconds:.1f}",
                    "-" if row.val_log_loss is None else f"{row.val_log_loss:.4f}",
                    "-" if row.weight is None else f"{row.weight:.3f}",
                    Text(row.note, style="red" if row.status == "dropped" else "dim"),
                )
            return table


# -- the command ------------------------------------------------------------------------


@contextmanager
def _log_to(target: Console, verbose: bool) -> Iterator[None]:
    """The package's log lines (warnings; with ``verbose`` also info) on ``target``, which
    keeps them above the live table, for the duration of the command."""
    from rich.logging import RichHandler

    log = logging.getLogger("hyperphysics_strategy")
    handler = RichHandler(console=target, show_path=False, markup=False)
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    # the drift summary is a line of the report printed at the end
    handler.addFilter(lambda r: not r.getMessage().startswith("ensemble: feature drift"))
    previous_level, previous_propagate = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(min(handler.level, log.getEffectiveLevel()))
    log.propagate = False  # once is enough: not again through the root logger's handlers
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(previous_level)
        log.propagate = previous_propagate


class _FoldLog(logging.Handler):
    """Turns the ensemble's "stacking fold n/N ..." log lines into progress rows."""

    PATTERN = re.compile(r"stacking fold (\d+)/(\d+)(?:: .* in ([0-9.]+)s| (left out|skipped))")

    def __init__(self, progress: TrainingProgress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        match = self.PATTERN.match(record.getMessage())
        if match:
            n, total, seconds, other = match.groups()
            status = other or "done"
            self.progress.on_fold(int(n), int(total), status, float(seconds) if seconds else None)


def no_signal_lines(report: dict[str, Any]) -> list[str]:
    """Plain words for the report's signs that the experts found nothing."""
    from ..ensemble.calibration import LOG_T_BOUNDS

    bound = math.exp(LOG_T_BOUNDS[1])
    out = []
    temps = (report.get("calibration") or {}).get("expert_temperatures") or []
    at_bound = [
        e["name"]
        for e, t in zip([e for e in report["experts"] if not e.get("error")], temps, strict=False)
        if t is not None and t >= 0.999 * bound
    ]
    if at_bound:
        out.append(
            f"no signal: {', '.join(at_bound)} calibrated at the temperature bound "
            f"({bound:.1f}): their probabilities were flattened to the class prior"
        )
    early = [e["name"] for e in report["experts"] if (e.get("best_iteration") or 99) <= 5]
    if early:
        out.append(
            f"no signal: {', '.join(early)} stopped improving on validation within 5 "
            "rounds (best_iteration <= 5)"
        )
    return out


def log_loss_of(proba: np.ndarray, codes: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class (probabilities clipped at 1e-12)."""
    import numpy as np

    p = np.clip(proba[np.arange(codes.shape[0]), codes], 1e-12, 1.0)
    return float(-np.log(p).mean())


@dataclass
class OutOfSample:
    """The ensemble and the class prior scored on the tail rows no model saw."""

    rows: int
    embargo: int
    first_date: str
    ensemble_log_loss: float
    prior_log_loss: float
    prior: dict[str, float]

    @property
    def difference(self) -> float:
        return self.ensemble_log_loss - self.prior_log_loss

    @property
    def skill(self) -> bool:
        return self.difference < 0

    def lines(self) -> list[str]:
        out = [
            f"out-of-sample: the last {self.rows} rows (from {self.first_date}, after a "
            f"{self.embargo}-row embargo), seen by neither the experts nor the stacker",
            f"out-of-sample log-loss: ensemble {self.ensemble_log_loss:.4f}, class prior "
            f"{self.prior_log_loss:.4f}, difference {self.difference:+.4f} (negative: "
            "the ensemble is better)",
        ]
        if not self.skill:
            out.append(
                "no skill over the class prior: on rows it never saw, the ensemble does no "
                "better than always predicting the training class frequencies"
            )
        return out


def split_holdout(n: int, holdout: float, embargo: int) -> tuple[int, int]:
    """``(end of the training rows, start of the out-of-sample tail)``."""
    tail = max(int(round(n * holdout)), 0)
    if tail == 0:
        return n, n
    start = n - tail
    end = start - embargo
    if end < MIN_ROWS or tail < 20:
        raise InputError(
            f"{n} rows leave {max(end, 0)} for training and {tail} out of sample after the "
            f"{embargo}-row embargo; at least {MIN_ROWS} and 20 are needed (more --rows, "
            "or a different --holdout)"
        )
    return end, start


def score_out_of_sample(
    ensemble: Any, X: np.ndarray, labels: np.ndarray, train_labels: np.ndarray, **meta: Any
) -> tuple[OutOfSample, np.ndarray, np.ndarray]:
    """Scores, the ensemble's probabilities and the prior's, on the tail rows."""
    import numpy as np

    classes = list(ensemble.classes_)
    codes = np.array([classes.index(v) for v in labels])
    counts = np.array([(train_labels == c).sum() for c in classes], dtype=float)
    prior = counts / counts.sum()
    proba = ensemble.predict_proba(X)
    prior_proba = np.broadcast_to(prior, proba.shape)
    result = OutOfSample(
        ensemble_log_loss=log_loss_of(proba, codes),
        prior_log_loss=log_loss_of(prior_proba, codes),
        prior=dict(zip(classes, prior.round(6).tolist(), strict=True)),
        **meta,
    )
    return result, proba, prior_proba


def _save(
    directory: Path,
    ensemble: Any,
    meta: dict[str, Any],
    predictions: pd.DataFrame | None,
) -> list[Path]:
    """The ensemble (joblib, as FreqAI saves it), each expert natively, report.json and
    the out-of-sample predictions."""
    import joblib

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for expert in ensemble.experts:
        expert.save(directory / expert.name)
        written.append(directory / expert.name)
    joblib.dump(ensemble, directory / ENSEMBLE_FILE)
    written.append(directory / ENSEMBLE_FILE)
    if predictions is not None:
        predictions.to_csv(directory / PREDICTIONS_FILE, index=False)
        written.append(directory / PREDICTIONS_FILE)
    weights = zip(ensemble.experts, ensemble.weights, strict=True)
    report = {
        **meta,
        "classes": list(ensemble.codec.classes),
        "weights": {e.name: float(w) for e, w in weights},
        "report": ensemble.report.to_dict(),
    }
    tmp = directory / "report.json.tmp"
    tmp.write_text(json.dumps(report, indent=2, default=str))
    tmp.replace(directory / "report.json")
    written.append(directory / "report.json")
    return written


def check_writable(directory: Path) -> None:
    """Fail before training if ``--save``'s folder cannot be written (it used to fail
    after training, and the trained ensemble was lost): create it and write a probe file.
    Raises :class:`InputError` naming the folder and the reason."""
    import tempfile

    if directory.exists() and not directory.is_dir():
        raise InputError(f"--save {directory}: exists and is not a folder")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"--save {directory}: cannot write there ({reason})") from exc


def _load(directory: Path) -> tuple[Any, dict[str, Any]]:
    import joblib

    path = directory / ENSEMBLE_FILE
    if not path.is_file():
        raise InputError(f"no saved ensemble in {directory} (looked for {ENSEMBLE_FILE})")
    try:
        meta = json.loads((directory / "report.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{directory}/report.json is missing or unreadable: {exc}") from exc
    return joblib.load(path), meta


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
        help="Folder for the ensemble (ensemble.joblib), each expert's native save "
        "(<DIR>/<expert>/), report.json and the out-of-sample predictions.",
    ),
    load: Path | None = typer.Option(
        None,
        "--load",
        help="Do not train: load the ensemble --save wrote and score it on the tail rows "
        "after its training rows.",
    ),
    config: list[Path] | None = typer.Option(
        None,
        "--config",
        "-c",
        help="freqtrade config file(s), merged like freqtrade's -c: the features' indicator "
        "periods and the label horizon come from freqai.feature_parameters, and the "
        "hyperphysics section is validated (default: the config hyperphysics init writes).",
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

    pair = pair.strip().upper()
    try:
        path = candle_file(datadir, pair, timeframe)
        names = parse_experts(experts)
        loaded = _load(load) if load is not None else None
        if save is not None and loaded is None:
            check_writable(save)
        if loaded is not None and config:
            raise InputError("--load rebuilds the features it was saved with: drop --config")
        if loaded is not None:  # the features and labels it was trained on
            saved = loaded[1]
            periods = tuple(saved.get("periods", (10, 20)))
            horizon = int(saved.get("horizon", horizon or 12))
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
        written = _save(save, ensemble, meta, predictions)
        console.print(
            f"saved the ensemble, {len(ensemble.experts)} expert(s), report.json and "
            f"{len(written) - len(ensemble.experts) - 2} prediction file(s) in {save}"
        )


def _train(X, X_np, labels, dates, end, names, horizon, seed, verbose, pair, timeframe):
    """Fit the ensemble on the first ``end`` rows with the live table; (ensemble, meta)."""
    from ..engine.hardware import DevicePlan, get_hardware_info
    from ..engine.hardware.summary import summary_lines
    from ..ensemble import ExpertEnsemble

    ensemble = ExpertEnsemble(names, embargo=horizon, seed=seed, feature_names=list(X.columns))
    info = get_hardware_info()
    plan = DevicePlan.build(
        [e.library for e in ensemble.experts], names=[e.name for e in ensemble.experts], info=info
    )
    y_train = labels[:end]
    counts = {c: int((y_train == c).sum()) for c in ensemble.codec.classes}
    console.print(
        f"[bold]{pair}[/bold] {timeframe}: {end} rows x {X.shape[1]} features "
        f"({dates.iloc[0]:%Y-%m-%d %H:%M} to {dates.iloc[end - 1]:%Y-%m-%d %H:%M}) for "
        f"training, labels over {horizon} candles: "
        + ", ".join(f"{c} {counts.get(c, 0)}" for c in ensemble.codec.classes),
        highlight=False,
        soft_wrap=True,
    )
    progress = TrainingProgress(
        [(p.task, str(p.device)) for p in plan], f"Training {len(names)} expert(s)"
    )
    if ensemble.calibrate and ensemble.blend_method == "stack":
        progress.add_folds(ensemble.stacking_folds)
    fold_log = _FoldLog(progress)
    ensemble_log = logging.getLogger("hyperphysics_strategy.ensemble.ensemble")
    previous = ensemble_log.level
    ensemble_log.addHandler(fold_log)
    ensemble_log.setLevel(min(logging.INFO, ensemble_log.getEffectiveLevel()))
    started = time.perf_counter()
    try:
        # transient: in a terminal the live table gives way to the final one printed
        # below; elsewhere (a file, a pipe) only the final table is written
        with (
            _log_to(console, verbose),
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
    progress.finish(ensemble.report)
    console.print(progress)
    for line in [*ensemble.report.lines(), *summary_lines(info, plan)]:
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    for line in no_signal_lines(ensemble.report.to_dict()):
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
