import pytest
import torch

from lstmtext.config import ModelConfig
from lstmtext.errors import BadInput
from lstmtext.model import RecurrentLM, detach_state


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_shapes_for_every_cell(cell):
    model = RecurrentLM(ModelConfig(vocab_size=30, cell=cell, layers=3, hidden_size=12, embed_size=12))
    logits, state = model(torch.randint(0, 30, (5, 7)))
    assert logits.shape == (5, 7, 30)
    hidden = state[0] if cell == "lstm" else state
    assert hidden.shape == (3, 5, 12)
    if cell == "lstm":
        assert state[1].shape == (3, 5, 12)


def test_decoder_shares_the_embedding_only_when_sizes_agree():
    tied = RecurrentLM(ModelConfig(vocab_size=30, hidden_size=12, embed_size=12))
    assert tied.decoder.weight.data_ptr() == tied.embedding.weight.data_ptr()
    untied = RecurrentLM(ModelConfig(vocab_size=30, hidden_size=12, embed_size=8))
    assert untied.decoder.weight.data_ptr() != untied.embedding.weight.data_ptr()
    assert "decoder.weight" not in tied.weights_for_saving()
    assert "decoder.weight" in untied.weights_for_saving()


def test_lstm_forget_gate_starts_open():
    model = RecurrentLM(ModelConfig(vocab_size=30, hidden_size=4, embed_size=4, layers=1))
    assert model.rnn.bias_ih_l0[4:8].tolist() == [1.0] * 4  # gate order: input, forget, candidate, output
    assert model.rnn.bias_ih_l0[:4].tolist() != [1.0] * 4


def test_detached_state_keeps_values_but_no_graph():
    model = RecurrentLM(ModelConfig(vocab_size=30, hidden_size=4, embed_size=4))
    _, state = model(torch.randint(0, 30, (1, 3)))
    detached = detach_state(state)
    assert all(not s.requires_grad for s in detached) and torch.equal(detached[0], state[0])


@pytest.mark.parametrize("bad", [dict(cell="transformer"), dict(layers=0), dict(dropout=1.0), dict(hidden_size=0)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(BadInput):
        ModelConfig(vocab_size=30, **bad)
