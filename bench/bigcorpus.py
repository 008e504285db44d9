"""Peak memory of `lstmtext train` as the corpus grows: a small and a big generated corpus (default 1 GB),
each trained for a few steps in a child process whose peak RSS is read from the kernel.

    python -m bench.bigcorpus [--megabytes 1000]

The text is the project's own data/ lines, shuffled block by block; the point is the size, not the prose.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_BLOCK_BYTES = 1 << 20
RSS_TARGET_MB = 1500


def generate_corpus(path: Path, megabytes: int, seed: int = 0) -> None:
    lines = [line for name in ("corpus.txt", "sayings.txt")
             for line in (ROOT / "data" / name).read_text(encoding="utf-8").splitlines(keepends=True) if line.strip()]
    rng = random.Random(seed)
    blocks = []
    for _ in range(8):
        rng.shuffle(lines)
        text = "".join(lines)
        blocks.append((text * (_BLOCK_BYTES // len(text.encode()) + 1)).encode()[:_BLOCK_BYTES].rsplit(b"\n", 1)[0]
                      + b"\n")
    with path.open("wb") as out:
        for index in range(megabytes):
            out.write(blocks[index % len(blocks)])


def peak_rss_of_training(corpus: Path, folder: Path) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of `lstmtext train CORPUS --max-steps 30` in a child process."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen([sys.executable, "-m", "lstmtext", "train", str(corpus), "--max-steps", "30",
                                  "--out", str(folder / f"{corpus.stem}.lstm")],
                                 env={"LSTMTEXT_HOME": str(folder / "home"), "PATH": "/usr/bin:/bin"},
                                 stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own resource usage, peak RSS included
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"training on {corpus} failed: {errors.read().decode()[-2000:]}")
    return usage.ru_maxrss / 1024, time.monotonic() - started


def measure(megabytes: int) -> dict:
    """Peak RSS and time for a 10 MB and a `megabytes` MB corpus."""
    results = {}
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        for size in (10, megabytes):
            corpus = folder / f"generated-{size}mb.txt"
            generate_corpus(corpus, size)
            peak_mb, seconds = peak_rss_of_training(corpus, folder)
            results[f"{size}_mb"] = {"peak_rss_mb": round(peak_mb, 1), "seconds": round(seconds, 1)}
            corpus.unlink()
    return {"corpus_sizes": results, "target_peak_rss_mb": RSS_TARGET_MB}


def measure_in_fresh_process(megabytes: int) -> dict:
    """`measure` run by a new, small Python process. Linux carries a process's peak RSS over into the children
    it forks, so measuring from a process that has grown (the bench, after its speed runs) would report its own
    size instead of the training's."""
    done = subprocess.run([sys.executable, "-m", "bench.bigcorpus", "--megabytes", str(megabytes)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=1000)
    print(json.dumps(measure(parser.parse_args().megabytes)))


if __name__ == "__main__":
    main()
