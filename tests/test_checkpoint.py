from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from lstmtext.core.config import ModelConfig
from lstmtext.core.model import RecurrentLM, detach_state
from lstmtext.errors import BadModelFile
from lstmtext.options import NO_REGULARIZATION
from lstmtext.training.checkpoint import Checkpoint, capture_rng, load_checkpoint, restore_rng, save_checkpoint


def make_run(seed: int = 0):
    torch.manual_seed(seed)
    model = RecurrentLM(ModelConfig(vocab_size=20, layers=2, hidden_size=16, embed_size=16,
                                   regularization=replace(NO_REGULARIZATION, dropout=0.3)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    return model, optimizer


def train_steps(model, optimizer, state, steps: int, batches):
    model.train()
    for index in range(steps):
        tokens = batches[index]
        logits, state = model(tokens[:, :-1], detach_state(state))
        loss = F.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return state


def test_training_continued_from_a_checkpoint_is_bit_identical(tmp_path):
    batches = torch.randint(0, 20, (10, 3, 9), generator=torch.Generator().manual_seed(1))
    model, optimizer = make_run()
    state = train_steps(model, optimizer, None, 4, batches)
    path = tmp_path / "run.ckpt"
    save_checkpoint(path, Checkpoint(model.weights_for_saving(), model.weights_for_saving(), optimizer.state_dict(),
                                     state, capture_rng(), {"main": b"tokenizer bytes"}, {"step": 4}))
    uninterrupted = train_steps(model, optimizer, state, 4, batches[4:])  # dropout draws from the RNG too

    loaded = load_checkpoint(path)
    resumed_model, resumed_optimizer = make_run(seed=99)  # different weights, fresh optimizer
    resumed_model.load_saved_weights(loaded.model)
    resumed_optimizer.load_state_dict(loaded.optimizer)
    restore_rng(loaded.rng)
    resumed = train_steps(resumed_model, resumed_optimizer, loaded.recurrent_state, 4, batches[4:])

    for name, weight in model.state_dict().items():
        assert torch.equal(weight, resumed_model.state_dict()[name]), name
    assert all(torch.equal(a, b) for a, b in zip(uninterrupted, resumed))
    assert loaded.header == {"step": 4} and loaded.tokenizer_blobs == {"main": b"tokenizer bytes"}


def test_a_model_file_is_not_a_checkpoint(tmp_path, tiny_model_path):
    with pytest.raises(BadModelFile, match="not an lstmtext checkpoint"):
        load_checkpoint(tiny_model_path)


def test_gru_state_and_an_empty_state_round_trip(tmp_path):
    model = RecurrentLM(ModelConfig(vocab_size=20, cell="gru", layers=1, hidden_size=8, embed_size=8))
    optimizer = torch.optim.AdamW(model.parameters())
    for state in (torch.randn(1, 2, 8), None):
        save_checkpoint(tmp_path / "g.ckpt", Checkpoint(model.weights_for_saving(), {}, optimizer.state_dict(),
                                                        state, capture_rng(), {}, {}))
        loaded = load_checkpoint(tmp_path / "g.ckpt").recurrent_state
        assert (loaded is None and state is None) or torch.equal(loaded, state)
