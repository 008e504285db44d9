"""Where and how tensors run: device choice, precision choice, autocast, seeding."""

from __future__ import annotations

import contextlib
import functools
import os
import random
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import BadInput, OptionError

_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
_VNNI_CPU_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
# Overrides the CPU's bf16 detection and measurement: 1 trains in bf16 under --precision auto (emulated, slow,
# where the CPU lacks it), 0 in fp32. For tests, benchmarks and users who know better.
CPU_BF16_VARIABLE = "LSTMTEXT_CPU_BF16"
# auto takes bf16 on a CPU only where the measured step is at least this much faster than fp32.
BF16_MIN_SPEEDUP = 1.2


def pick_device(preference: str = "auto") -> torch.device:
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise OptionError("device", "{name} cuda was asked for but PyTorch sees no CUDA GPU",
                          "use {example}, or install a CUDA build of torch (see docs/training.md, GPU)", example="cpu")
    if preference == "mps" and not torch.backends.mps.is_available():
        raise OptionError("device", "{name} mps was asked for but this machine has no Apple GPU", "use {example}",
                          example="cpu")
    return torch.device(preference)


def cpu_has_fast_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True where the CPU has bf16 matrix instructions; elsewhere bf16 is emulated and slower than fp32."""
    return _cpu_has_any(_BF16_CPU_FLAGS, cpuinfo)


def cpu_has_vnni(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True where the CPU sums int8 products in 32 bits (VNNI); elsewhere int8 kernels sum pairs in 16 bits, which
    8-bit activations can saturate."""
    return _cpu_has_any(_VNNI_CPU_FLAGS, cpuinfo)


def _cpu_has_any(wanted: tuple[str, ...], cpuinfo: Path) -> bool:
    try:
        flags = cpuinfo.read_text(errors="replace").split()
    except OSError:
        return False
    return any(flag in flags for flag in wanted)


def cpu_bf16_override() -> bool | None:
    """$LSTMTEXT_CPU_BF16 as True (1) or False (0); None where it is not set."""
    value = os.environ.get(CPU_BF16_VARIABLE, "").strip()
    if not value:
        return None
    if value not in ("0", "1"):
        raise BadInput(f"{CPU_BF16_VARIABLE}={value} is neither 0 nor 1",
                       f"set {CPU_BF16_VARIABLE}=1 (bf16) or 0 (fp32), or unset it")
    return value == "1"


@dataclass(frozen=True)
class PrecisionChoice:
    precision: str
    reason: str

    def __str__(self) -> str:
        return f"precision {self.precision}: {self.reason}"


def precisions_to_measure(preference: str, device: torch.device) -> tuple[str, ...]:
    """The precisions whose speed decides the choice: fp32 and bf16 where auto must measure (a CPU that claims
    bf16 instructions, no override), else none."""
    if preference == "auto" and device.type == "cpu" and cpu_bf16_override() is None and cpu_has_fast_bf16():
        return ("fp32", "bf16")
    return ()


def choose_precision(preference: str, device: torch.device, measured: dict[str, float] | None = None,
                     at: str = "") -> PrecisionChoice:
    """The precision to train in, and why. `measured` is the speed (any unit, higher is faster) of each of
    `precisions_to_measure` at the model size `at` names; without it, a CPU that claims bf16 gets it untested (as
    under torchrun, where every process must choose alike)."""
    if preference == "fp16" and device.type != "cuda":
        raise OptionError("precision", "{name} fp16 needs a CUDA GPU (there is no fp16 LSTM kernel on {device})",
                          "use {example} or bf16", device=device.type, example="fp32")
    if preference != "auto":
        return PrecisionChoice(preference, f"as asked (--precision {preference})")
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return PrecisionChoice("bf16", "this GPU has bf16")
        return PrecisionChoice("fp16", "this GPU has no bf16; fp16 with loss scaling")
    if device.type != "cpu":
        return PrecisionChoice("fp32", f"the safe choice on {device.type}")
    override = cpu_bf16_override()
    if override is not None:
        emulated = " (this CPU has no bf16 instructions: emulated, slow)" if override and not cpu_has_fast_bf16() \
            else ""
        return PrecisionChoice("bf16" if override else "fp32", f"{CPU_BF16_VARIABLE}={int(override)}{emulated}")
    if not cpu_has_fast_bf16():
        return PrecisionChoice("fp32", "this CPU has no bf16 instructions (bf16 would be emulated, and slower)")
    if not measured:
        return PrecisionChoice("bf16", "this CPU has bf16 instructions (not measured)")
    speedup = measured["bf16"] / measured["fp32"]
    where = f" at {at}" if at else ""
    if speedup >= BF16_MIN_SPEEDUP:
        return PrecisionChoice("bf16", f"bf16 measured {speedup:.2f}× as fast as fp32{where} on this CPU")
    return PrecisionChoice("fp32", f"bf16 measured only {speedup:.2f}× as fast as fp32{where} on this CPU "
                                   f"(auto wants {BF16_MIN_SPEEDUP:g}×)")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision not in ("bf16", "fp16"):
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    if device.type == "cpu" and not onednn_has_bf16_lstm():
        # oneDNN has no bf16 LSTM on CPUs without AVX-512; PyTorch's own kernels then run it (slowly, but right).
        stack = contextlib.ExitStack()
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")  # said on every switch
        stack.enter_context(torch.backends.mkldnn.flags(enabled=False))
        stack.enter_context(torch.autocast(device_type="cpu", dtype=dtype))
        return stack
    return torch.autocast(device_type=device.type, dtype=dtype)


@functools.cache
def onednn_has_bf16_lstm() -> bool:
    """Whether this CPU's oneDNN runs an LSTM in bf16 (a fact about the machine, so asked once)."""
    lstm = torch.nn.LSTM(8, 8)
    try:
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            lstm(torch.zeros(2, 1, 8))
    except RuntimeError:
        return False
    return True


def use_cpu_threads(threads: int) -> None:
    """PyTorch's CPU threads for this process (see machine.py for how many)."""
    torch.set_num_threads(max(1, threads))


def one_thread(chunks: Iterator[str]) -> Iterator[str]:
    """`chunks`, produced with one CPU thread: a batch-1 step is too small to share, and a second thread only
    waits for the first (on a busy machine, for a core that another program holds; with OpenMP's threads asked to
    sleep, two step a 2×384 model slower than one even when idle: 0.31 against 0.21 ms a token)."""
    with single_thread():
        yield from chunks


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """PyTorch's CPU threads set to one inside, and the process's own number restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)
