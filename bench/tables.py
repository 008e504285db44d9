"""The tables `make bench` prints, drawn from the figures it measured (bench/results.json's shape)."""

from __future__ import annotations

from rich.table import Table


def builtin_table(figures: dict) -> Table:
    table = Table(title=f"the built-in model ({figures['path']})", title_justify="left")
    for column in ("measure", "p50", "p95", "max", "target"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    ghost, complete, targets = figures["ghost_text_ms"], figures["complete_n5_20_tokens_ms"], figures["targets"]
    table.add_row("keystroke → ghost text (REPL)", f"{ghost['p50']:.1f} ms", f"{ghost['p95']:.1f} ms",
                  f"{ghost['max']:.1f} ms", f"p95 ≤ {targets['ghost_text_p95_ms']:.0f} ms")
    table.add_row("complete -n 5, 20 tokens", f"{complete['p50']:.1f} ms", f"{complete['p95']:.1f} ms",
                  f"{complete['max']:.1f} ms", f"p50 ≤ {targets['complete_n5_p50_ms']:.0f} ms")
    page = figures.get("page_keystroke_ms")
    if page:
        table.add_row(f"keystroke → ghost text (the page, Chromium; {page['answered']:.0%} answered)",
                      f"{page['p50']:.1f} ms", f"{page['p95']:.1f} ms", f"{page['max']:.1f} ms",
                      f"p95 ≤ {page['target_p95_ms']:.0f} ms")
    else:
        table.add_row("keystroke → ghost text (the page)", "no Chromium here", "", "", "")
    table.add_row('lstmtext complete "When there is fire", cold', f"{figures['cold_complete_s']:.2f} s", "", "",
                  f"≤ {targets['cold_complete_s']:.0f} s")
    return table


def results_table(results: dict) -> Table:
    table, targets = Table(title="lstmtext bench", title_justify="left"), results["targets"]
    for column in ("measure", "p50 ms", "p95 ms", "max ms", "calls", "target"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    rows = [("keystroke → ghost text (REPL)", "ghost_text_ms", f"p95 ≤ {targets['ghost_text_p95_ms']:.0f} ms"),
            ("the same, learning from each line", "ghost_text_adapting_ms",
             f"p95 ≤ {targets['ghost_text_adapting_p95_ms']:.0f} ms"),
            ("keystroke → ghost text (lstmtext lsp, stdio)", "editor_keystroke_ms",
             f"p95 ≤ {results['editor_keystroke_ms']['target_p95_ms']:.0f} ms"),
            ("the same, at the end of a 20,000-character document", "editor_keystroke_long_document_ms",
             f"p95 ≤ {results['editor_keystroke_long_document_ms']['target_p95_ms']:.0f} ms"),
            ("suggest() per keystroke", "suggest_ms", ""),
            ("complete -n 5, 20 tokens", "complete_n5_20_tokens_ms", "")]
    for label, key, target in rows:
        figures = results[key]
        table.add_row(label, f"{figures['p50']:.1f}", f"{figures['p95']:.1f}", f"{figures['max']:.1f}",
                      str(figures["count"]), target)
    return table


def speed_table(figures: dict) -> Table:
    roofline = figures["matmul_roofline_gflops"]
    table = Table(title=f"speed (matmul roofline: fp32 {roofline['fp32']:.0f} GFLOP/s, bf16 {roofline['bf16']:.0f})",
                  title_justify="left")
    table.add_column("measure")
    table.add_column("figure", justify="right")
    table.add_column("of roofline", justify="right")
    for name, run in figures["training"].items():
        share = f", {run['share_of_char']:.0%} of char's (target ≥ 60%)" if "share_of_char" in run else ""
        table.add_row(f"train {name.replace('_', ' ')} (2 layers, batch 32 × 128)",
                      f"{run['tokens_per_s']:,} tok/s, {run['lstm_gflops']:.0f} GFLOP/s{share}",
                      f"{run['fraction_of_roofline']:.0%}")
    for name, paths in figures["generation_ms_per_token"].items():
        table.add_row(f"generate step, {name.upper()}, 2 layers, batch 1", f"{paths['generate_int8']:.3f} ms/token",
                      f"fp32 {paths['single_stream_fp32']:.3f}")
        table.add_row(f"generate end to end, {name.upper()}", f"{paths['generate_end_to_end']:.3f} ms/token",
                      f"{paths['end_to_end_over_step']:.2f}× the step (target ≤ 1.3×)")
        table.add_row(f"lstmtext generate from outside, {name.upper()}",
                      f"{paths['generate_from_outside']:.3f} ms/token", "--length 4000 minus 10")
    for level, rate in figures["tokenize_mb_per_s"].items():
        table.add_row(f"tokenize, {level}", f"{rate:.1f} MB/s", "")
    cli = figures["cli_seconds"]
    table.add_row("lstmtext --help", f"{cli['help']:.2f} s", "")
    table.add_row("lstmtext complete (cold)", f"{cli['complete_cold']:.2f} s",
                  f"import torch {cli['import_torch']:.2f} s")
    return table


def serving_table(figures: dict) -> Table:
    targets = figures["targets"]
    table = Table(title="lstmtext serve (127.0.0.1, 20-token completions)", title_justify="left")
    for column in ("measure", "figure", "p50 ms", "p95 ms", "target"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for name, label in (("batched", "64 clients, batched"), ("one_at_a_time", "64 clients, --no-batching")):
        run = figures[name]
        table.add_row(label, f"{run['completions_per_s']:.0f} completions/s ({run['errors']} errors)",
                      f"{run['p50_ms']:.0f}", f"{run['p95_ms']:.0f}",
                      f"≥ {targets['completions_per_s']}" if name == "batched" else "")
    table.add_row("batching's gain", f"{figures['batching_gain']:.1f}×", "", "", f"≥ {targets['batching_gain']:.0f}×")
    first = figures["first_token"]
    table.add_row(f"first streamed token, {first['prompt_chars']}-char prompt", "", f"{first['p50_ms']:.1f}",
                  f"{first['p95_ms']:.1f}", f"≤ {targets['first_token_ms']:.0f} ms")
    return table


def contention_table(figures: dict) -> Table:
    table = Table(title=f"beside {figures['busy_processes']} busy processes (one per core)", title_justify="left")
    for column in ("measure", "quiet", "busy", "busy / quiet", "target", "PyTorch defaults, busy"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for what, label, shown in (("train", "train 2×256 char, fp32 (tokens/s)", "{:,.0f}"),
                               ("generate", "generate (ms/token)", "{:.3f}")):
        row = figures[what]
        table.add_row(label, shown.format(row["quiet"]), shown.format(row["busy"]), f"{row['share_of_quiet']:.0%}",
                      f"≥ {figures['target_share']:.0%}", f"{shown.format(row['busy_with_pytorch_defaults'])} "
                                                         f"({row['share_of_quiet_with_pytorch_defaults']:.0%})")
    return table


def memory_table(memory: dict) -> Table:
    table = Table(title="lstmtext train --max-steps 30: peak memory", title_justify="left")
    for column in ("corpus", "peak RSS MB", "seconds", "target"):
        table.add_column(column, justify="left" if column == "corpus" else "right")
    for size, figures in memory["corpus_sizes"].items():
        table.add_row(size.replace("_", " ").upper(), f"{figures['peak_rss_mb']:,.0f}", f"{figures['seconds']:.0f}",
                      f"< {memory['target_peak_rss_mb']:,} MB")
    return table
