"""``python -m hyperphysics_strategy.freqai.compat``: each mirrored function's recorded and
installed fingerprint (what to update after reviewing a freqtrade upgrade)."""

from __future__ import annotations

from . import MIRRORED
from .fingerprint import fingerprint, installed_freqtrade

print(f"freqtrade {installed_freqtrade()}")
for record in MIRRORED:
    installed = fingerprint(record.resolve())
    state = "ok" if installed == record.sha256 else f"CHANGED (recorded {record.sha256})"
    print(f"{record.name}  {installed}  {state}")
