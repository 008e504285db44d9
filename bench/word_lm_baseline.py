"""The word-level peer of issue 6, re-implemented to see where its bits/char come from: pytorch/examples'
word_language_model with its default settings (2-layer LSTM, 200 units, 200-wide embeddings, dropout 0.2, plain
SGD at lr 20 divided by 4 when validation stops improving, clipping at 0.25, 35-step BPTT over 20 streams), on
the same 90/10 split as `make quality`.

    python -m bench.word_lm_baseline [--corpus PATH] [--seconds 300] [--vocabulary closed|training]

Like the original, it splits lines on whitespace, ends each with <eos>, and builds one vocabulary over the
training, validation *and test* text, so every held-out word is in the vocabulary. Bits per character are the
test text's summed nats over its characters. It also says how many test words never occur in the training text
and what share of the nats they take. Not a test; not part of the package.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bench.corpora import DEFAULT_CORPUS, split_text


def words_of(text: str) -> list[str]:
    return [word for line in text.splitlines() for word in line.split() + ["<eos>"]]


class WordLM(nn.Module):
    def __init__(self, vocab_size: int, size: int = 200, layers: int = 2, dropout: float = 0.2) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(vocab_size, size)
        self.rnn = nn.LSTM(size, size, layers, dropout=dropout)
        self.decoder = nn.Linear(size, vocab_size)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, tokens, state):  # tokens (T, B)
        output, state = self.rnn(self.drop(self.encoder(tokens)), state)
        return self.decoder(self.drop(output)), state


def streams(ids: list[int], count: int) -> torch.Tensor:
    length = len(ids) // count
    return torch.tensor(ids[: length * count]).view(count, length).t().contiguous()  # (L, B)


def token_nats(model: WordLM, data: torch.Tensor, bptt: int = 35) -> torch.Tensor:
    """Each target token's nats, in the streams' order (T·B,)."""
    model.eval()
    state, losses = None, []
    with torch.no_grad():
        for start in range(0, data.size(0) - 1, bptt):
            inputs, targets = data[start: start + bptt], data[start + 1: start + 1 + bptt]
            inputs = inputs[: len(targets)]
            logits, state = model(inputs, state)
            losses.append(F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none"))
    return torch.cat(losses)


VOCABULARIES = ("closed", "training")


def run_peer(train_text: str, test_text: str, seconds: float, vocabulary: str = "closed", log=print) -> dict:
    """Train the peer on `train_text` (its last 10% as its validation text) for `seconds` and score `test_text`.
    `vocabulary`: "closed" builds it over training, validation and test words, as the original does (every
    held-out word known); "training" over the training and validation words only, the test's other words read
    as one <unk> token (its nats count; no cost for spelling the word out, so still optimistic)."""
    torch.manual_seed(1111)
    valid_cut = int(len(train_text) * 0.9)
    train_words, valid_words, test_words = (words_of(train_text[:valid_cut]), words_of(train_text[valid_cut:]),
                                            words_of(test_text))
    known = train_words + valid_words + (test_words if vocabulary == "closed" else ["<unk>"])
    index = {word: i for i, word in enumerate(dict.fromkeys(known))}
    ids = lambda words: [index.get(word, index.get("<unk>", 0)) for word in words]  # noqa: E731
    train, valid, test = streams(ids(train_words), 20), streams(ids(valid_words), 10), streams(ids(test_words), 1)
    model, steps = train_peer(WordLM(len(index)), train, valid, seconds, log)
    nats = token_nats(model, test)
    seen = set(train_words + valid_words)
    unseen = torch.tensor([test_words[i + 1] not in seen for i in range(len(nats))])
    return {"vocabulary": vocabulary, "seconds": seconds, "steps": steps, "vocab_size": len(index),
            "nats_per_word": nats.mean().item(), "bits_per_char": nats.sum().item() / len(test_text) / math.log(2),
            "unseen_words": unseen.float().mean().item(),
            "unseen_share_of_nats": nats[unseen].sum().item() / nats.sum().item()}


def train_peer(model: WordLM, train: torch.Tensor, valid: torch.Tensor, seconds: float, log) -> tuple[WordLM, int]:
    """The original's loop: SGD at lr 20, clipping at 0.25, lr divided by 4 when validation stops improving."""
    lr, best, started, step = 20.0, math.inf, time.monotonic(), 0
    while time.monotonic() - started < seconds:
        model.train()
        state = None
        for start in range(0, train.size(0) - 1, 35):
            inputs, targets = train[start: start + 35], train[start + 1: start + 36]
            inputs = inputs[: len(targets)]
            state = None if state is None else tuple(s.detach() for s in state)
            logits, state = model(inputs, state)
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
            model.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter.add_(parameter.grad, alpha=-lr)
            step += 1
            if time.monotonic() - started >= seconds:
                break
        valid_loss = token_nats(model, valid).mean().item()
        if valid_loss < best:
            best = valid_loss
        else:
            lr /= 4
        log(f"{time.monotonic() - started:.0f} s, step {step}: valid {valid_loss:.3f} nats/word, lr {lr:g}")
    return model, step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--vocabulary", choices=VOCABULARIES, default="closed")
    args = parser.parse_args()
    train_text, test_text = split_text(args.corpus.read_text(encoding="utf-8"))
    result = run_peer(train_text, test_text, args.seconds, args.vocabulary, log=lambda line: print(line, flush=True))
    print(f"test: {result['nats_per_word']:.3f} nats/word; {result['unseen_words']:.1%} of the words never occur in "
          f"training and take {result['unseen_share_of_nats']:.1%} of the nats")
    print(f"bits/char ({args.vocabulary} vocabulary): {result['bits_per_char']:.3f}")


if __name__ == "__main__":
    main()
