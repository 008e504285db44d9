"""Speed on this machine: the matmul roofline, training throughput, generation per token, tokenization and the
CLI's start-up. Every figure is the median of several runs after a warm-up.

    python -m bench.speed
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from lstmtext.core.config import ModelConfig, softmax_cutoffs
from lstmtext.core.corpus import encode_corpus
from lstmtext.core.device import cpu_has_fast_bf16, single_thread
from lstmtext.core.model import RecurrentLM
from lstmtext.core.textfile import inspect_corpus
from lstmtext.core.tokenizer_training import train_tokenizer
from lstmtext.decoding.inference import Stepper
from lstmtext.options import NO_REGULARIZATION, Regularization, TokenizerConfig, TrainConfig
from lstmtext.training.hooks import Runtime, TrainingData
from lstmtext.training.loop import Trainer

ROOT = Path(__file__).resolve().parent.parent
CHAR_VOCAB, WORD_VOCAB = 96, 10_000
BATCH, SEQ = 32, 128


def median_seconds(call: Callable[[], object], runs: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def matmul_roofline(largest: int = 2048, seconds: float = 0.3) -> dict:
    """GFLOP/s of one big square matmul in fp32 and bf16: the most this CPU's cores do. The size is the largest
    up to `largest` that takes about `seconds` (where bf16 is emulated a 2048² matmul took minutes)."""
    figures = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        size = 256
        while size < largest:
            a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
            if median_seconds(lambda: torch.mm(a, b), runs=1) * 8 > seconds:
                break
            size *= 2
        a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
        figures[name] = round(2 * size ** 3 / median_seconds(lambda: torch.mm(a, b)) / 1e9, 1)
        figures[f"{name}_size"] = size
    return figures


def lstm_parameters(model: RecurrentLM) -> int:
    return sum(p.numel() for p in model.rnn.parameters())


def training_throughput(hidden: int, precision: str, vocab: int = CHAR_VOCAB, steps: int = 6, layers: int = 2,
                        batch: int = BATCH, seq: int = SEQ, regularization: Regularization = NO_REGULARIZATION
                        ) -> dict:
    """Tokens/s of the real training step (by default 2 layers, batch 32 × seq 128, no regularization) and the
    LSTM's effective GFLOP/s (6 × LSTM parameters × tokens/s: forward 2, backward 4 multiply-adds per parameter
    per token)."""
    torch.manual_seed(0)
    model = RecurrentLM(ModelConfig(vocab_size=vocab, layers=layers, hidden_size=hidden, embed_size=hidden,
                                    softmax_cutoffs=softmax_cutoffs(vocab, "word"),  # as `train` builds it
                                    regularization=regularization))
    zipf = 1 / np.arange(1, vocab + 1)  # tokens as often as words in text: the k-th most frequent about 1/k
    streams = np.random.default_rng(0).choice(vocab, (batch, seq * (steps + 4) + 1), p=zipf / zipf.sum())
    streams = streams.astype(np.uint16)
    config = TrainConfig(seq_len=seq, batch_size=batch, lr=1e-3, max_steps=10 ** 6)
    trainer = Trainer(model, config, TrainingData(streams, streams[:, :64], 1.0),
                      Runtime(torch.device("cpu"), precision))
    windows = [(streams[:, i * seq:(i + 1) * seq], streams[:, i * seq + 1:(i + 1) * seq + 1])
               for i in range(steps + 2)]
    turn = iter(range(10 ** 6))

    def one_step() -> None:
        inputs, targets = windows[next(turn) % len(windows)]
        trainer._train_step(inputs, targets, None, 1e-3)

    seconds = median_seconds(one_step, runs=steps, warmup=2)
    tokens_per_second = batch * seq / seconds
    return {"tokens_per_s": round(tokens_per_second), "lstm_gflops": round(6 * lstm_parameters(model) *
                                                                            tokens_per_second / 1e9, 1)}


def generation_ms_per_token(hidden: int, tokens: int = 1000) -> dict:
    """Per token at batch 1: the model step `generate` uses (a single stream, int8 weights, one thread), the same in
    fp32, the batched step that beam search uses (int8, as it runs, and fp32), and `generate` end to end."""
    torch.manual_seed(0)
    model = RecurrentLM(ModelConfig(vocab_size=CHAR_VOCAB, layers=2, hidden_size=hidden, embed_size=hidden))
    steppers = {True: Stepper(model, int8=True), False: Stepper(model, int8=False)}
    state, _ = steppers[True].prime([1, 2, 3])
    figures = {}
    with single_thread():  # as `generate` steps it (device.one_thread)
        for name, int8 in (("generate_int8", True), ("single_stream_fp32", False)):
            stream = steppers[int8].single_stream(state)
            figures[name] = round(median_seconds(lambda: [stream.step(5) for _ in range(tokens)]) / tokens * 1000,
                                  4)
    token = torch.tensor([5])
    for name, int8 in (("beam_step_int8", True), ("beam_step_fp32", False)):
        def batched() -> None:
            current = state
            for _ in range(tokens):
                _, current = steppers[int8].step(token, current)

        figures[name] = round(median_seconds(batched) / tokens * 1000, 4)
    # Issue 32: generate end to end within 1.3× of its model step alone (one thread, as generate runs; measured
    # in turns with it).
    figures["generate_end_to_end"], step = generate_end_to_end_ms(hidden)
    figures["end_to_end_over_step"] = round(figures["generate_end_to_end"] / step, 2)
    figures["generate_from_outside"] = generate_from_outside_ms(hidden)
    return figures


def generate_end_to_end_ms(hidden: int, tokens: int = 2000, rounds: int = 5) -> tuple[float, float]:
    """`LanguageModel.generate` as the CLI runs it (sampling, healing and decoding included), per token, and the
    same model's single-stream step alone on one thread (as generate steps it): taking turns, so that the
    machine's drift between them (large on a shared VM) slows each alike; the medians."""
    from lstmtext.api import LanguageModel

    text = (ROOT / "data" / "corpus.txt").read_text(encoding="utf-8")
    tokenizer = train_tokenizer(text.splitlines(keepends=True), TokenizerConfig("char"))
    torch.manual_seed(0)
    model = RecurrentLM(ModelConfig(vocab_size=tokenizer.vocab_size, layers=2, hidden_size=hidden,
                                    embed_size=hidden))
    ends, steps = [], []
    with tempfile.TemporaryDirectory() as folder:
        language_model = LanguageModel(model, tokenizer, {}, cache_dir=Path(folder))
        stepper = Stepper(model, int8=True)
        stream = stepper.single_stream(stepper.prime([1, 2, 3])[0])
        for _ in range(rounds + 1):
            ends.append(median_seconds(lambda: "".join(language_model.generate("The", length=tokens, seed=1)),
                                       runs=1, warmup=0))
            with single_thread():
                steps.append(median_seconds(lambda: [stream.step(5) for _ in range(tokens)], runs=1, warmup=0))
    return (round(statistics.median(ends[1:]) / tokens * 1000, 4),
            round(statistics.median(steps[1:]) / tokens * 1000, 4))


