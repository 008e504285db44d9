"""Run by torchrun in test_distributed.py: the same training run as its `lstmtext train` options (SMALL and the
resume test's), through the API, with a stop injected right after a step where no signal can be aimed at the
group. Prints the CLI's error line and exits with its code."""

import sys

import lstmtext
from lstmtext.errors import TrainingInterrupted
from lstmtext.options import Regularization, TokenizerConfig, TrainConfig
from lstmtext.training.hooks import Faults


def main(corpus: str, out: str, precision: str, stop_after: str) -> int:
    training = TrainConfig(seq_len=16, batch_size=4, max_steps=12, checkpoint_every=5, precision=precision,
                           device="cpu")
    try:
        lstmtext.train(corpus, tokenizer=TokenizerConfig("char"), training=training, layers=1, hidden_size=32,
                       regularization=Regularization(dropout=0.2, weight_drop=0.2), out=out,
                       faults=Faults(stop_after=int(stop_after)))
    except TrainingInterrupted as stop:
        print(f"error: {stop}", file=sys.stderr)
        return stop.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
