"""Fingerprints of the freqtrade functions this package mirrors or patches.

Each module of :mod:`hyperphysics_strategy.freqai.compat` mirrors or patches one upstream
function and records it as an :class:`Upstream`: where the function lives, the freqtrade
version the module was written against, and the sha256 of the function's normalised
source (:func:`fingerprint`: its syntax tree without docstring, so comments, blank lines
and formatting do not count, but any change to what it does does).
:func:`fingerprint_mismatches` compares the recorded fingerprints with the installed
freqtrade; :func:`check_upstream` refuses to start on a mismatch.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import inspect
import logging
import os
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

#: The freqtrade releases this package was written against (also pyproject's range).
SUPPORTED_FREQTRADE = ">=2026.9,<2026.10"
#: Set to 1 to start anyway when a fingerprint does not match (at the user's own risk).
OVERRIDE_ENV = "HYPERPHYSICS_ALLOW_UNSUPPORTED_FREQTRADE"


class UnsupportedFreqtrade(RuntimeError):
    """The installed freqtrade changed a function this package mirrors or patches."""


@dataclass(frozen=True)
class Upstream:
    """One freqtrade function a compat module mirrors or patches."""

    module: str  # "freqtrade.freqai.freqai_interface"
    qualname: str  # "IFreqaiModel.start_backtesting"
    version: str  # the freqtrade version the compat module matches
    sha256: str  # fingerprint() of the function in that version

    @property
    def name(self) -> str:
        return f"{self.module}.{self.qualname}"

    def resolve(self) -> object:
        """The installed function (AttributeError / ImportError when it is gone)."""
        obj: object = importlib.import_module(self.module)
        for part in self.qualname.split("."):
            obj = getattr(obj, part)
        return obj


def _canonical(node: object) -> str:
    """The syntax tree as text, empty fields left out: the same text on every Python
    this package supports (newer Pythons add fields such as ``type_params``, empty here)."""
    if isinstance(node, ast.AST):
        fields = (
            f"{name}={_canonical(value)}"
            for name in node._fields
            if (value := getattr(node, name, None)) is not None and value != []
        )
        return f"{type(node).__name__}({', '.join(fields)})"
    if isinstance(node, list):
        return "[" + ", ".join(_canonical(item) for item in node) + "]"
    return repr(node)


@functools.lru_cache(maxsize=64)  # by the function object: a replaced function is read anew
def fingerprint(function: object) -> str:
    """sha256 of ``function``'s source as a syntax tree, docstrings left out: comments,
    blank lines and formatting do not change it, a change to what the code does does."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))  # type: ignore[arg-type]
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = node.body[0] if node.body else None
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return hashlib.sha256(_canonical(tree).encode()).hexdigest()


def installed_freqtrade() -> str:
    import freqtrade

    return str(freqtrade.__version__)


def fingerprint_mismatches(records: Iterable[Upstream]) -> list[str]:
    """One line per recorded function the installed freqtrade lacks or has changed."""
    out = []
    for record in records:
        try:
            found = fingerprint(record.resolve())
        except (ImportError, AttributeError, OSError, TypeError) as exc:
            out.append(f"{record.name} (written against freqtrade {record.version}) is gone: {exc}")
            continue
        if found != record.sha256:
            out.append(f"{record.name} differs from freqtrade {record.version}'s")
    return out


def check_upstream(records: Iterable[Upstream], what: str) -> None:
    """Refuse to start ``what`` (``UnsupportedFreqtrade``) when a recorded function
    differs in the installed freqtrade; with ``OVERRIDE_ENV=1``, log a warning instead."""
    mismatches = fingerprint_mismatches(records)
    if not mismatches:
        return
    message = (
        f"{what} refuses to start: the installed freqtrade {installed_freqtrade()} is not one "
        f"this package supports (freqtrade{SUPPORTED_FREQTRADE}); it mirrors or patches "
        f"these FreqAI functions, which changed: {'; '.join(mismatches)}. Install a supported "
        f"freqtrade (pip install 'freqtrade{SUPPORTED_FREQTRADE}') or a hyperphysics-strategy "
        f"release written for freqtrade {installed_freqtrade()}; or set {OVERRIDE_ENV}=1 to "
        "start anyway, at your own risk (training, saving and live retraining may misbehave)."
    )
    if os.environ.get(OVERRIDE_ENV) == "1":
        logger.warning("%s (%s=1: starting anyway)", message, OVERRIDE_ENV)
        return
    raise UnsupportedFreqtrade(message)
