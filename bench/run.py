"""`make bench`: how fast lstmtext answers on this machine. Prints a table and writes bench/results.json.

    python -m bench.run [--model NAME|PATH] [--out bench/results.json]

Measures, for the built-in model (`--builtin-only`: only these): keystroke to ghost text (in the REPL, and in
the writing page in Chromium: bench/page.py), `complete -n 5` and `lstmtext complete` from a cold start (a new
process). Then, for the demo model (the one `make demo` trains; a
stand-in of the same shape is trained for a minute when there is none):
- keystroke to ghost text in the REPL: keys sent one at a time through prompt_toolkit's pipe input to the real
  prompt session, timed until the suggestion for the new line is set (p50/p95/max);
- `suggest()` alone for the same prefixes, and `complete -n 5` (20 tokens) through the API;
- the matmul roofline, training throughput, generation per token (also `lstmtext generate` timed from outside),
  tokenization and CLI start-up (bench/speed.py);
- the training step against hidden size and batch in fp32 and bf16, and the model `train` picks for 1 MB in 300 s,
  each as a share of the roofline (bench/scaling.py);
- keystroke → ghost text through `lstmtext lsp` over stdio (bench/editor.py), in a new document and at the end of
  a 20,000-character one;
- `lstmtext serve` under load: 64 clients, batching on and off, the first streamed token (bench/load.py);
- training and generation beside a busy process on every core, against their quiet figures (bench/contention.py);
- peak RSS of `lstmtext train` on generated 10 MB and 1 GB corpora (`--corpus-mb`; see bench/bigcorpus.py).
Each figure is over many calls after a warm-up. Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

import lstmtext
from lstmtext.cli.repl import Repl
from lstmtext.cli.terminal import TerminalReader
from lstmtext.errors import ModelNotFound
from lstmtext.options import TrainConfig

from . import bigcorpus, contention, editor, load, page, scaling, speed
from .sentences import PROMPTS, TYPED
from .tables import builtin_table, contention_table, memory_table, results_table, serving_table, speed_table

ROOT = Path(__file__).resolve().parent.parent
GHOST_TEXT_TARGET_P95_MS = 50.0
# Issue 31's targets for the built-in model.
BUILTIN_TARGETS = {"ghost_text_p95_ms": 30.0, "complete_n5_p50_ms": 50.0, "cold_complete_s": 3.0}


def demo_model(name: str | None, console: Console) -> tuple[lstmtext.LanguageModel, str]:
    try:
        return lstmtext.load(name or "demo"), "the demo model"
    except ModelNotFound:
        if name:
            raise
    console.print("no demo model in the store (make demo trains one): training a stand-in of the same shape "
                  "for 60 s …")
    out = Path(tempfile.mkdtemp()) / "stand-in.lstm"
    # The demo's budget picks its size (2×256); the step limit only makes the stand-in quicker to train.
    lstmtext.train(ROOT / "data" / "corpus.txt", training=TrainConfig(max_time=60), out=out)
    return lstmtext.load(out), "a 60-s stand-in with the demo model's shape"


def summary(samples_ms: list[float]) -> dict:
    ordered = sorted(samples_ms)
    return {"p50": round(statistics.median(ordered), 2), "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
            "max": round(ordered[-1], 2), "count": len(ordered)}


def builtin_latency() -> dict:
    """The built-in model's keystroke → ghost text and `complete -n 5` (in this process, after a warm-up), and
    `lstmtext complete "When there is fire"` in a new process with an empty store, wall clock (best of three)."""
    model = lstmtext.load("english")
    ghost_text_latency(model)
    complete_latency(model)
    with tempfile.TemporaryDirectory() as home:
        cold = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([str(Path(sys.executable).parent / "lstmtext"), "complete", "When there is fire"],
                           check=True, capture_output=True, env={**os.environ, "LSTMTEXT_HOME": home})
            cold.append(time.perf_counter() - started)
    return {"path": str(model.path), "ghost_text_ms": summary(ghost_text_latency(model)),
            "complete_n5_20_tokens_ms": summary(complete_latency(model)), "cold_complete_s": round(min(cold), 2),
            "page_keystroke_ms": page.measure(str(model.path), TYPED), "targets": BUILTIN_TARGETS}


def ghost_text_latency(model: lstmtext.LanguageModel, adapting: bool = False) -> list[float]:
    """Milliseconds from sending each key to the ghost text for the new line being set. `adapting`: through a
    session that learns from each sentence, entered with Enter while the next one is typed; else each sentence
    is cleared with Ctrl-C."""
    writer = model.session() if adapting else model
    repl = Repl(writer, Console(file=io.StringIO()))
    shown: dict[str, float] = {}
    arrived = threading.Condition()
    with create_pipe_input() as pipe, tempfile.TemporaryDirectory() as folder:
        reader = TerminalReader(repl.suggest, Path(folder) / "history", input=pipe, output=DummyOutput())
        buffer = reader.session.default_buffer

        def on_suggestion(_buffer) -> None:
            with arrived:
                shown[buffer.text] = time.perf_counter()
                arrived.notify_all()

        buffer.on_suggestion_set += on_suggestion
        loop = threading.Thread(target=repl.run, args=(reader,), daemon=True)
        loop.start()
        latencies = []
        for sentence in TYPED:
            for end in range(1, len(sentence) + 1):
                line = sentence[:end]
                sent = time.perf_counter()
                pipe.send_text(sentence[end - 1])
                with arrived:
                    if not arrived.wait_for(lambda: line in shown, timeout=10):
                        raise RuntimeError(f"no ghost text for {line!r} within 10 s")
                latencies.append((shown[line] - sent) * 1000)
                time.sleep(0.02)  # a quick typist: about 50 keys a second
            if adapting:  # Enter: the completions are shown, then learning goes on while the next line is typed
                shown_before = repl.console.file.getvalue().count("probability")
                pipe.send_text("\r")
                _wait_until(lambda: repl.console.file.getvalue().count("probability") > shown_before)
            else:
                pipe.send_text("\x03")  # Ctrl-C: clear the line for the next sentence
            time.sleep(0.05)
        pipe.send_text(":quit\r")
        loop.join(10)
    if adapting:
        writer.wait()
        if writer.learned_texts != len(TYPED):
            raise RuntimeError(f"the session learned {writer.learned_texts} of {len(TYPED)} sentences")
        writer.close()
    return latencies


def _wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the REPL did not answer within 10 s")
        time.sleep(0.005)


def timed_ms(call, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def suggest_latency(model: lstmtext.LanguageModel) -> list[float]:
    fresh = lstmtext.load(model.path)  # an empty prompt cache, filled as typing would fill it
    return [sample for sentence in TYPED for end in range(1, len(sentence) + 1)
            for sample in timed_ms(lambda: fresh.suggest(sentence[:end]), 1)]


def complete_latency(model: lstmtext.LanguageModel) -> list[float]:
    return [sample for prompt in PROMPTS
            for sample in timed_ms(lambda: model.complete(prompt, n=5, max_tokens=20, until="none"), 5)]


def latency(model: lstmtext.LanguageModel, which: str) -> dict:
    """The machine, the model, and its latency figures: ghost text, suggest, complete, the editor."""
    config = model.config
    ghost_text_latency(model)  # warm-up: first calls allocate and fill caches
    complete_latency(model)
    return {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "python": platform.python_version()},
        "model": {"which": which, "path": str(model.path), "layers": config.layers,
                  "hidden_size": config.hidden_size, "level": model.tokenizer.level},
        "ghost_text_ms": summary(ghost_text_latency(model)),
        "ghost_text_adapting_ms": summary(ghost_text_latency(model, adapting=True)),
        "suggest_ms": summary(suggest_latency(model)),
        "complete_n5_20_tokens_ms": summary(complete_latency(model)),
        "editor_keystroke_ms": editor.measure(str(model.path), TYPED),
        "editor_keystroke_long_document_ms": editor.measure(str(model.path), TYPED, long_document()),
        "targets": {"ghost_text_p95_ms": GHOST_TEXT_TARGET_P95_MS,
                    "ghost_text_adapting_p95_ms": GHOST_TEXT_TARGET_P95_MS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model name or path (default: the demo model)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--corpus-mb", type=int, default=1000,
                        help="size of the generated corpus for the peak-memory figure (0 skips it)")
    parser.add_argument("--builtin-only", action="store_true", help="measure the built-in model's latency only")
    args = parser.parse_args()
    console = Console()
    console.print("the built-in model: ghost text, complete -n 5, a cold `lstmtext complete` …")
    builtin = builtin_latency()
    console.print(builtin_table(builtin))
    if args.builtin_only:
        args.out.write_text(json.dumps({"builtin": builtin}, indent=2) + "\n")
        return
    model, which = demo_model(args.model, console)
    config = model.config
    console.print(f"model: {which} ({model.path}), {config.layers}×{config.hidden_size} {config.cell.upper()}, "
                  f"{model.tokenizer.level} level; torch {torch.__version__}, {torch.get_num_threads()} threads")

    results = {**latency(model, which), "builtin": builtin}
    console.print("roofline, training throughput, generation, tokenization and CLI start-up …")
    results["speed"] = speed.measure(str(model.path))
    console.print("the training step against hidden size and batch, fp32 and bf16 (issue 32) …")
    results["scaling"] = scaling.measure()
    console.print("the server under load: 64 clients, batching on and off, first streamed token …")
    results["serving"] = load.measure(str(model.path))
    console.print(f"training and generation beside {os.cpu_count()} busy processes (one per core) …")
    results["contention"] = contention.measure(str(model.path))
    if args.corpus_mb:
        console.print(f"peak memory of training on generated 10 MB and {args.corpus_mb:,} MB corpora …")
        results["training_memory"] = bigcorpus.measure_in_fresh_process(args.corpus_mb)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print_tables(console, results)
    console.print(f"written to {args.out}")


def print_tables(console: Console, results: dict) -> None:
    console.print(builtin_table(results["builtin"]))
    console.print(results_table(results))
    console.print(speed_table(results["speed"]))
    console.print(scaling.table(results["scaling"]))
    console.print(serving_table(results["serving"]))
    console.print(contention_table(results["contention"]))
    if "training_memory" in results:
        console.print(memory_table(results["training_memory"]))


def long_document() -> str:
    """The first 20,000 characters of data/corpus.txt (whole lines): a letter or notes file grown long."""
    text = (ROOT / "data" / "corpus.txt").read_text()[:20_000]
    return text[: text.rfind("\n") + 1]


if __name__ == "__main__":
    main()
