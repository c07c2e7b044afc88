"""GPU proof: run, check and time every GPU path of the package on this machine.

    python benchmarks/gpu_check.py --out DIR [--cpu] [--tiny] [--budget-s S] [--only A,B]

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
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(ROOT))

from hyperphysics_strategy.engine.greeks import bsm_greeks  # noqa: E402
from hyperphysics_strategy.engine.hardware import (  # noqa: E402
    CPU,
    Device,
    DevicePlan,
    Placement,
    get_hardware_info,
    probe_capabilities,
)
from hyperphysics_strategy.engine.orderbook import HyperbolicOrderBook  # noqa: E402
from hyperphysics_strategy.engine.risk import GPURiskEngine  # noqa: E402
from hyperphysics_strategy.ensemble.experts import (  # noqa: E402
    EXPERT_REGISTRY,
    FitData,
    expert_libraries,
)
from hyperphysics_strategy.ensemble.training import train_experts  # noqa: E402

NEURAL = ("mlp", "nbeats", "tide", "tabnet", "kan", "transformer")
SECTIONS = ("detection", "throughput", "experts", "inference", "lanes", "boosting")
RELOAD_TOLERANCE = 1e-6  # max |p_reloaded - p| for a model reloaded on the CPU

SIZES = {
    # name: (full run, --tiny)
    "rows": (12_000, 600),
    "features": (32, 8),
    "epochs": (6, 2),
    "lane_epochs": (3, 1),
    "options": (10_000_000, 20_000),
    "paths": ((10_000, 1_000_000), (1_000, 10_000)),
    "series": (256, 4),
    "series_len": (1_000, 200),
    "rolling": (1_000_000, 20_000),
    "window": (288, 50),
    "books": (1_000_000, 2_000),
    "levels": (20, 20),
    "boost_rows": ((200_000, 1_000_000), (2_000,)),
    "copy_bytes": (2 << 30, 8 << 20),
    "inference_rows": (1_000, 1_000),
}


def size(name: str, tiny: bool) -> Any:
    return SIZES[name][1 if tiny else 0]


# ------------------------------------------------------------------------------ timing
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device, reps: int) -> tuple[float, Any]:
    """Best wall time of ``reps`` calls after one warm-up call, and the last result."""
    out = fn()
    sync(device)
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best, out


def fmt_s(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def rate(per_s: float) -> str:
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if per_s >= scale:
            return f"{per_s / scale:,.2f} {prefix}"
    return f"{per_s:,.1f}"


# ------------------------------------------------------------------------------ report
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


# ------------------------------------------------------------------------------ data
def synthetic_fit_data(rows: int, features: int, seed: int = 0) -> tuple[FitData, np.ndarray]:
    """Three classes with a learnable, partly non-linear signal; time-ordered split 80/20."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features)).astype(np.float32)
    W = rng.standard_normal((features, 3)).astype(np.float32) / math.sqrt(features)
    logits = X @ W + 0.5 * np.tanh(X[:, :3] * X[:, 3:6])
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1).astype(np.int64)
    cut = int(rows * 0.8)
    w = np.ones(rows)
    data = FitData(X[:cut], y[:cut], w[:cut], X[cut:], y[cut:], w[cut:], 3)
    return data, X


# ------------------------------------------------------------------------------ sections
def section_detection(acc: torch.device) -> dict[str, Any]:
    info = get_hardware_info(refresh=True)
    caps = probe_capabilities(info)
    names = list(EXPERT_REGISTRY)
    plan = DevicePlan.build(expert_libraries(names), names=names, info=info, capabilities=caps)
    rows, checks = [], {}
    for g in info.gpus:
        matched = None
        if g.torch_visible and torch.cuda.is_available() and g.ordinal < torch.cuda.device_count():
            props = torch.cuda.get_device_properties(g.ordinal)
            t_uuid = str(getattr(props, "uuid", "") or "").removeprefix("GPU-")
            n_uuid = (g.uuid or "").removeprefix("GPU-")
            matched = bool(t_uuid and n_uuid and t_uuid == n_uuid) and (
                g.total_memory is None or abs(g.total_memory - props.total_memory) < 1 << 30
            )
            checks[f"gpu {g.ordinal}: NVML and torch agree"] = matched
        rows.append(
            [
                g.ordinal,
                g.name,
                f"{(g.total_memory or 0) / 2**30:.1f} GiB",
                g.compute_capability or g.gfx_arch or "-",
                g.source,
                g.uuid or "-",
                {None: "-", True: "yes", False: "NO"}[matched],
            ]
        )
    if acc.type == "cuda":
        checks["torch sees the GPU the plan uses"] = any(
            p.device.type == "cuda" for p in plan if p.library == "torch"
        )
        checks["driver version read"] = bool(info.driver_version)
    notes = [
        f"backend {info.backend}, torch backend {info.torch_backend}, torch build "
        f"{info.torch_build}, CUDA {info.cuda_version}, driver {info.driver_version}, "
        f"GPU source {info.gpu_source}, usable cores {info.usable_cores}",
        *(f"{lib}: {c.reason} (devices: {[str(d) for d in c.devices]})" for lib, c in caps.items()),
        "plan: " + ", ".join(f"{p.task}->{p.device}" for p in plan),
        *info.notes,
    ]
    header = ["ordinal", "name", "memory", "arch", "source", "uuid", "NVML = torch"]
    return {
        "hardware": info.to_dict(),
        "capabilities": {
            k: {"reason": v.reason, "devices": [str(d) for d in v.devices]} for k, v in caps.items()
        },
        "plan": plan.to_dict(),
        "checks": checks,
        "notes": notes,
        "table": {"header": header, "rows": rows},
    }


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
        e_cpu, t_cpu = _train(name, data, torch.device("cpu"), epochs, threads)
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
            f"mixed precision on {acc}: {amp}; CPU: float32, {threads} threads",
            f"largest |p(reloaded on CPU) - p(in process)|: {worst:.2e} "
            f"(tolerance {RELOAD_TOLERANCE:g})",
        ],
        "table": {"header": header, "rows": rows},
    }


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


