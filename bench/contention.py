"""Speed beside other work: training and generation on a quiet machine, then with a busy process spinning on
every core (started here, bounded in time, and stopped here), each measured in a fresh process set up the way
the CLI sets itself up (`lstmtext.cli.common.load_api`: threads for the cores left free, sleeping OpenMP
threads). For comparison, the same under PyTorch's defaults (a thread per core, spinning), which is what the
CLI did before.

    python -m bench.contention MODEL_PATH
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SHARE = 1 / 3  # busy figure / quiet figure, at least
_SPIN = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"
_BUSY_SECONDS = 120  # a spinner's own limit, should this process die before stopping it


@contextlib.contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """`count` processes spinning on the CPU while the block runs."""
    spinners = [subprocess.Popen([sys.executable, "-c", _SPIN.format(seconds=_BUSY_SECONDS)])
                for _ in range(count)]
    try:
        time.sleep(0.5)  # let them take their cores
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def measure_in_fresh_process(what: str, model: str, setup: str) -> float:
    done = subprocess.run([sys.executable, "-m", "bench.contention", "--measure", what, "--setup", setup, model],
                          capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")})
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return float(done.stdout.strip().splitlines()[-1])


def measure(model: str) -> dict:
    """Training tokens/s and generation ms/token, quiet and beside busy cores, with lstmtext's set-up and with
    PyTorch's defaults."""
    cores = os.cpu_count() or 1
    figures: dict = {"busy_processes": cores, "target_share": round(TARGET_SHARE, 3)}
    for what in ("train", "generate"):
        quiet = measure_in_fresh_process(what, model, "lstmtext")
        with busy_cores(cores):
            busy = measure_in_fresh_process(what, model, "lstmtext")
            busy_defaults = measure_in_fresh_process(what, model, "defaults")
        speed = (lambda figure: figure) if what == "train" else (lambda figure: 1 / figure)  # higher is faster
        figures[what] = {"unit": "tokens/s" if what == "train" else "ms/token", "quiet": round(quiet, 3),
                         "busy": round(busy, 3), "busy_with_pytorch_defaults": round(busy_defaults, 3),
                         "share_of_quiet": round(speed(busy) / speed(quiet), 3),
                         "share_of_quiet_with_pytorch_defaults": round(speed(busy_defaults) / speed(quiet), 3)}
    return figures


def _measure_here(what: str, model: str, setup: str) -> float:
    if setup == "lstmtext":
        from lstmtext.cli.common import load_api

        api = load_api()
    else:
        from lstmtext import api
    if what == "train":
        from bench.speed import training_throughput

        return training_throughput(256, "fp32", steps=4)["tokens_per_s"]
    language_model = api.load(model)
    tokens = 1500
    list(language_model.generate("", length=50, seed=0))  # warm-up
    started = time.perf_counter()
    for _ in language_model.generate("", length=tokens, seed=1):
        pass
    return (time.perf_counter() - started) * 1000 / tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a model file to generate with")
    parser.add_argument("--measure", choices=("train", "generate"), help=argparse.SUPPRESS)
    parser.add_argument("--setup", choices=("lstmtext", "defaults"), default="lstmtext", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(_measure_here(args.measure, args.model, args.setup))
    else:
        print(json.dumps(measure(args.model), indent=2))


if __name__ == "__main__":
    main()
