"""``hyperphysics hardware`` and ``hyperphysics doctor``: what this machine offers, and
whether the installation can use it."""

from __future__ import annotations

import importlib
import json
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from ..stubs.diagnose import DISTRIBUTIONS
from .app import app, config_option, console

if TYPE_CHECKING:  # the engine imports torch: only inside the commands (fast --help)
    from ..engine.hardware import DevicePlan, HardwareInfo, LibraryCapability

#: Import names of the libraries the package needs, and of the optional GPU probes.
REQUIRED_MODULES = (
    "freqtrade", "torch", "lightgbm", "xgboost", "catboost", "polars", "pandas", "numpy",
    "talib", "ccxt",
)  # fmt: skip
OPTIONAL_MODULES = ("pynvml", "amdsmi")
#: (import name, distribution name for pip, required)
DEPENDENCIES: tuple[tuple[str, str, bool], ...] = tuple(
    (module, DISTRIBUTIONS.get(module, module), required)
    for modules, required in ((REQUIRED_MODULES, True), (OPTIONAL_MODULES, False))
    for module in modules
)


@dataclass(frozen=True)
class DependencyStatus:
    module: str
    distribution: str
    required: bool
    ok: bool
    version: str | None
    error: str | None = None


def check_dependency(module: str, distribution: str, required: bool) -> DependencyStatus:
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # ImportError, or a broken native library
        return DependencyStatus(module, distribution, required, False, None, str(exc)[:200])
    version = getattr(mod, "__version__", None)
    if version is None:
        try:
            version = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            version = None
    return DependencyStatus(module, distribution, required, True, str(version or "?"))


def find_problems(
    info: HardwareInfo,
    caps: dict[str, LibraryCapability],
    deps: list[DependencyStatus],
) -> list[tuple[str, str]]:
    """(problem, how to fix it) pairs, one per problem found."""
    problems: list[tuple[str, str]] = []
    for d in deps:
        if d.ok:
            continue
        if d.required:
            problems.append(
                (f"{d.module} does not import: {d.error}", f"pip install '{d.distribution}'")
            )
        elif d.module == "pynvml" and info.backend == "cuda":
            problems.append(
                (
                    "pynvml is missing: GPU names, UUIDs and free memory come from "
                    "nvidia-smi or torch only",
                    "pip install nvidia-ml-py",
                )
            )
    if info.backend in ("cuda", "rocm") and info.torch_backend == "cpu":
        index = "cu126" if info.backend == "cuda" else "rocm6.4"
        problems.append(
            (
                f"{info.backend} GPUs found but torch {info.torch_version} cannot use them",
                "reinstall torch for the GPU: pip install torch==2.13.0 --index-url "
                f"https://download.pytorch.org/whl/{index} (pick the index matching your driver)",
            )
        )
    if info.backend == "cpu" and info.torch_build != "cpu":
        problems.append(
            (
                f"torch is a {info.torch_build} build but no GPU is usable",
                "check the driver (nvidia-smi / rocm-smi) and the *_VISIBLE_DEVICES variables; "
                "see docs/hardware.md",
            )
        )
    if info.backend == "cuda":
        if info.gpu_source == "torch":
            problems.append(
                (
                    "NVML and nvidia-smi are unavailable",
                    "install the NVIDIA driver utilities and pip install nvidia-ml-py",
                )
            )
        xgb = caps.get("xgboost")
        if xgb and xgb.installed and not xgb.gpu:
            problems.append(
                (f"xgboost cannot use the GPUs: {xgb.reason}", "pip install -U xgboost")
            )
        cb = caps.get("catboost")
        if cb and cb.installed and not cb.gpu:
            problems.append(
                (
                    f"catboost cannot use the GPUs: {cb.reason}",
                    "check the driver; pip install -U catboost",
                )
            )
        lgbm = caps.get("lightgbm")
        if lgbm and lgbm.installed and not lgbm.gpu:
            problems.append(
                (
                    "lightgbm cannot use the GPUs (its experts run on CPU)",
                    "build it with CUDA: pip install lightgbm --no-binary lightgbm "
                    "--config-settings=cmake.define.USE_CUDA=ON",
                )
            )
    if info.hidden_gpus:
        problems.append(
            (
                f"{info.hidden_gpus} GPU(s) hidden from this process",
                "intended? check CUDA_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES / ROCR_VISIBLE_DEVICES",
            )
        )
    if info.cpu.allowed_cores < info.cpu.logical_cores:
        problems.append(
            (
                f"only {info.cpu.allowed_cores} of {info.cpu.logical_cores} cores are allowed "
                "(CPU affinity or container quota)",
                "intended? raise the container CPU limit (docker --cpus) or the taskset mask",
            )
        )
    return problems