def copy_bandwidth(device: torch.device, nbytes: int) -> float:
    """Bytes per second of a device-to-device copy, counting bytes read and written."""
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device).fill_(1.0)
    dst = torch.empty_like(src)
    seconds, _ = timed(lambda: dst.copy_(src), device, reps=10)
    return 2 * nbytes / seconds


def section_throughput(acc: torch.device, tiny: bool, deadline: float) -> dict[str, Any]:
    cpu = torch.device("cpu")
    bw = {acc.type: copy_bandwidth(acc, size("copy_bytes", tiny))}
    if acc.type != "cpu":
        bw["cpu"] = copy_bandwidth(cpu, min(size("copy_bytes", tiny), 1 << 30))
    rows: list[list[Any]] = []
    checks: dict[str, bool] = {}
    notes = [
        "bandwidth limit (device-to-device copy, read + write): "
        + ", ".join(f"{k} {v / 1e9:.0f} GB/s" for k, v in bw.items()),
        "fraction = compulsory bytes (inputs once + outputs once) / time / copy bandwidth; "
        "inputs already on the device",
    ]
    devices = [acc] if acc.type == "cpu" else [acc, cpu]

    def row(task, device, n, seconds, nbytes, unit):
        frac = nbytes / seconds / bw[device.type]
        rows.append(
            [
                task,
                str(device),
                f"{n:,}",
                fmt_s(seconds),
                f"{rate(n / seconds)} {unit}/s",
                f"{nbytes / seconds / 1e9:,.1f} GB/s",
                f"{frac:.1%}",
            ]
        )

    # -- price + 5 Greeks -----------------------------------------------------------
    n = size("options", tiny)
    rng = np.random.default_rng(0)
    inputs = [
        rng.uniform(50, 150, n),
        rng.uniform(50, 150, n),
        rng.uniform(0.05, 2.0, n),
        rng.uniform(0.1, 0.6, n),
    ]

    def greeks(device: torch.device, m: int, dtype: torch.dtype, compile: bool) -> None:
        names = ("spot", "strike", "time_to_expiry", "volatility")
        args = {
            k: torch.as_tensor(a[:m], dtype=dtype, device=device)
            for k, a in zip(names, inputs, strict=True)
        }
        t0 = time.perf_counter()
        bsm_greeks(
            **args, rate=0.03, dividend_yield=0.01, validate=False, compile=compile
        )  # compiles if asked
        sync(device)
        first = time.perf_counter() - t0
        seconds, out = timed(
            lambda: bsm_greeks(
                **args, rate=0.03, dividend_yield=0.01, validate=False, compile=compile
            ),
            device,
            3,
        )
        checks[f"greeks {device} {dtype}{' compiled' if compile else ''}: finite"] = all(
            bool(torch.isfinite(v).all()) for v in out.values()
        )
        how = f", torch.compile (first call {first:.1f} s)" if compile else ""
        item = torch.finfo(dtype).bits // 8
        nbytes = m * item * (len(args) + len(out))
        row(
            f"price+{len(out) - 1} Greeks, {str(dtype)[6:]}{how}",
            device,
            m,
            seconds,
            nbytes,
            "options",
        )

    for device in devices:
        m = n if device == acc else min(n, 2_000_000)
        for dtype in (torch.float32, torch.float64):
            greeks(device, m, dtype, compile=False)
        if device.type == "cuda" and time.perf_counter() < deadline - 200:
            for dtype in (torch.float32, torch.float64):
                greeks(device, m, dtype, compile=True)

    # -- Monte Carlo VaR + ES -------------------------------------------------------
    B, L = size("series", tiny), size("series_len", tiny)
    for device in devices:
        r = torch.as_tensor(np.random.default_rng(1).standard_t(4, (B, L)) * 0.01, device=device)
        for paths in size("paths", tiny):
            for dist in ("normal", "bootstrap"):
                eng = GPURiskEngine(device=device, mc_simulations=paths, seed=0)
                t0 = time.perf_counter()
                eng.var_monte_carlo(r, (0.95, 0.99), dist)
                sync(device)
                cold = time.perf_counter() - t0
                seconds, (var, es) = timed(
                    lambda e=eng, d=dist, x=r: e.var_monte_carlo(x, (0.95, 0.99), d), device, 5
                )
                checks[f"mc {dist} {paths} {device}: finite, ES >= VaR"] = bool(
                    torch.isfinite(var).all() and (es >= var - 1e-12).all()
                )
                row(
                    f"MC VaR+ES {dist}, {paths:,} paths, {B} series x {L} returns "
                    f"(first call, drawing: {fmt_s(cold)})",
                    device,
                    B,
                    seconds,
                    r.numel() * 8 + 4 * B * 8,
                    "series",
                )
        del r

    # -- rolling VaR ------------------------------------------------------------------
    n, w = size("rolling", tiny), size("window", tiny)
    y = np.random.default_rng(2).standard_t(4, n) * 0.003
    for device in devices:
        eng = GPURiskEngine(device=device, seed=0)
        yt = torch.as_tensor(y, device=device)
        seconds, (var, es) = timed(lambda e=eng, t=yt: e.rolling_var(t, w, (0.95, 0.99)), device, 3)
        checks[f"rolling {device}: finite after warm-up"] = bool(torch.isfinite(var[w:]).all())
        row(f"rolling 95+99% VaR+ES, window {w}", device, n, seconds, n * 8 * 5, "returns")
        del yt, var, es

    # -- order book -------------------------------------------------------------------
    T, Lv = size("books", tiny), size("levels", tiny)
    bids, asks = synthetic_books(T, Lv)
    for device in devices:
        m = T if device == acc else min(T, 100_000)
        book = HyperbolicOrderBook(device=device, max_levels=Lv, dtype=torch.float32)
        # on a GPU the books start on it; the CPU path takes numpy arrays as they come
        b = torch.as_tensor(bids[:m], device=device) if device.type != "cpu" else bids[:m]
        a = torch.as_tensor(asks[:m], device=device) if device.type != "cpu" else asks[:m]
        seconds, frame = timed(lambda o=book, bb=b, aa=a: o.batch(bb, aa), device, 2)
        checks[f"order book {device}: every book valid"] = bool(frame["valid"].all())
        out_bytes = int(sum(frame[c].to_numpy().itemsize for c in frame.columns)) * m
        row(
            f"order-book features, {Lv} levels, float32 (to a DataFrame)",
            device,
            m,
            seconds,
            bids[:m].nbytes * 2 + out_bytes,
            "books",
        )
        del b, a, frame
    header = ["workload", "device", "size", "time", "throughput", "traffic", "of copy bandwidth"]
    return {
        "bandwidth_bytes_per_s": bw,
        "checks": checks,
        "notes": notes,
        "table": {"header": header, "rows": rows},
    }


