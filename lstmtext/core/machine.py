"""What this machine can spare: memory for a training run, and CPU cores not already busy with other work.

On a 2-core laptop that is also compiling or browsing, PyTorch's default of one thread per core made training
and generation 10-40× slower: each parallel step waits for the thread whose core is taken. So the threads are
the cores that are free, measured from /proc/stat over a short window (Linux; elsewhere every core counts as
free), and OpenMP is asked to sleep rather than spin while it waits, which costs about 4% on an idle machine.
Imports neither torch nor numpy.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

_PROC_STAT = Path("/proc/stat")
_MEMINFO = Path("/proc/meminfo")
# /proc/stat counts in clock ticks, almost always 100 a second.
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_SHORTEST_WINDOW = 0.1  # seconds: ten ticks of each core


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def prefer_sleeping_threads() -> None:
    """Ask OpenMP (PyTorch's CPU threads) to sleep instead of spin while waiting, unless the user chose: a
    spinning thread whose partner's core is taken by another program wastes its own. Takes effect only before
    torch is imported."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@dataclass(frozen=True)
class LoadSample:
    """A reading of the machine's busy time and of this process's own CPU time, to be compared with a later one."""

    taken: float
    busy_ticks: int | None  # every core's non-idle time so far; None where /proc/stat cannot be read
    own_seconds: float

    @classmethod
    def now(cls) -> LoadSample:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return cls(time.monotonic(), _busy_ticks(), usage.ru_utime + usage.ru_stime)

    def free_cores(self) -> int:
        """Cores that other programs left free since this sample (at least one; every core where unknown). Waits
        until the window is long enough to read."""
        time.sleep(max(0.0, _SHORTEST_WINDOW - (time.monotonic() - self.taken)))
        later = LoadSample.now()
        if self.busy_ticks is None or later.busy_ticks is None:
            return cores()
        elapsed = later.taken - self.taken
        others = (later.busy_ticks - self.busy_ticks) / _TICKS_PER_SECOND - (later.own_seconds - self.own_seconds)
        return max(1, cores() - round(max(0.0, others) / elapsed))


def _busy_ticks() -> int | None:
    try:
        first = _PROC_STAT.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not first or first[0] != "cpu":
        return None
    ticks = [int(value) for value in first[1:9]]  # user nice system idle iowait irq softirq steal
    return sum(ticks) - ticks[3] - ticks[4]


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux's MemAvailable), or None where unknown."""
    try:
        for line in _MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def use_free_cores() -> None:
    """Import torch with PyTorch's CPU threads set to the cores other programs leave free, measured while torch
    is imported (unless $OMP_NUM_THREADS says how many). For an interface, before it loads its first model."""
    prefer_sleeping_threads()
    sample = LoadSample.now()
    from .device import use_cpu_threads  # imports torch

    if "OMP_NUM_THREADS" not in os.environ:
        use_cpu_threads(sample.free_cores())


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_KEPT_BYTES = 1 << 30


def keep_freed_memory() -> None:
    """Ask glibc's malloc to keep freed blocks up to 1 GB for reuse instead of handing them back to the system.
    PyTorch allocates a training step's tensors afresh each step, and glibc maps each one over 32 MB anew, its pages
    faulting in one by one. Measured on 2 cores of an Intel Xeon with AMX, in turns in one process: a 2×512 bf16
    step at batch 64 × 64, 28,960 page faults and 194 ms by default, 7,028 and 177 ms with this; at 3×384, batch
    32, no tensor is that large and nothing changes. The process's memory then stays at its peak. Elsewhere than
    glibc, nothing."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _KEPT_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, _KEPT_BYTES)
    except (OSError, AttributeError):
        pass