def _system_table(info: HardwareInfo) -> Table:
    from ..engine.hardware.summary import gib

    c = info.cpu
    t = Table(title="System", show_header=False)
    t.add_column("what", style="bold")
    t.add_column("value")
    t.add_row("OS", info.os)
    t.add_row("Python", info.python)
    t.add_row("CPU", c.model)
    quota = "none" if c.cgroup_quota is None else f"{c.cgroup_quota:g} CPUs"
    t.add_row(
        "Cores",
        f"{c.logical_cores} logical, {c.affinity_cores} in affinity, cgroup quota {quota}, "
        f"{c.allowed_cores} allowed, {c.usable_cores} usable",
    )
    t.add_row("RAM", f"{gib(c.ram_available)} available of {gib(c.ram_total)}")
    t.add_row("GPU backend", info.backend)
    t.add_row(
        "torch",
        f"{info.torch_version} ({info.torch_build} build), uses: {info.torch_backend}"
        + (f", CUDA {info.cuda_version}" if info.cuda_version else "")
        + (f", HIP {info.hip_version}" if info.hip_version else ""),
    )
    if info.driver_version:
        t.add_row("Driver", info.driver_version)
    t.add_row("GPU facts from", info.gpu_source)
    return t


def _gpu_table(info: HardwareInfo) -> Table:
    from ..engine.hardware.summary import gib

    t = Table(title=f"GPUs ({info.gpu_count} usable, {info.hidden_gpus} hidden)")
    for col in ("#", "name", "arch", "free", "total", "UUID / PCI", "torch", "source"):
        t.add_column(col)
    for g in info.gpus:
        t.add_row(
            str(g.ordinal),
            g.name,
            g.arch or "?",
            gib(g.free_memory),
            gib(g.total_memory),
            g.uuid or g.pci_bus_id or "?",
            "yes" if g.torch_visible else "no",
            g.source,
        )
    return t


def _caps_table(caps: dict[str, LibraryCapability]) -> Table:
    t = Table(title="Libraries")
    for col in ("library", "version", "GPU devices", "why"):
        t.add_column(col)
    for cap in caps.values():
        devices = ", ".join(str(d) for d in cap.devices) or "cpu only"
        t.add_row(cap.library, cap.version or "missing", devices, cap.reason)
    return t


def _plan_table(plan: DevicePlan) -> Table:
    t = Table(
        title=f"Plan: {len(plan)} experts, {plan.workers} worker(s) x "
        f"{plan.threads_per_worker} thread(s) (usable cores {plan.usable_cores})"
    )
    for col in ("#", "expert", "library", "device", "params", "why"):
        t.add_column(col)
    for p in plan:
        params = ", ".join(f"{k}={v}" for k, v in p.params().items())
        t.add_row(str(p.index), p.task, p.library, str(p.device), params, p.reason)
    return t


@app.command("hardware", short_help="CPUs, memory, GPUs, libraries and the device plan.")
def hardware(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    refresh: bool = typer.Option(False, "--refresh", help="Probe again (ignore the cache)."),
) -> None:
    """Show CPUs, memory, GPUs, what each library can use, and the device plan."""
    from ..engine.hardware import (
        DevicePlan,
        get_hardware_info,
        hardware_report,
        probe_capabilities,
    )

    info = get_hardware_info(refresh=refresh)
    caps = probe_capabilities(info)
    from ..ensemble.experts import EXPERT_REGISTRY, expert_libraries

    names = list(EXPERT_REGISTRY)  # the plan for all twelve experts
    plan = DevicePlan.build(expert_libraries(names), names=names, info=info, capabilities=caps)
    if as_json:
        typer.echo(json.dumps(hardware_report(info, plan, caps), indent=2))
        return
    console.print(_system_table(info))
    if info.gpus:
        console.print(_gpu_table(info))
    console.print(_caps_table(caps))
    console.print(_plan_table(plan))
    for note in (*info.notes, *plan.notes):
        console.print(f"[yellow]note:[/yellow] {note}")