def synthetic_books(T: int, L: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, L, 2) float32 bids and asks around a random-walk mid, sizes lognormal."""
    rng = np.random.default_rng(3)
    mid = 100.0 * np.exp(np.cumsum(rng.normal(0, 1e-4, T))).astype(np.float32)
    steps = np.cumsum(rng.uniform(0.5, 1.5, (T, L)).astype(np.float32), axis=1) * 0.01
    bids = np.stack([mid[:, None] - steps, rng.lognormal(0, 1, (T, L)).astype(np.float32)], -1)
    asks = np.stack([mid[:, None] + steps, rng.lognormal(0, 1, (T, L)).astype(np.float32)], -1)
    return bids.astype(np.float32), asks.astype(np.float32)


def section_inference(acc: torch.device, tiny: bool, state: dict[str, Any]) -> dict[str, Any]:
    experts = state.get("experts")
    if not experts:
        return {"status": "skipped", "notes": ["no trained experts (the experts section failed)"]}
    n = size("inference_rows", tiny)
    X = state["X"][:n]
    rows, checks = [], {}
    for name, expert in experts.items():
        t_cpu, p = timed(lambda e=expert: e.predict_proba(X), torch.device("cpu"), 10)
        module = expert.module
        Z = torch.from_numpy(expert._standardise(X))
        dev_module = module.to(acc)
        Zd = Z.to(acc)

        def on_device(mod=dev_module, z=Zd):
            with torch.inference_mode():
                return torch.softmax(mod(z), dim=1).cpu()

        t_acc, q = timed(on_device, acc, 10)
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


# ------------------------------------------------------------------------------ main
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
        "command": "python benchmarks/gpu_check.py " + " ".join(argv),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


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
