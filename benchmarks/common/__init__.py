"""Helpers shared by the benchmarks, studies and the GPU check (benchmarks/README.md).

A script in ``benchmarks/<folder>/`` puts ``benchmarks/`` on ``sys.path`` and imports from
here (``from common.table import print_table``). Importing this package has no side effect;
``common.checkout`` is the one that puts the checkout's root on ``sys.path``.
"""

from __future__ import annotations

from pathlib import Path

#: The checkout that holds ``benchmarks/``.
ROOT = Path(__file__).resolve().parents[2]
#: The shared real candles (``../shared/data`` next to the checkout, as the tests read them).
CANDLES = ROOT.parent / "shared" / "data" / "candles" / "binance"
