import math

import pytest
import torch

from lstmtext.decoding.drawing import Draw, Uniforms, draw_tokens, filtered_logits, sample_token
from lstmtext.decoding.healing import TokenTable
from lstmtext.decoding.reading import sample_stream
from lstmtext.decoding.stopping import cut_point
from lstmtext.errors import BadInput
from lstmtext.options import Sampling

from .conftest import Scripted


def test_top_k_and_top_p_keep_only_the_likeliest_tokens():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    assert torch.isinf(filtered_logits(logits, Sampling(top_k=2))).tolist() == [False, False, True, True]
    assert torch.isinf(filtered_logits(logits, Sampling(top_p=0.7))).tolist() == [False, False, True, True]
    assert torch.isinf(filtered_logits(logits, Sampling(top_p=0.1))).tolist() == [False, True, True, True]


def test_temperature_sharpens_the_distribution():
    logits = torch.tensor([1.0, 0.0])
    cold = torch.softmax(filtered_logits(logits, Sampling(temperature=0.5)), -1)
    assert cold[0] == pytest.approx(1 / (1 + math.exp(-2)))


class FixedUniforms:
    """Hands out the numbers it is given, in order."""

    def __init__(self, numbers):
        self.numbers = list(numbers)

    def take(self):
        return self.numbers.pop(0)


@pytest.mark.parametrize("sampling", [Sampling(), Sampling(temperature=0.5), Sampling(top_k=5), Sampling(top_p=0.6),
                                      Sampling(temperature=1.7, top_k=20, top_p=0.9)])
def test_both_samplers_pick_the_same_token_for_the_same_uniform_number(sampling):
    """`generate` draws with sample_token (NumPy, one stream), every other sampler with draw_tokens (torch, a
    batch): the same distribution and the same uniform number give the same token."""
    logits = torch.randn(40, generator=torch.Generator().manual_seed(1))
    numbers = [index / 200 + 0.001 for index in range(200)]
    one_by_one = [sample_token(logits, sampling, FixedUniforms([u])) for u in numbers]
    batched = draw_tokens(logits.expand(len(numbers), -1),
                          [Draw(sampling, FixedUniforms([u])) for u in numbers]).tokens
    assert one_by_one == batched
    assert len(set(one_by_one)) >= 3  # the numbers reach across the distribution


def test_same_seed_samples_the_same_tokens():
    logits = torch.zeros(50)
    draws = [[sample_token(logits, Sampling(), Uniforms(torch.Generator().manual_seed(3))) for _ in range(3)]
             for _ in "ab"]
    assert draws[0] == draws[1]


@pytest.mark.parametrize("bad", [dict(temperature=0), dict(top_k=0), dict(top_p=0.0), dict(top_p=1.5)])
def test_bad_sampling_settings_are_refused(bad):
    with pytest.raises(BadInput):
        Sampling(**bad)


class ByteTokenizer:
    vocab_size = 256

    @staticmethod
    def token_bytes(token_id: int) -> bytes:
        return bytes([token_id])

    @staticmethod
    def is_byte(token_id: int) -> bool:
        return True


def stream(text: str, tail: bytes, length: int) -> list[str]:
    model = Scripted(text)
    return list(sample_stream(model, model.start(), TokenTable(ByteTokenizer()), tail, length=length,
                              sampling=Sampling(), generator=torch.Generator().manual_seed(0)))


def test_sample_stream_never_splits_a_character():
    pieces = stream("é🙂!", b"", len("é🙂!".encode()))
    assert "".join(pieces) == "é🙂!" and pieces == ["é", "🙂", "!"]


def test_sample_stream_hides_the_retyped_tail_and_counts_only_new_tokens():
    assert "".join(stream(" fire, there", b" fi", 4)) == "re, "


@pytest.mark.parametrize("text, until, cut", [
    (", there is smoke", "sentence", None),
    (", there is smoke. And", "sentence", len(", there is smoke.")),
    ("\nROMEO speaks", "sentence", None),
    ("\nROMEO speaks\nnext", "sentence", len("\nROMEO speaks")),
    (" fire, there", "word", len(" fire")),
    ("re is", "word", len("re")),
    (" fire", "word", None),
    ("a line. more\n", "line", len("a line. more")),
    ("a line. more", "none", None),
])
def test_completions_stop_where_the_rule_says(text, until, cut):
    assert cut_point(text, until) == cut
