"""Where and how tensors run: device choice, precision choice, autocast, seeding."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import numpy as np
import torch

from .errors import BadInput

_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def pick_device(preference: str = "auto") -> torch.device:
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise BadInput("--device cuda was asked for but PyTorch sees no CUDA GPU",
                       "use --device cpu, or install a CUDA build of torch (see README, GPU)")
    if preference == "mps" and not torch.backends.mps.is_available():
        raise BadInput("--device mps was asked for but this machine has no Apple GPU", "use --device cpu")
    return torch.device(preference)


def cpu_has_fast_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True where the CPU has bf16 matrix instructions; elsewhere bf16 is emulated and slower than fp32."""
    try:
        flags = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    return any(flag in flags.split() for flag in _BF16_CPU_FLAGS)


def pick_precision(preference: str, device: torch.device) -> str:
    if preference == "fp16" and device.type != "cuda":
        raise BadInput(f"--precision fp16 needs a CUDA GPU (there is no fp16 LSTM kernel on {device.type})",
                       "use --precision fp32 or bf16")
    if preference != "auto":
        return preference
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu":
        return "bf16" if cpu_has_fast_bf16() else "fp32"
    return "fp32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision not in ("bf16", "fp16"):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)
