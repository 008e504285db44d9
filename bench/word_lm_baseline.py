"""The word-level peer of issue 6, re-implemented to see where its bits/char come from: pytorch/examples'
word_language_model with its default settings (2-layer LSTM, 200 units, 200-wide embeddings, dropout 0.2, plain
SGD at lr 20 divided by 4 when validation stops improving, clipping at 0.25, 35-step BPTT over 20 streams), on
the same 90/10 split as `make quality`.

    python -m bench.word_lm_baseline [--corpus PATH] [--seconds 300]

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

from bench.quality import DEFAULT_CORPUS, split_text



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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--seconds", type=float, default=300)
    args = parser.parse_args()
    torch.manual_seed(1111)
    train_text, test_text = split_text(args.corpus.read_text(encoding="utf-8"))
    valid_cut = int(len(train_text) * 0.9)
    train_words, valid_words, test_words = (words_of(train_text[:valid_cut]), words_of(train_text[valid_cut:]),
                                            words_of(test_text))
    vocabulary = {word: i for i, word in enumerate(dict.fromkeys(train_words + valid_words + test_words))}
    seen = set(train_words + valid_words)
    train, valid = streams([vocabulary[w] for w in train_words], 20), streams([vocabulary[w] for w in valid_words], 10)
    test = streams([vocabulary[w] for w in test_words], 1)

    model, lr, best, started, step = WordLM(len(vocabulary)), 20.0, math.inf, time.monotonic(), 0
    while time.monotonic() - started < args.seconds:
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
            if time.monotonic() - started >= args.seconds:
                break
        valid_loss = token_nats(model, valid).mean().item()
        if valid_loss < best:
            best = valid_loss
        else:
            lr /= 4
        print(f"{time.monotonic() - started:.0f} s, step {step}: valid {valid_loss:.3f} nats/word, lr {lr:g}", flush=True)

    nats = token_nats(model, test)
    targets = test[1:, 0].tolist()
    chars = len(test_text)
    unseen = torch.tensor([test_words[i + 1] not in seen for i in range(len(targets))])
    print(f"test: {nats.mean().item():.3f} nats/word over {len(targets):,} words and {chars:,} characters; "
          f"{unseen.float().mean().item():.1%} of the words never occur in training and take "
          f"{nats[unseen].sum().item() / nats.sum().item():.1%} of the nats")
    print(f"bits/char (closed vocabulary, as the original): {nats.sum().item() / chars / math.log(2):.3f}")


if __name__ == "__main__":
    main()
