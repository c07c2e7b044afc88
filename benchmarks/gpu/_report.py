"""The report of ``gpu_check.py``: sections as they finish, written to JSON and Markdown
after each one, each section run, timed and recorded on its own, and the run's metadata."""

from __future__ import annotations

import json
import os
import platform
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch


class Report:
    """Sections as they finish, written to JSON and Markdown after each one."""

    def __init__(self, out: Path, meta: dict[str, Any]) -> None:
        self.out = out
        self.meta = meta
        self.sections: dict[str, dict[str, Any]] = {}
        out.mkdir(parents=True, exist_ok=True)

    def add(self, name: str, body: dict[str, Any]) -> None:
        self.sections[name] = body
        self.write()

    @property
    def ok(self) -> bool:
        return all(s["status"] in ("ok", "skipped") for s in self.sections.values())

    def write(self) -> None:
        data = {"meta": self.meta, "sections": self.sections, "ok": self.ok}
        (self.out / "gpu_check.json").write_text(json.dumps(data, indent=2, default=str))
        (self.out / "gpu_check.md").write_text(self.markdown())

    def markdown(self) -> str:
        m = self.meta
        lines = [
            "# GPU check",
            "",
            f"- device: {m['device_name']} ({m['accelerator']})",
            f"- driver: {m['driver']}, CUDA (torch build): {m['cuda']}",
            f"- torch {m['torch']}, numpy {m['numpy']}, Python {m['python']}",
            f"- CPU: {m['cpu']}, {m['cpu_threads']} torch threads",
            f"- command: `{m['command']}`",
            f"- started {m['started']}",
        ]
        for name, sec in self.sections.items():
            lines += ["", f"## {name}: {sec['status']} ({sec['seconds']:.1f} s)", ""]
            if sec.get("error"):
                lines += ["```", sec["error"].strip()[-1500:], "```", ""]
            for note in sec.get("notes", []):
                lines.append(f"- {note}")
            table = sec.get("table")
            if table:
                if sec.get("notes"):
                    lines.append("")
                lines.append("| " + " | ".join(table["header"]) + " |")
                lines.append("|" + "---|" * len(table["header"]))
                lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in table["rows"]]
        return "\n".join(lines) + "\n"


def run_section(
    report: Report, name: str, fn: Callable[[], dict[str, Any]], deadline: float
) -> None:
    if time.perf_counter() > deadline:
        report.add(name, {"status": "skipped", "seconds": 0.0, "notes": ["time budget spent"]})
        print(f"[gpu_check] {name}: skipped (time budget spent)", flush=True)
        return
    print(f"[gpu_check] {name} ...", flush=True)
    t0 = time.perf_counter()
    try:
        body = fn()
        failed = [c for c, ok in body.get("checks", {}).items() if not ok]
        body.setdefault("status", "failed" if failed else "ok")
        if failed:
            body.setdefault("notes", []).append("checks that failed: " + ", ".join(failed))
    except Exception:  # noqa: BLE001 - record the failure, go on with the next section
        body = {"status": "failed", "error": traceback.format_exc()}
    body["seconds"] = time.perf_counter() - t0
    report.add(name, body)
    print(f"[gpu_check] {name}: {body['status']} in {body['seconds']:.1f} s", flush=True)


def metadata(acc: torch.device, argv: list[str]) -> dict[str, Any]:
    driver = "-"
    name = "CPU"
    if acc.type == "cuda":
        name = torch.cuda.get_device_name(acc)
        try:
            import pynvml

            pynvml.nvmlInit()
            driver = pynvml.nvmlSystemGetDriverVersion()
            driver = driver.decode() if isinstance(driver, bytes) else str(driver)
        except Exception as exc:  # noqa: BLE001 - no NVML: say so
            driver = f"unknown ({type(exc).__name__})"
    return {
        "accelerator": str(acc),
        "device_name": name,
        "driver": driver,
        "cuda": torch.version.cuda or torch.version.hip or "-",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cpu": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores",
        "cpu_threads": torch.get_num_threads(),
        "command": "python benchmarks/gpu/gpu_check.py " + " ".join(argv),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
