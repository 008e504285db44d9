"""`make quality`: what lstmtext reaches on text it has never seen, beside the classic word-level LSTM, in the
same run. Prints a table per corpus and writes bench/quality.json.

    python -m bench.quality [--corpus PATH ...] [--budgets 92,300] [--levels auto,char,bpe,word]
                            [--peer closed,training]

Each corpus (default: ../shared/data/tinyshakespeare.txt and pride-and-prejudice.txt beside the checkout) is
split as nanoGPT splits it: the first 90% of its characters to train on, the last 10% held out. For each budget,
each lstmtext run is the CLI a user would type, `lstmtext train TRAIN --max-time SECONDS` with `--level LEVEL`
("auto": no --level, the level `train` picks itself) and every other option left to its default, then
`lstmtext eval HELD_OUT --adapt --json`: bits per character of the held-out text, static and adapted (the model
learning from the held-out text as it reads it), and adapted scoring's speed as a share of static scoring's.
Right after them, on the same machine, the peer (bench/word_lm_baseline.py: pytorch/examples'
word_language_model defaults) trains for the same time, with its closed vocabulary (as the original: held-out
words known) and with a training-only one. With the defaults: six runs per corpus and budget, about 32 minutes per
corpus at 300 s and 11 at 92 s, 86 minutes in all on 2 cores; measure on a quiet machine. Nothing here is
asserted by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
DEFAULT_CORPUS = SHARED_DATA / "tinyshakespeare.txt"
DEFAULT_CORPORA = (SHARED_DATA / "tinyshakespeare.txt", SHARED_DATA / "pride-and-prejudice.txt")
DEFAULT_BUDGETS = "92,300"
DEFAULT_LEVELS = "auto,char,bpe,word"
DEFAULT_PEER = "closed,training"
# Issue 18: at 300 s the defaults should score 10% fewer bits/char on the held-out tail than the peer's
# closed-vocabulary run.
TARGET_SHARE_OF_PEER = 0.9


def split_text(text: str) -> tuple[str, str]:
    """nanoGPT's split: the first 90% of the characters to train on, the last 10% held out."""
    cut = int(len(text) * 0.9)
    return text[:cut], text[cut:]


def split_corpus(corpus: Path, folder: Path) -> tuple[Path, Path]:
    train_text, held_out_text = split_text(corpus.read_text(encoding="utf-8"))
    train, held_out = folder / f"{corpus.stem}-train.txt", folder / f"{corpus.stem}-heldout.txt"
    train.write_text(train_text, encoding="utf-8")
    held_out.write_text(held_out_text, encoding="utf-8")
    return train, held_out


def lstmtext(*arguments: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "lstmtext"), *arguments], capture_output=True,
                          text=True, env={**os.environ, "LSTMTEXT_HOME": str(home)}, check=True)


def one_run(level: str, seconds: int, train: Path, held_out: Path, home: Path) -> dict:
    name = f"{level}-{seconds}s"
    started = time.monotonic()
    chosen = [] if level == "auto" else ["--level", level]
    trained = lstmtext("train", str(train), *chosen, "--max-time", str(seconds), "--name", name, home=home)
    wall = time.monotonic() - started
    both = json.loads(lstmtext("eval", str(held_out), "--model", name, "--adapt", "--json", home=home).stdout)
    evaluation, adapted = both["static"], both["adapted"]
    header = json.loads(lstmtext("info", "--model", name, "--json", home=home).stdout)
    sizing = next((line.strip() for line in trained.stderr.splitlines() if "passes" in line), "")
    return {"who": f"lstmtext {level}", "level": header["tokenizer"]["level"], "max_time": seconds,
            "bits_per_char": evaluation["bits_per_char"], "nats_per_char": evaluation["nats_per_char"],
            "adapted_bits_per_char": adapted["bits_per_char"],
            "adapted_speed_share": adapted["tokens_per_second"] / max(evaluation["tokens_per_second"], 1),
            "validation_bits_per_char": header["metrics"].get("held_out_bits_per_char",
                                                              header["metrics"]["val_bits_per_char"]), "wall_seconds": round(wall, 1),
            "model": header["model"], "steps": header["run"]["steps"], "sizing": sizing}


