"""ONNX export of a fitted ensemble (the ``onnx`` extra).

:func:`export_ensemble` (also ``ExpertEnsemble.to_onnx``) writes one ONNX file per expert,
the blend, ``model.json`` and a standalone ``predict.py`` that needs only onnxruntime and
numpy; every model is checked against the native one at export time. One module per job:
``trees`` and ``networks`` (the converters), ``forest_onnx`` (the package's forest layout as
ONNX), ``blend`` (calibration and stacker), ``parity`` (check rows and the measure),
``writer`` (the folder), ``standalone`` (the loader), ``extra`` (the missing-extra error).
Importing this package imports none of the extra's packages.
"""

from .extra import available, require
from .parity import TOLERANCE
from .writer import ExpertExport, ExportReport, export_ensemble

__all__ = [
    "TOLERANCE",
    "ExpertExport",
    "ExportReport",
    "available",
    "export_ensemble",
    "require",
]
