"""The continuous-batching engine: requests stepped together get exactly what they get alone, a seeded draw does
not depend on its batch, and one request's failure or cancellation is its own."""

from __future__ import annotations

import pytest
import torch

from lstmtext.decoding.batch import StepRequest
from lstmtext.decoding.drawing import Draw, Uniforms, draw_tokens
from lstmtext.options import CompletionOptions, ContinuationOptions, Sampling

PROMPTS = ["The cat sat on th", "When there is", "A friend in need is a fri", "The"]


@pytest.fixture()
def engine(tiny_model):
    running = tiny_model.engine()
    yield running
    running.close()


def test_requests_batched_together_get_what_they_get_alone(tiny_model, engine):
    greedy = ContinuationOptions(max_tokens=15, sampling=None, stop=("e ",), logprobs=2)
    sampled = ContinuationOptions(max_tokens=15, sampling=Sampling(seed=5))
    ranked = CompletionOptions(n=3, max_tokens=10)
    drawn = CompletionOptions(n=4, max_tokens=10, sampling=Sampling(seed=9))
    kinds = [(tiny_model.continuation_steps, tiny_model.continuation, greedy),
             (tiny_model.continuation_steps, tiny_model.continuation, sampled),
             (tiny_model.complete_steps, tiny_model.complete, ranked),
             (tiny_model.complete_steps, tiny_model.complete, drawn)]
    jobs = [(engine.submit(steps(prompt, options)), alone, prompt, options)
            for prompt in PROMPTS for steps, alone, options in kinds]
    for job, alone, prompt, options in jobs:
        result = job.future.result(timeout=60)
        expected = alone(prompt, options)
        if isinstance(result, list):
            assert [(c.text, round(c.probability, 4)) for c in result] == \
                   [(c.text, round(c.probability, 4)) for c in expected]
        else:
            assert (result.text, result.finish_reason) == (expected.text, expected.finish_reason)
            assert [t.text for t in result.tokens] == [t.text for t in expected.tokens]


def test_text_is_handed_out_as_written_and_adds_up_to_the_result(tiny_model, engine):
    pieces = []
    options = ContinuationOptions(max_tokens=30, stop=("he",), sampling=Sampling(seed=1))
    result = engine.submit(tiny_model.continuation_steps("The", options, on_text=pieces.append)).future.result(60)
    assert "".join(pieces) == result.text and "he" not in result.text


def test_a_seeded_draw_does_not_depend_on_the_rows_beside_it():
    logits = torch.randn(6, 50)

    def draws(rows):
        return draw_tokens(logits[rows], [Draw(Sampling(temperature=1.3, top_p=0.9), Uniforms(
            torch.Generator().manual_seed(row))) for row in rows]).tokens

    together = draws(list(range(6)))
    assert [draws([row])[0] for row in range(6)] == together


def test_a_draw_never_picks_a_token_that_is_not_allowed():
    allowed = torch.zeros(50, dtype=torch.bool)
    allowed[[3, 7]] = True
    for seed in range(50):
        drawn = draw_tokens(torch.randn(1, 50), [Draw(Sampling(), Uniforms(torch.Generator().manual_seed(seed)),
                                                      allowed)])
        assert drawn.tokens[0] in (3, 7) and drawn.token_log_probs[0] <= 0


def test_a_failing_request_fails_alone(tiny_model, engine):
    def broken():
        yield StepRequest([1, 2], None)  # two tokens, no state for them: the step itself fails
        raise AssertionError("never resumed")

    def raising():
        raise ValueError("a search that fails at once")
        yield  # unreachable: makes this a generator

    bad, worse = engine.submit(broken()), engine.submit(raising())
    good = engine.submit(tiny_model.continuation_steps("The", ContinuationOptions(max_tokens=5)))
    with pytest.raises(ValueError, match="fails at once"):
        worse.future.result(60)
    assert good.future.result(60).finish_reason == "length"
    assert bad.future.exception(60) is not None
    after = engine.submit(tiny_model.continuation_steps("The", ContinuationOptions(max_tokens=5)))
    assert after.future.result(60).text  # the engine carries on


def test_a_cancelled_request_is_dropped_at_the_next_step(tiny_model, engine):
    jobs = []
    options = ContinuationOptions(max_tokens=1000, sampling=Sampling(seed=3))
    jobs.append(engine.submit(tiny_model.continuation_steps("The", options, on_text=lambda _: jobs[0].cancel())))
    other = engine.submit(tiny_model.continuation_steps("The", ContinuationOptions(max_tokens=50)))
    assert other.future.result(60).finish_reason == "length"
    assert jobs[0].future.cancelled()
    assert engine.active == 0


def test_a_closed_engine_refuses_new_requests(tiny_model):
    engine = tiny_model.engine()
    engine.close()
    job = engine.submit(tiny_model.continuation_steps("The", ContinuationOptions(max_tokens=5)))
    with pytest.raises(RuntimeError, match="closed"):
        job.future.result(10)
