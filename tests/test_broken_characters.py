"""Sampled text never holds a broken character: byte pieces are drawn only where they go on as UTF-8, a
character begun in them is finished, and a control character the training text did not hold is never spelled."""

import pytest
import torch

from lstmtext.decoding.healing import TokenTable, unfinished_character
from lstmtext.options import Sampling

from .conftest import LEVELS, Scripted


class BytesAndWords:
    """Byte pieces 0-255, then two whole-word pieces."""

    vocab_size = 258

    @staticmethod
    def token_bytes(token_id: int) -> bytes:
        return bytes([token_id]) if token_id < 256 else [" cat", " 猫"][token_id - 256].encode()

    @staticmethod
    def is_byte(token_id: int) -> bool:
        return token_id < 256


def test_only_what_goes_on_as_utf8_may_be_drawn():
    table = TokenTable(BytesAndWords())
    start = table.writable(b"")
    assert start[ord("a")] and start[0xE7] and start[256] and start[257]  # ASCII, a lead byte, whole pieces
    assert not start[0x80] and not start[0xBF] and not start[0xFF]  # a continuation byte, a byte UTF-8 never has
    assert start[ord("\n")] and not start[0x1A] and not start[0x00] and not start[0x7F]  # controls: line breaks only
    inside = table.writable(b"\xe7")  # the first of three bytes
    assert inside[0x8C] and not inside[ord("a")] and not inside[256] and not inside[0xE7]
    assert not table.writable(b"\xc2")[0x85]  # U+0085, a C1 control character, spelled in bytes
    assert not table.writable(b"\xed")[0xBE] and table.writable(b"\xed")[0x9F]  # no byte ends a surrogate
    assert not table.writable(b"\xe0")[0x80] and not table.writable(b"\xf4")[0x90]  # overlong; past U+10FFFF


def test_the_unfinished_end_of_written_text():
    assert unfinished_character("a猫".encode()) == b""
    assert unfinished_character("a猫".encode()[:-1]) == "猫".encode()[:2]
    assert unfinished_character(b"ab\xf0\x9f") == b"\xf0\x9f"


@pytest.mark.parametrize("level", LEVELS)
def test_hot_sampling_writes_no_broken_or_control_character(lord_models, level):
    """Models that never saw a byte piece in training (an ASCII corpus), sampled at temperature 2: 10,000 tokens
    of generation and continuations as the server writes them."""
    model = lord_models[level]
    text = "".join(model.generate("My lord", length=10_000, temperature=2.0, seed=1))
    for seed in range(20):
        text += model.continuation("The king", max_tokens=100, sampling=Sampling(temperature=2.0, seed=seed)).text
    text += "".join(completion.text for completion in model.complete("Yes, my", sample=True, n=20,
                                                                     temperature=2.0, seed=3, until="none"))
    assert "\ufffd" not in text
    assert not [char for char in text if ord(char) < 32 and char not in "\n\t\r" or 0x7F <= ord(char) <= 0x9F]


def test_a_character_begun_in_bytes_is_finished_past_the_length():
    """A stepper certain of each next byte of "é", asked for one token: it writes both bytes."""
    from lstmtext.decoding.reading import sample_stream

    model = Scripted("é", BytesAndWords.vocab_size)
    written = sample_stream(model, model.start(), TokenTable(BytesAndWords()), b"", length=1, sampling=Sampling(),
                            generator=torch.Generator().manual_seed(0))
    assert "".join(written) == "é"


def test_every_character_begun_in_bytes_can_end():
    """Sampling stops only where a character is complete, so no begun character may be left with nothing to
    draw: every state reachable in two byte pieces has a way on."""
    table = TokenTable(BytesAndWords())
    states, seen = [b""], set()
    while states:
        pending = states.pop()
        mask = table.writable(pending)
        assert bool(mask.any()), pending
        for byte in range(256):
            after = unfinished_character(pending + bytes([byte]))
            if mask[byte] and after and len(after) <= 2 and after not in seen:
                seen.add(after)
                states.append(after)
    assert len(seen) > 1000
