"""Why a stub's ``from <module> import <Class>`` failed, said as a fix the user can run.

freqtrade only logs a WARNING when a file it scans raises, and then reports the class as
missing; the stubs call :func:`import_problem` so that the log line names the real cause:
the package missing from the interpreter that runs freqtrade, a dependency missing, an
installed package too old to have the class, or a broken native library.

Only the standard library is imported here: this module must work when a dependency of
the package does not.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata

PACKAGE = "hyperphysics_strategy"
DISTRIBUTION = "hyperphysics-strategy"
#: how to install it (it is not on the package index): from a clone, or its built wheel
INSTALL = "pip install . in a clone of hyperphysics-strategy, or pip install its wheel"

#: import name -> distribution name, where ``pip install <import name>`` would be wrong.
DISTRIBUTIONS: dict[str, str] = {
    "talib": "TA-Lib",
    "sklearn": "scikit-learn",
    "pynvml": "nvidia-ml-py",
    "yaml": "PyYAML",
}


def _installed_version() -> str | None:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def import_problem(exc: BaseException, module: str, name: str) -> str:
    """One sentence: what failed when importing ``name`` from ``module``, and the fix."""
    python = sys.executable
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.split(".")[0]
        if top == PACKAGE:
            if exc.name == PACKAGE:
                return (
                    f"the package {DISTRIBUTION} is not installed in the Python that runs "
                    f"freqtrade ({python}): {INSTALL} with that Python"
                )
            return (
                f"the installed {DISTRIBUTION} ({_installed_version() or 'unknown version'}) "
                f"has no module {exc.name}: reinstall a newer one ({INSTALL}), then "
                "rerun `hyperphysics init <userdir>`"
            )
        dist = DISTRIBUTIONS.get(top, top)
        return (
            f"{module} needs the module {top!r}, which is not installed in {python}: "
            f"pip install {dist}"
        )
    missing = re.match(r"cannot import name '([^']+)'", str(exc))
    if isinstance(exc, ImportError) and exc.name == module and missing:
        return (
            f"{module} has no class {missing.group(1)} in the installed {DISTRIBUTION} "
            f"({_installed_version() or 'unknown version'}): the stub is newer or older "
            f"than the package; rerun `hyperphysics init <userdir> --force` or upgrade "
            f"({INSTALL})"
        )
    origin = ""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        origin = f" (raised in {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno})"
    return (
        f"importing {name} from {module} failed with {type(exc).__name__}: {exc}{origin}; "
        "`hyperphysics doctor` checks the dependencies"
    )
