"""``hyperphysics export``: a saved ensemble to ONNX (the ``onnx`` extra).

``MODEL_DIR`` is either a folder ``hyperphysics train --save`` wrote (``ensemble.json``,
loaded without a pickle) or a FreqAI model folder (``<identifier>/sub-train-<PAIR>_<time>/``
holding ``*_model.joblib``; its manifest is verified before the pickle is read). A FreqAI
identifier folder holding exactly one model folder is accepted too. The ONNX models take the
features the ensemble was fitted on, in ``model.json``'s order: for a FreqAI model that is
after FreqAI's feature pipeline (``*_feature_pipeline.pkl``, not exported).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from .app import app, console, err_console

ENSEMBLE_JSON = "ensemble.json"
REPORT_JSON = "report.json"
FREQAI_MODEL = "*_model.joblib"
IDENTITY_JSON = "hyperphysics_model.json"
#: report.json keys (``train --save``) that make up the label configuration
LABEL_KEYS = ("pair", "timeframe", "horizon", "periods", "hyperphysics")


class ExportError(Exception):
    """A model folder that cannot be exported: one line, exit code 2."""


def _freqai_folder(directory: Path) -> Path | None:
    if any(directory.glob(FREQAI_MODEL)):
        return directory
    found = sorted(p.parent for p in directory.glob(f"*/{FREQAI_MODEL}"))
    if len(found) > 1:
        names = ", ".join(p.name for p in found[:5])
        raise ExportError(f"{directory} holds {len(found)} FreqAI models ({names}): name one")
    return found[0] if found else None


def load_model(directory: Path) -> tuple[Any, dict[str, Any] | None, str]:
    """``(ensemble, label configuration, kind)`` of a saved model folder (see module doc)."""
    if not directory.is_dir():
        raise ExportError(f"no model folder at {directory}")
    if (directory / ENSEMBLE_JSON).exists():
        from ..ensemble import ExpertEnsemble

        ensemble = ExpertEnsemble.load(directory)
        report = directory / REPORT_JSON
        meta = json.loads(report.read_text()) if report.exists() else {}
        labels = {k: meta[k] for k in LABEL_KEYS if k in meta} or None
        return ensemble, labels, "hyperphysics train --save"
    folder = _freqai_folder(directory)
    if folder is None:
        raise ExportError(
            f"{directory} is neither a `hyperphysics train --save` folder ({ENSEMBLE_JSON}) "
            f"nor a FreqAI model folder ({FREQAI_MODEL})"
        )
    import cloudpickle

    from ..freqai.model_store import verified_model_folder

    problem = verified_model_folder(folder)
    if problem is not None:
        raise ExportError(str(problem))
    with next(folder.glob(FREQAI_MODEL)).open("rb") as fh:
        ensemble = cloudpickle.load(fh)
    if not hasattr(ensemble, "stacker_"):
        raise ExportError(f"{folder}: not a HyperPhysics ensemble ({type(ensemble).__name__})")
    identity = folder / IDENTITY_JSON
    labels = json.loads(identity.read_text()).get("labels") if identity.exists() else None
    return ensemble, labels, f"FreqAI model {folder.name}"


def _rows(path: Path | None) -> Any:
    if path is None:
        return None
    import numpy as np
    import pandas as pd

    if path.suffix == ".npy":
        return np.load(path)
    return pd.read_csv(path)  # columns matched by name to the fitted features


@app.command("export", short_help="Export a saved ensemble to ONNX (needs the onnx extra).")
def export(
    model_dir: Path = typer.Argument(
        ..., help="A `hyperphysics train --save` folder or a FreqAI model folder."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write (replaced if an export)."),
    rows: Path | None = typer.Option(
        None,
        "--rows",
        help="Held-out feature rows for the parity check (.npy, or .csv with a header of "
        "feature names); default: synthetic rows around each expert's splits and inputs.",
    ),
) -> None:
    """Write one ONNX file per expert, the blend, model.json and a predict.py that needs
    only onnxruntime and numpy; every model is checked against the native one (largest
    probability difference <= 1e-5) and the result printed."""
    from ..ensemble.export import export_ensemble, require

    try:
        require("onnx")
        require("onnxruntime")
        ensemble, labels, kind = load_model(model_dir)
        report = export_ensemble(
            ensemble, out, _rows(rows), labels=labels, source=f"{kind}: {model_dir}"
        )
    except (ExportError, ImportError, ValueError, OSError) as exc:
        err_console.print(
            Text.assemble(("hyperphysics export: ", "bold red"), str(exc)), soft_wrap=True
        )
        raise typer.Exit(2) from exc
    for line in report.lines():
        console.print(line, soft_wrap=True, highlight=False)
    if not report.complete:
        missing = [e.name for e in report.experts if not e.ok]
        err_console.print(f"incomplete export: {', '.join(missing)} not exported (see above)")
        raise typer.Exit(1)
    console.print(f"exported {len(report.experts)} expert(s) and the blend to {out}")
