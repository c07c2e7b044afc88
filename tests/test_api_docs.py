"""docs/api.md: the package's front door, and every example on that page runs."""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.data_paths import ROOT

API_DOC = ROOT / "docs" / "api.md"


def test_import_loads_neither_torch_nor_freqtrade():
    code = (
        "import sys, hyperphysics_strategy as hp\n"
        "print(sorted(m for m in ('torch', 'freqtrade', 'pandas') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_name_resolves_and_is_listed():
    import hyperphysics_strategy as hp

    assert sorted(hp.__all__) == sorted(["__version__", *hp._EXPORTS])
    for name in hp._EXPORTS:
        obj = getattr(hp, name)
        assert getattr(obj, "__name__", name) == name
        assert name in dir(hp)
    assert hp.HyperbolicOrderBook.__module__.startswith("hyperphysics_strategy.engine")


def test_unknown_name_raises_attribute_error():
    import pytest

    import hyperphysics_strategy as hp

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        hp.Nope  # noqa: B018


def test_original_design_keywords_work_or_say_what_to_use():
    import pytest

    from hyperphysics_strategy import HyperbolicOrderBook, HyperPhysicsFinancialEngine

    book = HyperbolicOrderBook(device="cpu")
    bids, asks = [[99.0, 1.0], [98.0, 2.0]], [[101.0, 1.0], [102.0, 3.0]]
    assert book.update(bids, asks, apply_hyperbolic=True) == book.update(bids, asks)
    with pytest.raises(ValueError, match="read the keys you need"):
        book.update(bids, asks, apply_hyperbolic=False)
    import torch

    if torch.cuda.device_count() == 0:
        with pytest.raises(ValueError, match="device='auto'"):
            HyperPhysicsFinancialEngine(device="cuda:0")


def run_alone(block: str, cwd: Path) -> subprocess.CompletedProcess:
    """One docs block pasted alone into a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-c", block], capture_output=True, text=True, timeout=600, cwd=cwd
    )


def test_each_api_doc_example_runs_alone_in_a_fresh_interpreter(tmp_path):
    """Each block in its own new process (two at a time): a block that needs a name or data
    from an earlier block fails with NameError here, as it does pasted alone."""
    blocks = re.findall(r"```python\n(.*?)```", API_DOC.read_text(), flags=re.S)
    assert len(blocks) >= 7
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(run_alone, blocks, [tmp_path] * len(blocks)))
    for number, (block, out) in enumerate(zip(blocks, done, strict=True), start=1):
        assert out.returncode == 0, f"block {number}:\n{block}\n{out.stderr[-3000:]}"
    text = "".join(out.stdout for out in done)
    assert "torch loaded: False" in done[0].stdout
    assert "30 feature columns" in text
    assert "signal counts:" in text
    assert "['sell', 'neutral', 'buy']" in text
    assert "reloaded, same probabilities: True" in text