@app.command("doctor", short_help="Check the installation (and a user dir): problems and fixes.")
def doctor(
    bench_seconds: float = typer.Option(
        2.0, min=0.0, help="Seconds of matmul benchmark per device (0: skip)."
    ),
    bench_size: int = typer.Option(1024, min=16, help="Matrix size."),
    userdir: Path | None = typer.Option(
        None,
        help="Check this freqtrade user dir instead of the hardware: every strategy and "
        "FreqAI model file loads as freqtrade loads it, and the config is valid (FreqAI's "
        "model_training_parameters: library keys at the top level, as FreqAI writes them, or "
        "in each expert's own section; each checked against its library).",
    ),
    config: list[Path] | None = config_option(
        "Config file(s) to check with --userdir, merged like freqtrade's -c (default: "
        "USERDIR/config_hyperphysics.json)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Check the installation: imports, GPU backends per library, speed, problems.

    With --userdir: check that user dir's stubs and config instead of the hardware; one
    line per problem with its fix; exit code 1 when there is any.
    """
    if userdir is not None:
        return _doctor_userdir(userdir, config, as_json)
    if config:
        raise typer.BadParameter("needs --userdir", param_hint="--config")
    from ..engine.hardware import get_hardware_info, matmul_gflops, probe_capabilities

    deps = [check_dependency(*d) for d in DEPENDENCIES]
    if as_json:
        info = get_hardware_info()
        caps = probe_capabilities(info)
        problems = find_problems(info, caps, deps)
        report = {
            "dependencies": [asdict(d) for d in deps],
            "problems": [{"problem": p, "fix": f} for p, f in problems],
        }
        typer.echo(json.dumps(report, indent=2))
        if any(d.required and not d.ok for d in deps):
            raise typer.Exit(code=1)
        return
    console.print(_dependency_table(deps))

    info = get_hardware_info()
    caps = probe_capabilities(info)
    console.print(_system_table(info))
    if info.gpus:
        console.print(_gpu_table(info))
    console.print(_caps_table(caps))

    if bench_seconds > 0:
        bench = Table(title=f"Matrix product {bench_size}x{bench_size} float32")
        bench.add_column("device")
        bench.add_column("GFLOP/s", justify="right")
        targets = ["cpu"] + [f"cuda:{g.ordinal}" for g in info.torch_gpus if g.vendor != "apple"]
        if info.torch_backend == "mps":
            targets.append("mps")
        for dev in targets:
            try:
                value = f"{matmul_gflops(dev, size=bench_size, seconds=bench_seconds):,.1f}"
            except Exception as exc:  # report, do not crash the check
                value = f"[red]failed: {exc}[/red]"
            bench.add_row(dev, value)
        console.print(bench)

    problems = find_problems(info, caps, deps)
    if not problems:
        console.print("[green]No problems found.[/green]")
    for problem, fix in problems:
        console.print(f"[red]problem:[/red] {problem} [bold]fix:[/bold] {fix}")
    if any(d.required and not d.ok for d in deps):
        raise typer.Exit(code=1)


def _dependency_table(deps: list[DependencyStatus]) -> Table:
    t = Table(title="Dependencies")
    for col in ("module", "version", "status"):
        t.add_column(col)
    for d in deps:
        if d.ok:
            status = "[green]ok[/green]"
        elif d.required:
            status = "[red]missing (required)[/red]"
        else:
            status = "[yellow]missing (optional)[/yellow]"
        t.add_row(d.module, d.version or "-", status)
    return t


def _doctor_userdir(userdir: Path, config: list[Path] | None, as_json: bool) -> None:
    from .userdir_check import Problem, check_user_dir

    deps = [check_dependency(*d) for d in DEPENDENCIES]
    report = check_user_dir(userdir, config)
    problems: list[Problem] = [
        Problem(f"dependency {d.module}", f"does not import: {d.error}",
                f"pip install '{d.distribution}'")
        for d in deps if d.required and not d.ok
    ] + report["problems"]  # fmt: skip
    if as_json:
        report = {**report, "problems": [p.to_dict() for p in problems], "ok": not problems}
        typer.echo(json.dumps(report, indent=2))
    else:
        checked = f"{len(report['loaded'])} class(es) load"
        if report["config"]:
            checked += f"; config {' + '.join(report['config'])}"
        console.print(f"hyperphysics doctor {userdir}: {checked}", highlight=False)
        for p in problems:
            console.print(
                f"[red]problem:[/red] {p.where}: {p.problem} [bold]fix:[/bold] {p.fix}",
                highlight=False,
                soft_wrap=True,
            )
        for note in report.get("notes", []):
            console.print(f"[yellow]note:[/yellow] {note}", highlight=False, soft_wrap=True)
        if not problems:
            console.print("[green]No problems found.[/green]")
    if problems:
        raise typer.Exit(code=1)
