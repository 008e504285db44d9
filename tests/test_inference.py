import pytest
import torch

from lstmtext.core.config import ModelConfig
from lstmtext.core.model import RecurrentLM
from lstmtext.decoding.inference import Stepper, expand_state, select_state

# The fused step adds the same numbers in another order: float32 rounding only.
TOLERANCE = dict(rtol=1e-5, atol=1e-5)


def trained_like_model(cell: str = "lstm", embed: int = 24) -> RecurrentLM:
    torch.manual_seed(0)
    model = RecurrentLM(ModelConfig(vocab_size=40, cell=cell, layers=2, hidden_size=24, embed_size=embed))
    with torch.no_grad():  # weights well away from their initial values, as after training
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
    return model.eval()


@pytest.mark.parametrize("cell, embed", [("lstm", 24), ("lstm", 16), ("gru", 24), ("rnn", 24)])
def test_stepping_one_token_at_a_time_matches_the_whole_sequence(cell, embed):
    model = trained_like_model(cell, embed)
    tokens = torch.randint(0, 40, (3, 12))
    with torch.no_grad():
        expected, _ = model(tokens)
    stepper = Stepper(model, int8=False)
    with torch.no_grad():  # the first token through the module: its state must carry over to the step
        _, state = model(tokens[:, :1])
    for position in range(1, 12):
        logits, state = stepper.step(tokens[:, position], state)
        torch.testing.assert_close(torch.softmax(logits, -1), torch.softmax(expected[:, position], -1),
                                   **TOLERANCE)


def test_a_cached_prompt_continues_exactly_like_a_fresh_one():
    model = trained_like_model()
    ids = torch.randint(0, 40, (20,)).tolist()
    cached = Stepper(model)
    cached.prime(ids[:8])
    cached.prime(ids[:14])
    state, from_cache = cached.prime(ids)
    _, fresh = Stepper(model).prime(ids)
    torch.testing.assert_close(from_cache, fresh, **TOLERANCE)
    copies = expand_state(state, 2)
    assert copies[0].shape[1] == 2 and torch.equal(copies[0][:, 0], copies[0][:, 1])


def test_an_edit_far_back_in_a_long_prompt_is_read_from_the_checkpoint_before_it():
    model = trained_like_model()
    ids = torch.randint(0, 40, (1000,)).tolist()
    edited = ids[:700] + [1, 2, 3]
    _, fresh = Stepper(model).prime(edited)
    stepper = Stepper(model)
    stepper.prime(ids)
    read, reading = [], model.read
    model.read = lambda tokens, state: (read.append(tokens.shape[1]), reading(tokens, state))[1]
    _, logits = stepper.prime(edited)
    assert sum(read) == len(edited) - 512  # from the checkpoint at token 512, not from the start
    torch.testing.assert_close(logits, fresh, **TOLERANCE)


def test_selecting_states_reorders_the_streams():
    state = (torch.arange(6.0).view(1, 3, 2), -torch.arange(6.0).view(1, 3, 2))
    chosen = select_state(state, torch.tensor([2, 2, 0]))
    assert chosen[0][0, :, 0].tolist() == [4.0, 4.0, 0.0] and chosen[1][0, :, 0].tolist() == [-4.0, -4.0, 0.0]
    assert select_state(torch.arange(3.0).view(1, 3, 1), torch.tensor([1]))[0, 0, 0] == 1.0


# int8 weights (per output row) move next-token probabilities a little; this bounds by how much.
INT8_PROBABILITY_TOLERANCE = 2e-2


@pytest.mark.parametrize("int8, tolerance", [(False, TOLERANCE), (True, dict(rtol=0, atol=INT8_PROBABILITY_TOLERANCE))])
def test_the_single_stream_step_gives_nn_lstm_probabilities(int8, tolerance):
    model = trained_like_model()
    tokens = torch.randint(0, 40, (30,), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = torch.softmax(model(tokens[None])[0][0], -1)  # (T, V)
    stepper = Stepper(model, int8=int8)
    state, first = stepper.prime(tokens[:1].tolist())
    stream = stepper.single_stream(state)
    assert stream.int8 == int8 or stream.int8 is False  # no quantized engine: the exact path, never an error
    torch.testing.assert_close(torch.softmax(first, -1), expected[0], **TOLERANCE)
    for position in range(1, 30):
        logits = stream.step(int(tokens[position]))
        torch.testing.assert_close(torch.softmax(logits, -1), expected[position], **tolerance)


def test_the_batched_int8_step_stays_near_nn_lstm_probabilities():
    model = trained_like_model()
    tokens = torch.randint(0, 40, (10, 30), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = torch.softmax(model(tokens)[0], -1)  # (B, T, V)
        _, state = model(tokens[:, :1])
    stepper = Stepper(model)
    assert stepper.int8
    for position in range(1, 30):
        alone, _ = stepper.step(tokens[3:4, position], select_state(state, torch.tensor([3])))
        logits, state = stepper.step(tokens[:, position], state)
        torch.testing.assert_close(torch.softmax(logits, -1), expected[:, position], rtol=0,
                                   atol=INT8_PROBABILITY_TOLERANCE)
        assert torch.equal(alone[0], logits[3])  # a row's result does not depend on the rows beside it


def test_other_cells_stream_through_their_module():
    model = trained_like_model("gru")
    stepper = Stepper(model)
    state, _ = stepper.prime([1, 2])
    stream = stepper.single_stream(state)
    with torch.no_grad():
        expected = torch.softmax(model(torch.tensor([[1, 2, 3]]))[0][0, -1], -1)
    torch.testing.assert_close(torch.softmax(stream.step(3), -1), expected, **TOLERANCE)
