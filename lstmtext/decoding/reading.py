"""Reading a prompt before continuing it: how much of it the model reads, what comes before it, and the
half-typed end of it left to re-type (token healing, see healing.py)."""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterator

import torch

from ..core.device import one_thread
from ..core.model import State
from ..core.textfile import check_text
from ..core.tokenizer import Tokenizer
from ..options import MAX_PROMPT_CHARS, Sampling
from .drawing import Uniforms, sample_token
from .healing import SplitPrefix, TokenTable, advance, split_prefix
from .inference import Stepper

LINE_START = "\n"


def readable_end(prompt: str) -> str:
    """The end of `prompt` the model reads: all of it, or for a prompt over `MAX_PROMPT_CHARS` characters what
    follows the first line break (else word break) after a start that moves in steps of half that as text is
    added: between the last half and the last whole of it. Typing at the end of a long text then keeps what
    the model read (cached), where a window sliding with every keystroke would make it read it all again."""
    if len(prompt) <= MAX_PROMPT_CHARS:
        return prompt
    step = MAX_PROMPT_CHARS // 2
    start = -(-(len(prompt) - MAX_PROMPT_CHARS) // step) * step  # the first multiple of step that fits
    end = prompt[start:]
    for separator in ("\n", " "):
        cut = end.find(separator)
        if cut != -1:
            return end[cut + 1:]
    return end


def reading_context(prefix: str) -> str:
    """What the model reads before a prompt: a line break, as at the start of a paragraph, or a space when the
    prompt starts with a lowercase letter, a fragment from the middle of a sentence (so that "my" is read as
    the word " my" the model knows, not as a word glued to whatever came before)."""
    return " " if prefix[:1].islower() else LINE_START


def start_reading(stepper: Stepper, tokenizer: Tokenizer, prefix: str, *, finish_word: bool = True
                  ) -> tuple[bytes, tuple[State, torch.Tensor]]:
    """The typed end of `prefix` still to re-type, and the model's state (and next logits) after the rest; with
    `finish_word` False, nothing is re-typed: the prompt ends where it ends."""
    prefix = readable_end(check_text(prefix, "the prompt"))
    text = reading_context(prefix) + prefix
    healing = prefix and finish_word
    split = split_prefix(text, tokenizer) if healing else SplitPrefix(tokenizer.encode(text), b"")
    return split.tail, stepper.prime(split.head_ids or tokenizer.encode(LINE_START))


def generate_text(stepper: Stepper, table: TokenTable, tokenizer: Tokenizer, prompt: str, length: int,
                  sampling: Sampling) -> Iterator[str]:
    """`length` tokens sampled after `prompt`, yielded as text as it is produced (on one CPU thread)."""
    tail, start = start_reading(stepper, tokenizer, prompt)
    return one_thread(sample_stream(stepper, start, table, tail, length=length, sampling=sampling,
                                    generator=seeded_generator(sampling.seed)))


def seeded_generator(seed: int | None) -> torch.Generator:
    """A generator seeded with `seed`, or with fresh randomness for None."""
    generator = torch.Generator()
    generator.manual_seed(seed if seed is not None else int.from_bytes(os.urandom(4), "little"))
    return generator


def progress_sample(tokenizer: Tokenizer, length: int) -> Callable[[torch.nn.Module], str]:
    """A short sample of the model's text for each evaluation: the same seed every time, so samples compare."""
    table = TokenTable(tokenizer)

    def sample(model: torch.nn.Module) -> str:
        return "".join(generate_text(Stepper(model.eval()), table, tokenizer, "", length, Sampling(seed=0)))

    return sample


def sample_stream(stepper: Stepper, start: tuple[State, torch.Tensor], table: TokenTable, tail: bytes, *,
                  length: int, sampling: Sampling, generator: torch.Generator) -> Iterator[str]:
    """Sample `length` new tokens (and the few more that finish a character begun in byte pieces), yielding text
    as soon as it decodes: never half a UTF-8 character, nor a broken one (TokenTable.writable). Tokens that
    re-type a half-typed last word of the prompt (`tail`) come first and are not shown."""
    state, logits = start
    stream = stepper.single_stream(state)
    decoder = codecs.getincrementaldecoder("utf-8")("replace")  # nothing to replace: see TokenTable.writable
    uniforms, produced, pending = Uniforms(generator), 0, b""
    while produced < length or pending:
        refused = (~table.drawable(tail, pending)).numpy()
        token_id = sample_token(logits, sampling, uniforms, refused)
        tail, added = advance(tail, table.token_bytes[token_id])
        produced += bool(added)
        if text := decoder.decode(added):
            yield text
        pending = decoder.getstate()[0]
        if produced < length or pending:
            logits = stream.step(token_id)
