"""Visibility variables (CUDA_VISIBLE_DEVICES, HIP/ROCR_VISIBLE_DEVICES) and id matching.

NVML, amdsmi and the ``*-smi`` tools list every GPU of the machine in PCI order and ignore
these variables; the CUDA and HIP runtimes (hence torch, XGBoost, CatBoost) apply them.
These helpers turn a physical listing into the list the runtime numbers 0, 1, 2, ...
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")

_PCI = re.compile(
    r"^(?:(?P<dom>[0-9a-f]+):)?(?P<bus>[0-9a-f]{1,2}):(?P<dev>[0-9a-f]{1,2})(?:\.(?P<fn>[0-7]))?$"
)


def normalize_uuid(value: object) -> str | None:
    """``"GPU-5A1b-..."`` / ``"5a1b..."`` -> ``"5a1b..."`` (lower case, no prefix, no dashes)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode(errors="ignore")
    text = str(value).strip().lower()
    for prefix in ("gpu-", "mig-"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = text.replace("-", "")
    if text.startswith("0x"):
        text = text[2:]
    return text or None


def normalize_pci(value: object) -> str | None:
    """Any PCI bus id spelling (``"00000000:3B:00.0"``, ``"3b:00.0"``) -> ``"0000:3b:00.0"``."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode(errors="ignore")
    m = _PCI.match(str(value).strip().lower())
    if m is None:
        return None
    dom = int(m["dom"] or "0", 16)
    return f"{dom:04x}:{int(m['bus'], 16):02x}:{int(m['dev'], 16):02x}.{int(m['fn'] or '0')}"


def apply_visible(
    devices: Sequence[T], spec: str | None, uuid_of: Callable[[T], str | None]
) -> list[T]:
    """The devices a runtime exposes under a visibility ``spec``, in runtime order.

    ``None`` (variable unset) keeps every device. Entries are indices into ``devices`` or
    UUIDs (a unique prefix suffices, ``GPU-`` optional). As in the CUDA runtime, parsing
    stops at the first entry that is invalid, unknown or repeated; an empty value hides
    every device.
    """
    if spec is None:
        return list(devices)
    out: list[T] = []
    used: set[int] = set()
    for raw in spec.split(","):
        token = raw.strip()
        if not token:
            break
        pos: int | None = None
        if re.fullmatch(r"-?\d+", token):
            pos = int(token)
            if not 0 <= pos < len(devices):
                break
        else:
            want = normalize_uuid(token)
            if not want or token.lower().startswith("mig-"):
                break  # MIG instances cannot be mapped to a whole GPU here
            hits = [
                i
                for i, d in enumerate(devices)
                if (u := normalize_uuid(uuid_of(d))) is not None and u.startswith(want)
            ]
            if len(hits) != 1:
                break
            pos = hits[0]
        if pos in used:
            break
        used.add(pos)
        out.append(devices[pos])
    return out


def rocm_visible_chain(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """The ROCm visibility filters in the order the runtime applies them.

    ROCR_VISIBLE_DEVICES filters at the ROCr level first; HIP_VISIBLE_DEVICES then selects
    among what ROCr exposes. HIP reads CUDA_VISIBLE_DEVICES when HIP_VISIBLE_DEVICES is unset.
    """
    chain: list[tuple[str, str]] = []
    if (rocr := env.get("ROCR_VISIBLE_DEVICES")) is not None:
        chain.append(("ROCR_VISIBLE_DEVICES", rocr))
    if (hip := env.get("HIP_VISIBLE_DEVICES")) is not None:
        chain.append(("HIP_VISIBLE_DEVICES", hip))
    elif (cuda := env.get("CUDA_VISIBLE_DEVICES")) is not None:
        chain.append(("CUDA_VISIBLE_DEVICES", cuda))
    return chain


def apply_rocm_visible(
    devices: Sequence[T], env: Mapping[str, str], uuid_of: Callable[[T], str | None]
) -> list[T]:
    out = list(devices)
    for _name, spec in rocm_visible_chain(env):
        out = apply_visible(out, spec, uuid_of)
    return out
