"""A training process killed with SIGKILL at random moments — checkpoints are written every step, so some kills
land in the middle of a write — always leaves a checkpoint that loads and resumes to a finished model."""

import os
import random
import signal
import subprocess
import sys
import time

import lstmtext
from lstmtext.training.checkpoint import load_checkpoint

TRAIN = ["--layers", "1", "--hidden", "32", "--seq-len", "16", "--batch-size", "4", "--max-steps", "400",
         "--checkpoint-every", "1"]


def start_training(corpus, out, *extra):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "lstmtext", "train", str(corpus), "--out", str(out), *TRAIN,
                             *extra], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_first_checkpoint(path, process, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, "training ended before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint within a minute"
        time.sleep(0.05)


def test_sigkill_at_random_moments_always_leaves_a_checkpoint_that_resumes(tiny_corpus, tmp_path):
    out = tmp_path / "killed.lstm"
    checkpoint = out.with_suffix(".ckpt")
    moments = random.Random(2026)
    steps_seen = []
    for attempt in range(3):
        process = start_training(tiny_corpus, out, *(["--resume"] if attempt else []))
        if attempt == 0:
            wait_for_first_checkpoint(checkpoint, process)
        time.sleep(moments.uniform(0.2, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        steps_seen.append(load_checkpoint(checkpoint).header["position"]["step"])  # whole after every kill
    assert steps_seen == sorted(steps_seen) and steps_seen[0] >= 1
    finished = subprocess.run([sys.executable, "-m", "lstmtext", "train", str(tiny_corpus), "--out", str(out),
                               *TRAIN, "--resume"], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert lstmtext.load(out).header.run.steps == 400 and not checkpoint.exists()
    assert not list(tmp_path.glob(".killed.ckpt.*.tmp"))  # what the kills left half-written was cleared
