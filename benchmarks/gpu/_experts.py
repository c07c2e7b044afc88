"""``experts`` and ``inference`` sections of ``gpu_check.py``: the six torch experts
trained on the accelerator and on the CPU, saved and reloaded in a process that sees no
GPU; then their inference on the CPU path and on the accelerator."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _measure import NEURAL, fmt_s, size, synthetic_fit_data, timed
from common import ROOT

from hyperphysics_strategy.engine.hardware import Device, Placement
from hyperphysics_strategy.ensemble.experts import EXPERT_REGISTRY, FitData

RELOAD_TOLERANCE = 1e-6  # max |p_reloaded - p| for a model reloaded on the CPU


def _train(name: str, data: FitData, device: torch.device, epochs: int, threads: int):
    params = {"max_epochs": epochs, "patience": epochs + 1}
    expert = EXPERT_REGISTRY[name](params=params, seed=7)
    placement = Placement("torch", Device(device.type, device.index), threads)
    t0 = time.perf_counter()
    expert.fit(data, placement)
    return expert, time.perf_counter() - t0


RELOAD_SCRIPT = """
import sys, numpy as np, torch
sys.path.insert(0, sys.argv[1])
from hyperphysics_strategy.ensemble.experts import EXPERT_REGISTRY
X = np.load(sys.argv[3])
assert not torch.cuda.is_available(), "the reload must run without a GPU"
for name in sys.argv[4].split(","):
    expert = EXPERT_REGISTRY[name].load(sys.argv[2] + "/" + name)
    np.save(sys.argv[2] + "/" + name + ".npy", expert.predict_proba(X))
"""


def section_experts(acc: torch.device, tiny: bool, state: dict[str, Any]) -> dict[str, Any]:
    data, X = synthetic_fit_data(size("rows", tiny), size("features", tiny))
    epochs = size("epochs", tiny)
    threads = max(1, (os.cpu_count() or 2) - 1)
    rows, checks, trained = [], {}, {}
    X_val = data.X_val
    warm, _ = synthetic_fit_data(64, data.X.shape[1], seed=9)
    for device in {acc, torch.device("cpu")}:  # CUDA context, kernels, lazy imports: untimed
        _train("mlp", warm, device, 1, threads)
    for name in NEURAL:
        e_acc, t_acc = _train(name, data, acc, epochs, threads)
        # with --cpu the accelerator is the CPU: the same fit (same seed and threads) again
        # would repeat it exactly, so one fills both columns
        e_cpu, t_cpu = (
            (e_acc, t_acc)
            if acc.type == "cpu"
            else _train(name, data, torch.device("cpu"), epochs, threads)
        )
        print(f"[gpu_check]   {name}: {acc.type} {t_acc:.2f} s, cpu {t_cpu:.2f} s", flush=True)
        p_acc, p_cpu = e_acc.predict_proba(X_val), e_cpu.predict_proba(X_val)
        checks[f"{name}: finite predictions"] = bool(
            np.isfinite(p_acc).all() and np.isfinite(p_cpu).all()
        )
        acc_hits = float(np.mean(p_acc.argmax(1) == data.y_val))
        cpu_hits = float(np.mean(p_cpu.argmax(1) == data.y_val))
        trained[name] = e_acc
        rows.append(
            [
                name,
                epochs,
                f"{t_acc:.2f}",
                f"{t_cpu:.2f}",
                f"{t_acc / t_cpu:.2f}",
                f"{e_acc.best_val_loss:.4f}",
                f"{e_cpu.best_val_loss:.4f}",
                f"{acc_hits:.3f}",
                f"{cpu_hits:.3f}",
            ]
        )
    state["experts"] = trained
    state["X"] = X
    # saved, then reloaded in a process that sees no GPU: the same predictions
    with tempfile.TemporaryDirectory() as tmp:
        for name, expert in trained.items():
            expert.save(Path(tmp) / name)
        np.save(Path(tmp) / "X.npy", X_val)
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HIP_VISIBLE_DEVICES": ""}
        done = subprocess.run(
            [sys.executable, "-c", RELOAD_SCRIPT, str(ROOT), tmp, f"{tmp}/X.npy", ",".join(NEURAL)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"reload on the CPU failed:\n{done.stderr[-2000:]}")
        worst = 0.0
        for name, expert in trained.items():
            diff = float(
                np.max(np.abs(np.load(Path(tmp) / f"{name}.npy") - expert.predict_proba(X_val)))
            )
            worst = max(worst, diff)
            checks[f"{name}: reloaded on the CPU, same predictions"] = diff <= RELOAD_TOLERANCE
    amp = "none (CPU)"
    if acc.type == "cuda":
        amp = "bf16 autocast" if torch.cuda.is_bf16_supported() else "fp16 autocast + GradScaler"
    header = [
        "expert",
        "epochs",
        f"{acc.type} s",
        "cpu s",
        f"{acc.type}/cpu",
        f"val loss {acc.type}",
        "val loss cpu",
        f"val acc {acc.type}",
        "val acc cpu",
    ]
    return {
        "checks": checks,
        "notes": [
            f"{data.X.shape[0]} training rows, {data.X_val.shape[0]} validation rows, "
            f"{data.X.shape[1]} features, 3 classes, {epochs} epochs (no early stop), seed 7",
            f"mixed precision on {acc}: {amp}; CPU: float32, {threads} threads"
            + ("; the accelerator is the CPU: one fit per expert" if acc.type == "cpu" else ""),
            f"largest |p(reloaded on CPU) - p(in process)|: {worst:.2e} "
            f"(tolerance {RELOAD_TOLERANCE:g})",
        ],
        "table": {"header": header, "rows": rows},
    }


def section_inference(acc: torch.device, tiny: bool, state: dict[str, Any]) -> dict[str, Any]:
    experts = state.get("experts")
    if not experts:
        return {"status": "skipped", "notes": ["no trained experts (the experts section failed)"]}
    n, reps = size("inference_rows", tiny), size("inference_reps", tiny)
    X = state["X"][:n]
    rows, checks = [], {}
    for name, expert in experts.items():
        t_cpu, p = timed(lambda e=expert: e.predict_proba(X), torch.device("cpu"), reps)
        module = expert.module
        Z = torch.from_numpy(expert._standardise(X))
        dev_module = module.to(acc)
        Zd = Z.to(acc)

        def on_device(mod=dev_module, z=Zd):
            with torch.inference_mode():
                return torch.softmax(mod(z), dim=1).cpu()

        t_acc, q = timed(on_device, acc, reps)
        expert.module = module.to("cpu")
        diff = float(np.max(np.abs(q.double().numpy() - p)))
        checks[f"{name}: same probabilities on {acc.type}"] = diff < 1e-3
        rows.append([name, n, fmt_s(t_cpu), fmt_s(t_acc), f"{t_cpu / t_acc:.1f}x", f"{diff:.1e}"])
    header = [
        "expert",
        "rows",
        "cpu (package path)",
        f"{acc.type} (module moved)",
        "speed-up",
        "max |diff|",
    ]
    notes = [
        f"{acc.type}: the module moved to the device, the standardised input already there, "
        "the probabilities copied back to the host; cpu: Expert.predict_proba as shipped"
    ]
    return {"checks": checks, "notes": notes, "table": {"header": header, "rows": rows}}
