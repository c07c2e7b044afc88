"""``lanes`` and ``boosting`` sections of ``gpu_check.py``: every torch expert trained
over the plan's lanes (one GPU lane, then the GPU and the CPU), and LightGBM on the
device the plan gives it against the CPU."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import numpy as np
import torch
from _measure import NEURAL, size, synthetic_fit_data

from hyperphysics_strategy.engine.hardware import CPU, DevicePlan, Placement
from hyperphysics_strategy.ensemble.experts import EXPERT_REGISTRY
from hyperphysics_strategy.ensemble.scheduling import train_experts


def section_lanes(acc: torch.device, tiny: bool) -> dict[str, Any]:
    data, _ = synthetic_fit_data(size("rows", tiny), size("features", tiny), seed=1)
    epochs = size("lane_epochs", tiny)
    tasks = ["torch"] * len(NEURAL)
    if acc.type == "cuda":
        runs = [("one GPU lane", "cuda:0", None), ("two lanes: cuda:0 + cpu", "cuda:0,cpu", 2)]
    else:
        runs = [("one CPU lane", "cpu", 1), ("two CPU lanes", "cpu", 2)]
    rows, checks, notes = [], {}, []
    for label, devices, workers in runs:
        plan = DevicePlan.build(tasks, names=NEURAL, devices=devices, max_workers=workers)
        experts = [
            EXPERT_REGISTRY[n](params={"max_epochs": epochs, "patience": epochs + 1}, seed=3)
            for n in NEURAL
        ]
        placements = list(plan)
        t0 = time.perf_counter()
        outcomes = train_experts(experts, data, placements, max_workers=plan.workers)
        wall = time.perf_counter() - t0
        busy = sum(o.seconds for o in outcomes)
        gpus = {p.device for p in placements if p.device != CPU}
        on_cpu = sum(p.device == CPU for p in placements)
        lanes = len(gpus) + min(on_cpu, max(1, plan.workers - len(gpus)))
        checks[f"{label}: every expert trained"] = all(o.ok for o in outcomes)
        for o in outcomes:
            if not o.ok:
                notes.append(f"{label}: {o.expert.name} failed: {o.error}")
        placed = ", ".join(f"{o.expert.name}@{o.device}:{o.seconds:.1f}s" for o in outcomes)
        rows.append([label, lanes, f"{wall:.2f}", f"{busy:.2f}", f"{busy / wall:.2f}", placed])
    notes.insert(
        0,
        f"{data.X.shape[0]} rows, {epochs} epochs per expert; torch experts train in "
        "spawned worker processes (one per lane); wall includes their start-up",
    )
    header = ["run", "lanes", "wall s", "sum of expert s", "sum/wall", "expert@device:seconds"]
    return {"checks": checks, "notes": notes, "table": {"header": header, "rows": rows}}


def section_boosting(acc: torch.device, tiny: bool) -> dict[str, Any]:
    try:
        import lightgbm
    except ImportError:
        return {
            "status": "skipped",
            "notes": [
                "LightGBM is not installed here; XGBoost and CatBoost are not on the GPU image and "
                "their CUDA wheels are too large to carry"
            ],
        }
    from hyperphysics_strategy.engine.hardware import probe_library

    cap = probe_library("lightgbm")
    notes = [f"lightgbm {lightgbm.__version__}: {cap.reason}"]
    for lib in ("xgboost", "catboost"):
        try:
            __import__(lib)
        except ImportError:
            notes.append(f"{lib}: not installed here (its CUDA wheel is too large to carry)")
    rows = []
    plan = DevicePlan.build(["lightgbm"])
    cpu_threads = max(1, (os.cpu_count() or 2) - 1)
    runs = [("plan", plan[0]), ("cpu", Placement("lightgbm", CPU, cpu_threads))]
    checks = {}
    for n_rows in size("boost_rows", tiny):
        data, _ = synthetic_fit_data(n_rows, size("features", tiny), seed=2)
        for label, placement in runs:
            params = placement.params()
            expert = EXPERT_REGISTRY["lightgbm"](params={"n_estimators": 200}, seed=0)
            t0 = time.perf_counter()
            expert.fit(data, placement)
            seconds = time.perf_counter() - t0
            p = expert.predict_proba(data.X_val)
            checks[f"{label}, {n_rows} rows: finite predictions"] = bool(np.isfinite(p).all())
            hits = float(np.mean(p.argmax(1) == data.y_val))
            shown = {k: v for k, v in params.items() if "thread" not in k}
            rows.append(
                [
                    f"{label}: {placement.device}",
                    f"{n_rows:,} x {data.X.shape[1]}",
                    json.dumps(shown),
                    f"{seconds:.2f}",
                    expert.best_iteration,
                    f"{hits:.3f}",
                ]
            )
    header = ["run", "rows x features", "device params", "train s", "best iteration", "val acc"]
    return {"checks": checks, "notes": notes, "table": {"header": header, "rows": rows}}
