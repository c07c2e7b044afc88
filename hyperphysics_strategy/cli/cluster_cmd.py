"""``hyperphysics cluster status``: the Ray cluster of the ``ray`` training backend, its
nodes, and where the jobs of the last training round ran."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from .app import app, config_option, console, err_console

cluster_app = typer.Typer(
    help="The Ray cluster that the ray training backend uses (docs/ray.md).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(cluster_app, name="cluster", short_help="The Ray cluster of the ray backend.")

_NO_ADDRESS = (
    "no Ray cluster address: pass --address HOST:PORT, set RAY_ADDRESS, or give a config "
    "(-c) with hyperphysics.cluster.address"
)


def _config_address(paths: list[Path] | None) -> str | None:
    if not paths:
        return None
    from freqtrade.configuration.load_config import load_from_files

    from ..freqai.parameters import cluster_address

    return cluster_address(load_from_files([str(p) for p in paths]))


def _reachable(address: str, seconds: float = 3.0) -> bool:
    """The head's port answers (Ray itself would retry for minutes before giving up)."""
    text = address.split("://", 1)[-1]
    host, _, port = text.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=seconds):
            return True
    except (OSError, ValueError):
        return False


def node_rows(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per node Ray knows (dead ones too), head first."""
    rows = []
    for n in nodes:
        res = n.get("Resources") or {}
        rows.append(
            {
                "node_id": n["NodeID"],
                "address": n.get("NodeManagerAddress", "?"),
                "state": "alive" if n.get("Alive") else "dead",
                "head": "node:__internal_head__" in res,
                "cpus": res.get("CPU", 0.0),
                "gpus": res.get("GPU", 0.0),
            }
        )
    return sorted(rows, key=lambda r: (not r["head"], r["state"] != "alive", r["address"]))


def _num(x: float) -> str:
    return f"{x:g}"


@cluster_app.command("status", short_help="Nodes, their CPUs and GPUs, the last round's jobs.")
def status(
    address: str | None = typer.Option(
        None,
        "--address",
        help="HOST:PORT of the Ray head. Default: the config's hyperphysics.cluster.address, "
        "else RAY_ADDRESS.",
    ),
    config: list[Path] | None = config_option("freqtrade config file(s) to read the address from."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    from ..ensemble.scheduling import ray_cluster

    target = address or _config_address(config) or os.environ.get("RAY_ADDRESS")
    try:
        ray = ray_cluster.import_ray()
    except ImportError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    if target and not _reachable(target):
        err_console.print(f"no Ray cluster answers at {target}. {_NO_ADDRESS}")
        raise typer.Exit(1)
    if not ray.is_initialized():
        if not target:
            err_console.print(_NO_ADDRESS)
            raise typer.Exit(1)
        ray_cluster.connect(target)
    nodes = node_rows(ray.nodes())
    last = ray_cluster.last_round()
    if as_json:
        print(json.dumps({"nodes": nodes, "last_round": last}, indent=2))
        return
    alive = [n for n in nodes if n["state"] == "alive"]
    t = Table(
        title=f"Ray cluster: {len(alive)} node(s) alive, "
        f"{_num(sum(n['cpus'] for n in alive))} CPUs, {_num(sum(n['gpus'] for n in alive))} GPUs"
    )
    for col in ("node", "address", "role", "state", "CPUs", "GPUs"):
        t.add_column(col, justify="right" if col in ("CPUs", "GPUs") else "left")
    for n in nodes:
        state = "[green]alive[/green]" if n["state"] == "alive" else "[red]dead[/red]"
        t.add_row(n["node_id"][:8], n["address"], "head" if n["head"] else "worker", state,
                  _num(n["cpus"]), _num(n["gpus"]))  # fmt: skip
    console.print(t)
    if not last:
        console.print("No training round has run on this cluster yet.")
        return
    ago = time.time() - last["finished"]
    r = Table(
        title=f"Last round: {len(last['jobs'])} job(s) on {last['rows']} rows, "
        f"finished {ago:.0f}s ago in {last['finished'] - last['started']:.1f}s"
    )
    for col in ("job", "expert", "node", "address", "GPU", "bundle", "tries", "seconds", "result"):
        r.add_column(col, justify="right" if col in ("job", "tries", "seconds") else "left")
    for j in last["jobs"]:
        gpu = j["cuda_visible_devices"] if j["cuda_visible_devices"] else "-"
        result = "ok" if j["error"] is None else f"[red]{j['error'][:60]}[/red]"
        r.add_row(str(j["job"]), j["expert"], (j["node_id"] or "?")[:8], j["node_ip"] or "?",
                  gpu, "-" if j["bundle"] is None else str(j["bundle"]), str(j["attempts"]),
                  f"{j['seconds']:.2f}", result)  # fmt: skip
    console.print(r)
