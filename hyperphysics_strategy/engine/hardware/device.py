"""``Device``: where one task runs, and the ``HYPERPHYSICS_DEVICES`` grammar."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

logger = logging.getLogger(__name__)

ENV_DEVICES = "HYPERPHYSICS_DEVICES"

# Accepted spellings of a GPU in HYPERPHYSICS_DEVICES. ROCm builds of torch name AMD GPUs
# "cuda" as well, so every GPU is stored as type "cuda".
_GPU_WORDS = ("cuda", "gpu", "rocm", "hip")


@dataclass(frozen=True, order=True)
class Device:
    """A compute device: ``cuda`` (NVIDIA or AMD GPU, torch numbering), ``mps`` or ``cpu``."""

    type: str
    index: int | None = None

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    @property
    def is_gpu(self) -> bool:
        return self.type in ("cuda", "mps")

    def torch(self) -> torch.device:
        if self.index is None:
            return torch.device(self.type)
        return torch.device(self.type, self.index)


CPU = Device("cpu")
MPS = Device("mps")


def parse_device_list(text: str, gpu_count: int) -> list[Device]:
    """Parse ``"cuda:0,cuda:2"`` / ``"cpu"`` / ``"mps"`` / ``"gpu"`` (all GPUs) / ``"0,1"``.

    Entries naming a GPU this machine does not have, and unknown words, are dropped with a
    warning; duplicates are kept once, in first-seen order.
    """
    out: list[Device] = []
    for raw in text.split(","):
        token = raw.strip().lower()
        if not token:
            continue
        if token == "cpu":
            found = [CPU]
        elif token == "mps":
            found = [MPS]
        elif token in _GPU_WORDS:
            found = [Device("cuda", i) for i in range(gpu_count)]
            if not found:
                logger.warning("%s: %r ignored, no usable GPU here", ENV_DEVICES, raw.strip())
        else:
            word, _, num = token.partition(":") if ":" in token else ("cuda", ":", token)
            if word not in _GPU_WORDS or not num.isdigit():
                logger.warning("%s: %r is not a device, ignored", ENV_DEVICES, raw.strip())
                continue
            index = int(num)
            found = [Device("cuda", index)] if index < gpu_count else []
            if not found:
                logger.warning(
                    "%s: %r ignored, this machine has %d usable GPU(s)",
                    ENV_DEVICES,
                    raw.strip(),
                    gpu_count,
                )
        for dev in found:
            if dev not in out:
                out.append(dev)
    return out
