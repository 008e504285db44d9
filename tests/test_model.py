from dataclasses import replace

import pytest
import torch

from lstmtext.core.config import ModelConfig
from lstmtext.core.model import RecurrentLM, detach_state, locked_dropout
from lstmtext.errors import BadInput
from lstmtext.options import NO_REGULARIZATION
from lstmtext.training.schedule import activation_penalty


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


def test_detached_state_keeps_values_but_no_graph():
    model = RecurrentLM(ModelConfig(vocab_size=30, hidden_size=4, embed_size=4))
    _, state = model(torch.randint(0, 30, (1, 3)))
    detached = detach_state(state)
    assert all(not s.requires_grad for s in detached) and torch.equal(detached[0], state[0])


@pytest.mark.parametrize("bad", [dict(cell="transformer"), dict(layers=0), dict(dropout=1.0), dict(hidden_size=0)])
def test_bad_settings_read_from_a_file_are_refused(bad):
    with pytest.raises(BadInput):
        ModelConfig.from_dict({"vocab_size": 30, **bad})


def regularized(**settings):
    torch.manual_seed(0)
    return RecurrentLM(ModelConfig(vocab_size=30, hidden_size=8, embed_size=8, layers=2,
                                   regularization=replace(NO_REGULARIZATION, **settings)))


def test_the_layer_by_layer_training_path_is_the_lstm_itself_when_nothing_is_dropped():
    model = regularized()
    tokens = torch.randint(0, 30, (3, 7))
    output, (h, c), _ = model._regularized_forward(tokens, None)
    expected, (h_ref, c_ref) = model.eval()(tokens)
    assert torch.allclose(model.decoder(output), expected, atol=1e-6)
    assert torch.allclose(h, h_ref, atol=1e-6) and torch.allclose(c, c_ref, atol=1e-6)


def test_locked_dropout_uses_one_mask_for_every_time_step():
    x = torch.ones(4, 9, 6)
    dropped = locked_dropout(x, 0.5)
    assert set(dropped.unique().tolist()) == {0.0, 2.0}
    assert all(torch.equal(dropped[:, t], dropped[:, 0]) for t in range(9))
    assert not torch.equal(dropped[0], dropped[1]) or not torch.equal(dropped[1], dropped[2])


def test_embedding_dropout_drops_a_token_everywhere_at_once():
    model = regularized(embed_dropout=0.5).train()
    seen = []
    model._shells[0].register_forward_pre_hook(lambda _module, args: seen.append(args[0].detach()[0]))
    tokens = torch.tensor([[3, 5, 3, 5, 3, 5]])
    for _ in range(20):
        model(tokens)
    for inputs in seen:  # (T, E) as the first layer reads them
        assert torch.equal(inputs[0], inputs[2]) and torch.equal(inputs[1], inputs[3])  # one draw per token
        assert all(bool((row == 0).all()) or bool((row != 0).all()) for row in inputs)  # whole rows or nothing
    assert any(bool((inputs[0] == 0).all()) for inputs in seen)  # token 3 was dropped in some window


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_every_cell_trains_through_the_regularized_path(cell):
    model = RecurrentLM(ModelConfig(vocab_size=30, cell=cell, layers=2, hidden_size=8, embed_size=8,
                                    regularization=replace(NO_REGULARIZATION, dropout=0.3, weight_drop=0.3))).train()
    logits, state = model(torch.randint(0, 30, (5, 7)))
    assert logits.shape == (5, 7, 30)
    assert (state[0] if cell == "lstm" else state).shape == (2, 5, 8)


def test_weight_drop_changes_the_recurrent_weights_each_window_but_trains_the_raw_ones():
    model = regularized(weight_drop=0.5).train()
    tokens = torch.randint(0, 30, (2, 5))
    first, _ = model(tokens)
    second, _ = model(tokens)
    assert not torch.allclose(first, second)  # two draws of the dropped connections
    first.sum().backward()
    assert model.rnn.weight_hh_l0.grad is not None and model.rnn.weight_hh_l1.grad.abs().sum() > 0
    model.eval()
    assert torch.equal(model(tokens)[0], model(tokens)[0])  # evaluation drops nothing


def test_activation_penalties_measure_size_and_change():
    raw = torch.tensor([[[1.0], [3.0]]])  # one stream, two steps, one unit
    dropped = torch.tensor([[[2.0], [0.0]]])
    config = ModelConfig(vocab_size=2, regularization=replace(NO_REGULARIZATION, activation_reg=2.0, temporal_reg=1.0))
    assert activation_penalty(raw, dropped, config) == pytest.approx(2.0 * (4 + 0) / 2 + 1.0 * 4)
    assert activation_penalty(raw, dropped, ModelConfig(vocab_size=2)) == 0.0
