"""Issue 32's scaling table: the real training step's tokens/s and LSTM GFLOP/s against hidden size and batch, in
fp32 and (where the CPU has bf16 matrix units) bf16, each beside the matmul roofline measured in the same run; and
the model `lstmtext train` picks for a 1 MB character corpus in 300 s, measured as it trains (its layers, batch,
precision and regularization).

    python -m bench.scaling
"""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.table import Table

from lstmtext.core.device import cpu_has_fast_bf16
from lstmtext.core.machine import keep_freed_memory
from lstmtext.options import Regularization, TrainConfig
from lstmtext.training.sizing import plan_sizes

from .speed import CHAR_VOCAB, matmul_roofline, training_throughput

HIDDEN_SIZES = (128, 256, 384, 512, 768, 1024)
BATCHES = (32, 64, 128)
SEQ = 64  # train's window for characters
PICK_CORPUS_TOKENS, PICK_SECONDS = 1_000_000, 300
# Issue 32's targets, as shares of the roofline of the precision trained in.
TARGETS = {"bf16": {"large": 0.50, "picked": 0.25, "from_hidden": 512},
           "fp32": {"large": 0.70, "picked": 0.40, "from_hidden": 384}}


def measure() -> dict:
    keep_freed_memory()  # as `lstmtext train` runs
    before = matmul_roofline()
    precisions = ("fp32", "bf16") if cpu_has_fast_bf16() else ("fp32",)
    grid = [{"precision": precision, "hidden": hidden, "batch": batch,
             **training_throughput(hidden, precision, steps=3, batch=batch, seq=SEQ)}
            for precision in precisions for hidden in HIDDEN_SIZES for batch in BATCHES]
    picked = picked_model()
    after = matmul_roofline()
    # A shared VM's speed drifts by 2-3× within minutes: the roofline is measured before and after, and the higher
    # of the two (the machine when quiet) is what each figure is a share of.
    roofline = {name: max(before[name], after[name]) for name in before}
    for run in (*grid, picked):
        run["fraction_of_roofline"] = round(run["lstm_gflops"] / roofline[run["precision"]], 3)
    return {"matmul_roofline_gflops": roofline, "roofline_before": before, "roofline_after": after, "grid": grid,
            "picked": picked}


def picked_model() -> dict:
    """What `train` picks for a 1 MB character corpus in 300 s on this machine, and its speed as it trains."""
    precision, sizing = plan_sizes("char", CHAR_VOCAB, PICK_CORPUS_TOKENS, 1.0, TrainConfig(max_time=PICK_SECONDS),
                                   None, None, Regularization())
    figures = training_throughput(sizing.hidden_size, precision.precision, steps=4, layers=sizing.layers,
                                  batch=sizing.batch_size, seq=sizing.seq_len, regularization=sizing.regularization)
    return {"precision": precision.precision, "hidden": sizing.hidden_size, "layers": sizing.layers,
            "batch": sizing.batch_size, "why": f"{precision}; {sizing.reason}", **figures}


def table(figures: dict) -> Table:
    roofline = figures["matmul_roofline_gflops"]
    result = Table(title=f"training step against hidden size and batch (2 layers × {SEQ} tokens; matmul roofline "
                         f"this run: fp32 {roofline['fp32']:.0f}, bf16 {roofline['bf16']:.0f} GFLOP/s, the higher of "
                         f"before and after)", title_justify="left")
    for column in ("precision", "hidden", *(f"batch {batch}" for batch in BATCHES), "target"):
        result.add_column(column, justify="left" if column == "precision" else "right")
    rows: dict[tuple[str, int], dict[int, dict]] = {}
    for run in figures["grid"]:
        rows.setdefault((run["precision"], run["hidden"]), {})[run["batch"]] = run
    for (precision, hidden), runs in rows.items():
        target = TARGETS[precision]
        cells = [f"{run['tokens_per_s'] / 1000:.1f}k tok/s, {run['lstm_gflops']:.0f} GF/s "
                 f"({run['fraction_of_roofline']:.0%})" for run in runs.values()]
        result.add_row(precision, str(hidden), *cells,
                       f"≥ {target['large']:.0%}" if hidden >= target["from_hidden"] else "")
    picked = figures["picked"]
    result.add_row(f"train's pick ({picked['precision']})", f"{picked['layers']}×{picked['hidden']}",
                   f"batch {picked['batch']}: {picked['tokens_per_s'] / 1000:.1f}k tok/s, "
                   f"{picked['lstm_gflops']:.0f} GF/s ({picked['fraction_of_roofline']:.0%})", "", "",
                   f"≥ {TARGETS[picked['precision']]['picked']:.0%}")
    return result


if __name__ == "__main__":
    results = measure()
    Console().print(table(results))
    Console().print(results["picked"]["why"])
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as out:
            json.dump(results, out, indent=2)