def generate_from_outside_ms(hidden: int, long: int = 4000, short: int = 10) -> float:
    """Issue 19's measure: `lstmtext generate --length 4000` minus `--length 10`, run as a user runs them, per
    token (start-up and prompt cancel out), for a 2-layer char model of this hidden size."""
    import lstmtext

    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder) / "generate.lstm"
        lstmtext.train(ROOT / "data" / "corpus.txt", tokenizer=TokenizerConfig("char"),
                       training=TrainConfig(max_steps=2, eval_every=2, learn_held_out=False), layers=2,
                       hidden_size=hidden, embed_size=hidden, out=model, store=lstmtext.ModelStore(Path(folder)))

        def seconds(length: int) -> float:
            return cli_seconds("generate", "--model", str(model), "--length", str(length), "--seed", "1", runs=3)

        return round((seconds(long) - seconds(short)) / (long - short) * 1000, 4)


def tokenize_mb_per_s(level: str, megabytes: int = 8) -> float:
    text = (ROOT / "data" / "corpus.txt").read_text(encoding="utf-8")
    tokenizer = train_tokenizer(text.splitlines(keepends=True), TokenizerConfig(level))
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "big.txt"
        corpus.write_text(text * (megabytes * 2 ** 20 // len(text.encode()) + 1), encoding="utf-8")
        info = inspect_corpus(corpus)
        runs = iter(range(100))
        seconds = median_seconds(lambda: encode_corpus(info, tokenizer, Path(folder) / f"cache{next(runs)}"),
                                 runs=3, warmup=0)
        return round(info.bytes / 2 ** 20 / seconds, 2)


def cli_seconds(*arguments: str, runs: int = 5) -> float:
    command = [str(Path(sys.executable).parent / "lstmtext"), *arguments]
    return round(median_seconds(lambda: subprocess.run(command, capture_output=True, check=True), runs=runs), 3)


def measure(model_path: str) -> dict:
    roofline = matmul_roofline()
    training = {f"char_h{h}_fp32": training_throughput(h, "fp32") for h in (256, 384, 512)}
    if cpu_has_fast_bf16():  # where bf16 is emulated (the roofline shows how slowly), a step takes minutes
        training["char_h384_bf16"] = training_throughput(384, "bf16")
    training["word_h384_fp32"] = training_throughput(384, "fp32", vocab=WORD_VOCAB)
    # Issue 18: a 10k-word vocabulary (an adaptive softmax) should keep ≥ 60% of the char level's LSTM GFLOP/s.
    training["word_h384_fp32"]["share_of_char"] = round(
        training["word_h384_fp32"]["lstm_gflops"] / training["char_h384_fp32"]["lstm_gflops"], 2)
    for figures, name in ((f, n) for n, f in training.items()):
        figures["fraction_of_roofline"] = round(figures["lstm_gflops"] / roofline[name.rsplit("_", 1)[1]], 2)
    import_torch = round(median_seconds(lambda: subprocess.run([sys.executable, "-c", "import torch"], check=True),
                                        runs=3), 3)
    return {
        "matmul_roofline_gflops": roofline,
        "training": training,
        "generation_ms_per_token": {f"h{h}": generation_ms_per_token(h) for h in (384, 512)},
        "tokenize_mb_per_s": {level: tokenize_mb_per_s(level) for level in ("char", "bpe")},
        "cli_seconds": {"help": cli_seconds("--help"), "import_torch": import_torch,
                        "complete_cold": cli_seconds("complete", "When there is fi", "--model", model_path, runs=3)},
    }


if __name__ == "__main__":
    print(measure(sys.argv[1] if len(sys.argv) > 1 else "demo"))