def peer_run(vocabulary: str, seconds: int, train: Path, held_out: Path) -> dict:
    from bench.word_lm_baseline import run_peer

    result = run_peer(train.read_text(encoding="utf-8"), held_out.read_text(encoding="utf-8"), seconds,
                      vocabulary, log=lambda line: None)
    return {"who": f"peer, {vocabulary} vocabulary", "level": "word", "max_time": seconds, **result}


def results_table(corpus: str, runs: list[dict]) -> Table:
    table = Table(title=f"{corpus}: held-out last 10%, bits per character", title_justify="left")
    for column in ("budget", "who", "model", "steps", "static", "adapted", "vs peer (closed)", "train's validation"):
        table.add_column(column, justify="left" if column in ("who", "model") else "right")
    for run in runs:
        peer = next((other for other in runs if other["max_time"] == run["max_time"]
                     and other["who"] == "peer, closed vocabulary"), None)
        model = run.get("model")
        shape = (f"{model['layers']}×{model['hidden_size']} {run['level']}" if model
                 else f"2×200 word, {run['vocab_size']:,} words")
        versus = f"{run['bits_per_char'] / peer['bits_per_char']:.2f}×" if peer else "—"
        table.add_row(f"{run['max_time']} s", run["who"], shape, f"{run['steps']:,}", f"{run['bits_per_char']:.3f}",
                      f"{run['adapted_bits_per_char']:.3f}" if "adapted_bits_per_char" in run else "—", versus,
                      _validation(run))
    table.caption = (f"target at 300 s: lstmtext auto ≤ {TARGET_SHARE_OF_PEER:.2f}× the peer's closed-vocabulary "
                     "figure; the peer's training-only vocabulary scores unknown words as one <unk> token")
    return table


def _validation(run: dict) -> str:
    """What `train` reported, and how far from the held-out score (issue 18: within 3%)."""
    if "validation_bits_per_char" not in run:
        return "—"
    off = run["validation_bits_per_char"] / run["bits_per_char"] - 1
    return f"{run['validation_bits_per_char']:.3f} ({off:+.1%})"


def measure_corpus(corpus: Path, budgets: list[int], levels: list[str], peers: list[str], folder: Path,
                   console: Console) -> list[dict]:
    folder.mkdir(parents=True, exist_ok=True)
    train, held_out = split_corpus(corpus, folder)
    runs = []
    for seconds in budgets:
        for level in levels:
            console.print(f"{corpus.name}: lstmtext {level}, {seconds} s …")
            runs.append(one_run(level, seconds, train, held_out, folder / "home"))
            console.print(f"  {runs[-1]['sizing']}\n  held-out: {runs[-1]['bits_per_char']:.3f} bits/char")
        for vocabulary in peers:
            console.print(f"{corpus.name}: the peer, {vocabulary} vocabulary, {seconds} s …")
            runs.append(peer_run(vocabulary, seconds, train, held_out))
            console.print(f"  held-out: {runs[-1]['bits_per_char']:.3f} bits/char")
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, action="append", help="a text file (repeat for several)")
    parser.add_argument("--budgets", default=DEFAULT_BUDGETS, help="seconds of training, comma-separated")
    parser.add_argument("--levels", default=DEFAULT_LEVELS, help="auto (train's own choice) and levels")
    parser.add_argument("--peer", default=DEFAULT_PEER, help="the peer's vocabularies: closed, training (or none)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "quality.json")
    arguments = parser.parse_args()
    console = Console(stderr=True)
    corpora = arguments.corpus or [path for path in DEFAULT_CORPORA if path.is_file()]
    missing = [path for path in corpora if not path.is_file()]
    if not corpora or missing:
        console.print(f"error: no corpus at {missing[0] if missing else SHARED_DATA}; pass --corpus PATH")
        raise SystemExit(2)
    budgets = [int(seconds) for seconds in arguments.budgets.split(",")]
    levels = [level for level in arguments.levels.split(",") if level]
    peers = [vocabulary for vocabulary in arguments.peer.split(",") if vocabulary not in ("", "none")]
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for corpus in corpora:
            runs = measure_corpus(corpus, budgets, levels, peers, Path(folder) / corpus.stem, console)
            results[str(corpus)] = runs
            Console(width=132).print(results_table(corpus.name, runs))
    arguments.out.write_text(json.dumps(results, indent=2))
    console.print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
