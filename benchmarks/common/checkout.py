"""Benchmarks run from a checkout (``python benchmarks/perf/NAME.py``) without installing the
package: importing this module puts the checkout's root on ``sys.path`` when it is not
there yet, so the package imports from the checkout. Import it before the package."""

from __future__ import annotations

import sys

from common import ROOT

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
