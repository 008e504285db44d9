import math

import pytest
import torch

from lstmtext.errors import BadInput
from lstmtext.generate import Sampling, TextStream, cut_point, filtered_logits, sample_token


def test_top_k_and_top_p_keep_only_the_likeliest_tokens():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    assert torch.isinf(filtered_logits(logits, Sampling(top_k=2))).tolist() == [False, False, True, True]
    assert torch.isinf(filtered_logits(logits, Sampling(top_p=0.7))).tolist() == [False, False, True, True]
    assert torch.isinf(filtered_logits(logits, Sampling(top_p=0.1))).tolist() == [False, True, True, True]


def test_temperature_sharpens_the_distribution():
    logits = torch.tensor([1.0, 0.0])
    cold = torch.softmax(filtered_logits(logits, Sampling(temperature=0.5)), -1)
    assert cold[0] == pytest.approx(1 / (1 + math.exp(-2)))


def test_same_seed_samples_the_same_tokens():
    logits = torch.zeros(50)
    draws = [[sample_token(logits, Sampling(), torch.Generator().manual_seed(3)) for _ in range(3)] for _ in "ab"]
    assert draws[0] == draws[1]


@pytest.mark.parametrize("bad", [dict(temperature=0), dict(top_k=0), dict(top_p=0.0), dict(top_p=1.5)])
def test_bad_sampling_settings_are_refused(bad):
    with pytest.raises(BadInput):
        Sampling(**bad)


def test_text_stream_holds_back_half_a_character():
    data = "é🙂".encode()
    stream = TextStream(lambda ids: bytes(ids).decode("utf-8", errors="replace"))
    pieces = [stream.push(b) for b in data]
    assert "".join(pieces) == "é🙂" and pieces[:2] == ["", "é"] and pieces[2:5] == ["", "", ""]


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
