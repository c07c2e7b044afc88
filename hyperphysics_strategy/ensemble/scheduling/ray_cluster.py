"""The Ray cluster the ``ray`` training backend runs on: joining it, reading its
resources, reserving GPU bundles, and keeping where the last call's jobs ran.

Ray is imported only here and in :mod:`.ray_tasks`, and only when that backend is used
(``pip install ".[ray]"`` in a clone). :func:`connect` joins the cluster at the
configured address (``hyperphysics.cluster.address`` in the freqtrade config), else at
``RAY_ADDRESS``, else starts a one-machine Ray bound to 127.0.0.1; an existing
``ray.init`` of this process is used as it is. :func:`last_round` reads, from the
cluster's key-value store, where each job of the last call ran (``hyperphysics cluster
status`` shows it).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)

#: the package's ``[ray]`` extra (the package itself is not on the package index)
INSTALL_HINT = 'pip install "ray>=2.40"'
#: Where the last call's placements are kept (Ray's internal key-value store).
KV_NAMESPACE = "hyperphysics"
KV_LAST_ROUND = b"last_round"
#: Seconds a placement group may take to be placed before the call fails.
BUNDLE_WAIT_SECONDS = 120
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def import_ray() -> Any:
    """``ray``, or an ImportError that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(
            f"the 'ray' training backend needs Ray, which is not installed: {INSTALL_HINT}"
        ) from exc
    return ray


def resolve_address(address: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The cluster to join: ``address`` (the config's ``hyperphysics.cluster.address``),
    else ``RAY_ADDRESS``, else ``None`` (start a Ray on this machine)."""
    env = os.environ if env is None else env
    for value in (address, env.get("RAY_ADDRESS")):
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def _host(address: str) -> str:
    text = address.split("://", 1)[-1]
    return text.rsplit(":", 1)[0].strip("[]") if ":" in text else text


def connect(address: str | None = None) -> None:
    """Join the Ray cluster (see :func:`resolve_address`) unless this process already did.

    A loopback address (a cluster on this machine) is dialled on 127.0.0.1: Ray otherwise
    rewrites 127.0.0.1 to the machine's network address, where a loopback cluster does
    not listen.
    """
    target = resolve_address(address)
    loopback = target is None or _host(target) in _LOOPBACK
    if loopback and "ray" not in sys.modules:
        # read by Ray at import: resolve "this node" to 127.0.0.1 (Ray's documented switch)
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = import_ray()
    if ray.is_initialized():
        return
    options: dict[str, Any] = {"log_to_driver": False}  # worker log lines are replayed
    if loopback:
        options["_node_ip_address"] = "127.0.0.1"
    if target is None:
        logger.info("ray backend: no cluster address; starting Ray on this machine (127.0.0.1)")
        ray.init(include_dashboard=False, **options)
    else:
        logger.info("ray backend: joining the Ray cluster at %s", target)
        ray.init(address=target, **options)


# -- resources ----------------------------------------------------------------------------
def alive_nodes(ray: Any) -> list[dict[str, Any]]:
    return [n for n in ray.nodes() if n.get("Alive")]


def bundle_cpus(threads: int, nodes: list[dict[str, Any]]) -> float:
    """CPUs one GPU bundle reserves: the job's threads, within every GPU node's CPUs per GPU."""
    ratios = [
        n["Resources"].get("CPU", 0.0) / n["Resources"]["GPU"]
        for n in nodes
        if n["Resources"].get("GPU", 0) >= 1
    ]
    cap = min(ratios) if ratios else 1.0
    return max(0.0, min(float(threads), cap))


def reserve_bundles(
    ray: Any, count: int, threads: int, nodes: list[dict[str, Any]]
) -> tuple[Any, dict[str, float], dict[int, str]]:
    """A placement group of ``count`` bundles ``{"GPU": 1, "CPU": c}`` spread over the
    cluster (``c``: :func:`bundle_cpus` of ``threads``), once it is placed: ``(group,
    bundle, node id of each bundle)``. A group not placed in time is a ``RuntimeError``."""
    from ray.util.placement_group import placement_group, remove_placement_group

    cpus = bundle_cpus(threads, nodes)
    bundle = {"GPU": 1.0, **({"CPU": cpus} if cpus > 0 else {})}
    pg = placement_group([dict(bundle) for _ in range(count)], strategy="SPREAD")
    ready, _ = ray.wait([pg.ready()], timeout=BUNDLE_WAIT_SECONDS)
    if not ready:
        remove_placement_group(pg)
        raise RuntimeError(f"ray backend: {count} bundles {bundle} could not be placed")
    return pg, bundle, _bundle_nodes(pg)


def _bundle_nodes(pg: Any) -> dict[int, str]:
    from ray.util.placement_group import placement_group_table

    table = placement_group_table(pg) or {}
    return {int(k): v for k, v in (table.get("bundles_to_node_id") or {}).items()}


def system_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """Ray's errors for a lost worker or node (the job may run again elsewhere)."""
    exc = ray.exceptions
    names = ("WorkerCrashedError", "NodeDiedError", "OwnerDiedError", "ObjectLostError",
             "TaskUnschedulableError", "RaySystemError")  # fmt: skip
    return tuple(getattr(exc, n) for n in names if hasattr(exc, n))


# -- where the last call's jobs ran -------------------------------------------------------
def store_round(ray: Any, started: float, rows: int, jobs: list[dict[str, Any]]) -> None:
    """Keep where the jobs ran in the cluster's key-value store (best effort)."""
    record = {"started": started, "finished": time.time(), "rows": rows, "jobs": jobs}
    try:
        from ray.experimental import internal_kv

        internal_kv._internal_kv_put(
            KV_LAST_ROUND, json.dumps(record).encode(), overwrite=True, namespace=KV_NAMESPACE
        )
    except Exception as exc:  # pragma: no cover - status display only
        logger.debug("ray backend: could not store the round's placements: %s", exc)


def last_round() -> dict[str, Any] | None:
    """Where the jobs of the last call (on this cluster) ran: ``{"started", "finished",
    "rows", "jobs": [{"expert", "node_ip", "cuda_visible_devices", "bundle", ...}]}``."""
    import_ray()
    from ray.experimental import internal_kv

    raw = internal_kv._internal_kv_get(KV_LAST_ROUND, namespace=KV_NAMESPACE)
    return json.loads(raw) if raw else None
