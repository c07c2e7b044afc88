"""GPU proof: run, check and time every GPU path of the package on this machine.

    python benchmarks/gpu/gpu_check.py --out DIR [--cpu] [--tiny] [--budget-s S] [--only A,B]

Sections, in the order they run (each one is timed and recorded on its own; a failure is
written down and the next section still runs; a section not started within ``--budget-s``
is skipped):

  detection   hardware detection and the device plan; NVML's GPUs matched to torch's
  throughput  price + Greeks of 10 M options (fp32, fp64; eager and torch.compile); MC
              VaR + ES with 10 k and 1 M paths; rolling VaR over 1 M returns; order-book
              features of 1 M snapshots x 20 levels. Each against the card's bandwidth,
              measured by a device-to-device copy in the same run, counting compulsory
              traffic only (inputs read once, outputs written once)
  experts     the six torch experts trained on the accelerator (AMP) and on the CPU with
              the same data and epochs; finite predictions; saved, reloaded in a process
              that sees no GPU, and predicting the same
  inference   the neural experts' inference for 1,000 rows: the package's CPU path and
              the same module on the accelerator
  lanes       ``train_experts``: every torch expert in the GPU's one lane, then the plan
              forced to two lanes (the GPU and the CPU)
  boosting    LightGBM, when importable: the capability probe and a GPU against a CPU run

``--cpu`` runs the accelerator column on the CPU and ``--tiny`` shrinks every size: the
test suite runs both so that this script cannot rot. It needs only torch, numpy, scipy and
pandas (the image of the lent GPU machines); LightGBM and pynvml are used when present.
Writes ``DIR/gpu_check.json`` and ``DIR/gpu_check.md`` after every section; exits 1 when
a section failed or a check did not hold.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: common helpers
sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sections, also under runpy

SECTIONS = ("detection", "throughput", "experts", "inference", "lanes", "boosting")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", required=True, type=Path, help="folder for gpu_check.json and .md")
    ap.add_argument("--cpu", action="store_true", help="use the CPU as the accelerator (tests)")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes: seconds, not minutes")
    ap.add_argument(
        "--budget-s",
        type=float,
        default=330.0,
        help="skip the sections not started after this many seconds (default 330)",
    )
    ap.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default: all of {', '.join(SECTIONS)})",
    )
    args = ap.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        ap.error(f"unknown section(s) {unknown}; known: {', '.join(SECTIONS)}")
    if args.cpu:
        acc = torch.device("cpu")
    elif torch.cuda.is_available():
        acc = torch.device("cuda", 0)
    else:
        ap.error("torch sees no CUDA or ROCm GPU here: pass --cpu to run the CPU-only check")
    # the sections import the package: after the arguments are checked
    from _detection import section_detection
    from _experts import section_experts, section_inference
    from _report import Report, metadata, run_section
    from _throughput import section_throughput
    from _training import section_boosting, section_lanes

    deadline = time.perf_counter() + args.budget_s
    report = Report(args.out, metadata(acc, argv))
    state: dict[str, Any] = {}
    plan = {
        "detection": lambda: section_detection(acc),
        "experts": lambda: section_experts(acc, args.tiny, state),
        "lanes": lambda: section_lanes(acc, args.tiny),
        "boosting": lambda: section_boosting(acc, args.tiny),
        "throughput": lambda: section_throughput(acc, args.tiny, deadline),
        "inference": lambda: section_inference(acc, args.tiny, state),
    }
    for name in SECTIONS:
        if name in only:
            run_section(report, name, plan[name], deadline)
    print((args.out / "gpu_check.md").read_text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
