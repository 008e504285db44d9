"""What every OpenAI client expects of `lstmtext serve`, checked against a real server with the official `openai`
client and raw HTTP: chat completions (whole and streamed), one model's entry, CORS, logprobs in streamed chunks,
the usage chunk, scoring a prompt with echo + logprobs, a default length that means the same amount of text at
every level, and a 400 for a field the server does not implement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import torch

from .serving import Server

openai = pytest.importorskip("openai")


@pytest.fixture(scope="module")
def server(tiny_model_path, tmp_path_factory):
    running = Server(tiny_model_path, tmp_path_factory.mktemp("serve-home"), "--cors", "http://localhost:3000")
    yield running
    running.stop_cleanly()


@pytest.fixture()
def client(server):
    return openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=30)


def _events(server: Server, path: str, body: dict) -> list[dict]:
    with httpx.stream("POST", f"{server.base_url}/{path}", json=body, timeout=30) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[6:]) for line in lines[:-1]]


def test_a_chat_answer_is_the_model_s_continuation_of_the_user_s_text(client, tiny_model):
    answer = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "The cat"}],
                                            max_tokens=12, temperature=0)
    expected = tiny_model.continuation("The cat", max_tokens=12, sampling=None, finish_word=False)
    assert answer.object == "chat.completion"
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content == expected.text
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage.completion_tokens == 12


def test_a_conversation_is_rendered_as_one_text_in_the_documented_way(client, tiny_model):
    messages = [{"role": "system", "content": "The king"}, {"role": "user", "content": "The cat"},
                {"role": "assistant", "content": " sat"}, {"role": "user", "content": [{"type": "text",
                                                                                           "text": "When"}]}]
    answer = client.chat.completions.create(model="tiny", messages=messages, max_tokens=8, temperature=0)
    expected = tiny_model.continuation("The king\n\nThe cat sat\n\nWhen", max_tokens=8, sampling=None,
                                        finish_word=False)
    assert answer.choices[0].message.content == expected.text


def test_a_streamed_chat_answer_adds_up_to_the_whole_one(client):
    asked = {"model": "tiny", "messages": [{"role": "user", "content": "The"}], "max_tokens": 20, "seed": 3}
    whole = client.chat.completions.create(**asked)
    chunks = list(client.chat.completions.create(**asked, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == whole.choices[0].finish_reason
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)


def test_streamed_logprobs_equal_the_unstreamed_ones_for_the_same_seed(client):
    asked = {"model": "tiny", "prompt": "The cat", "max_tokens": 25, "seed": 7, "logprobs": 2, "stop": ["e "]}
    whole = client.completions.create(**asked).choices[0].logprobs
    chunks = list(client.completions.create(**asked, stream=True))
    streamed = [chunk.choices[0].logprobs for chunk in chunks if chunk.choices[0].logprobs is not None]
    assert [token for part in streamed for token in part.tokens] == whole.tokens
    assert [lp for part in streamed for lp in part.token_logprobs] == whole.token_logprobs
    assert [top for part in streamed for top in part.top_logprobs] == whole.top_logprobs
    assert [offset for part in streamed for offset in part.text_offset] == whole.text_offset


def test_streamed_chat_logprobs_equal_the_unstreamed_ones(client):
    asked = {"model": "tiny", "messages": [{"role": "user", "content": "The"}], "max_tokens": 15, "seed": 5,
             "logprobs": True, "top_logprobs": 2}
    whole = client.chat.completions.create(**asked).choices[0].logprobs.content
    chunks = list(client.chat.completions.create(**asked, stream=True))
    streamed = [entry for chunk in chunks if chunk.choices[0].logprobs
                for entry in chunk.choices[0].logprobs.content]
    assert [(e.token, e.logprob, [(t.token, t.logprob) for t in e.top_logprobs]) for e in streamed] == \
        [(e.token, e.logprob, [(t.token, t.logprob) for t in e.top_logprobs]) for e in whole]
    assert len(whole) == 15 and all(len(e.top_logprobs) == 2 for e in whole)


def test_include_usage_sends_a_last_chunk_with_the_usage(server):
    events = _events(server, "completions", {"prompt": "The", "max_tokens": 9, "n": 2, "stream": True,
                                             "logprobs": 0, "stream_options": {"include_usage": True}})
    streamed = sum(len(choice["logprobs"]["tokens"]) for event in events for choice in event["choices"]
                   if choice["logprobs"])
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == streamed >= 18
    assert all(event["usage"] is None for event in events[:-1])
    assert "usage" not in _events(server, "completions", {"prompt": "The", "max_tokens": 3, "stream": True})[-1]


def _manual_log_probs(model, text: str) -> list[float]:
    """Each token's log-probability after "\\n" + text, the model run over it in one go."""
    ids = model.tokenizer.encode("\n" + text)
    with torch.no_grad():
        logits, _ = model.model(torch.tensor([ids[:-1]]))
    return torch.log_softmax(logits[0].float(), -1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].tolist()


@pytest.mark.parametrize("text", ["The cat sat on the mat.", "The quick king. " * 80])  # 1 and 3 windows
def test_echo_with_logprobs_and_no_tokens_scores_the_prompt(client, tiny_model, text):
    answer = client.completions.create(model="tiny", prompt=text, max_tokens=0, echo=True, logprobs=1)
    choice = answer.choices[0]
    assert choice.text == text
    assert "".join(choice.logprobs.tokens) == text
    assert choice.logprobs.token_logprobs == pytest.approx(_manual_log_probs(tiny_model, text), abs=1e-4)
    tokens = choice.logprobs.tokens
    assert choice.logprobs.text_offset == [len("".join(tokens[:i])) for i in range(len(tokens))]
    assert answer.usage.completion_tokens == 0


def test_echo_with_logprobs_scores_the_prompt_then_the_continuation(client):
    choice = client.completions.create(model="tiny", prompt="The cat", max_tokens=5, echo=True, logprobs=0,
                                       temperature=0).choices[0]
    assert len(choice.logprobs.tokens) == len("The cat") + 5
    assert "".join(choice.logprobs.tokens) == choice.text
    assert choice.logprobs.text_offset == list(range(len(choice.text)))


def test_no_tokens_without_echo_is_refused(client):
    with pytest.raises(openai.BadRequestError, match="max_tokens 0 is outside 1"):
        client.completions.create(model="tiny", prompt="The", max_tokens=0)


def test_the_default_length_is_the_same_amount_of_text_at_every_level(client, tiny_model):
    from lstmtext.options import CONTINUATION_CHARS

    answer = client.completions.create(model="tiny", prompt="The", temperature=0)
    assert tiny_model.tokens_for_chars(CONTINUATION_CHARS) == CONTINUATION_CHARS  # a char model: a token a char
    assert CONTINUATION_CHARS <= answer.usage.completion_tokens <= CONTINUATION_CHARS + 3  # + a character's end
    assert tiny_model.continuation("The", sampling=None).text == answer.choices[0].text


@pytest.mark.parametrize("field, value", [("logit_bias", {"50": 5}), ("presence_penalty", 0.5),
                                          ("frequency_penalty", -1), ("best_of", 3), ("suffix", " end.")])
def test_a_field_the_server_does_not_implement_is_refused_by_name(server, field, value):
    response = httpx.post(f"{server.base_url}/completions", json={"prompt": "The", field: value}, timeout=30)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == field
    assert f"{field} is not implemented" in response.json()["error"]["message"]


def test_fields_at_the_value_that_changes_nothing_are_accepted(server):
    body = {"prompt": "The", "max_tokens": 2, "presence_penalty": 0, "frequency_penalty": 0.0, "logit_bias": {},
            "best_of": 1, "user": "someone"}
    assert httpx.post(f"{server.base_url}/completions", json=body, timeout=30).status_code == 200


def test_chat_refuses_tools_and_pictures_and_unknown_fields(server):
    for extra, param in [({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
                         ({"temprature": 1}, "temprature")]:
        response = httpx.post(f"{server.base_url}/chat/completions", timeout=30,
                              json={"messages": [{"role": "user", "content": "The"}], **extra})
        assert response.status_code == 400 and response.json()["error"]["param"] == param
    picture = [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]
    response = httpx.post(f"{server.base_url}/chat/completions", timeout=30,
                          json={"messages": [{"role": "user", "content": picture}]})
    assert response.status_code == 400 and "text only" in response.json()["error"]["message"]


def test_one_model_s_entry(client):
    assert client.models.retrieve("tiny").id == "tiny"
    with pytest.raises(openai.NotFoundError, match="not loaded here"):
        client.models.retrieve("other")


def test_cors_lets_only_the_named_origin_in(server, tiny_model_path, tmp_path):
    asked = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization,content-type"}
    preflight = httpx.options(f"{server.base_url}/chat/completions", headers=asked, timeout=30)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
    answer = httpx.post(f"{server.base_url}/completions", json={"prompt": "The", "max_tokens": 2}, timeout=30,
                        headers={"Origin": "http://localhost:3000"})
    assert answer.headers["access-control-allow-origin"] == "http://localhost:3000"
    other = httpx.options(f"{server.base_url}/completions", headers={**asked, "Origin": "http://evil.test"})
    assert "access-control-allow-origin" not in other.headers
    closed = Server(tiny_model_path, tmp_path)  # no --cors: no origin but the server's own
    try:
        refused = httpx.options(f"{closed.base_url}/completions", headers=asked, timeout=30)
        assert refused.status_code >= 400 and "access-control-allow-origin" not in refused.headers
    finally:
        assert closed.stop() == 0


def test_ghost_text_and_inspection_are_the_library_s(server, tiny_model):
    suggested = httpx.post(f"{server.base_url}/suggest", json={"prompt": "The ca", "max_chars": 20}, timeout=30)
    assert suggested.json()["text"] == tiny_model.suggest("The ca", max_chars=20)
    inspected = httpx.post(f"{server.base_url}/inspect", json={"text": "The cat sat.", "show": "cell", "count": 4},
                           timeout=30).json()
    expected = tiny_model.inspect("The cat sat.", show="cell", count=4).to_dict()
    assert inspected["tokens"] == expected["tokens"] and inspected["units"] == expected["units"]
    assert sum(inspected["values"], []) == pytest.approx(sum(expected["values"], []), abs=1e-5)
    refused = httpx.post(f"{server.base_url}/inspect", json={"text": "The", "show": "gates"}, timeout=30)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "show"


def test_a_writing_session_learns_answers_and_closes(server, tiny_model):
    started = httpx.post(f"{server.base_url}/sessions", json={"model": "tiny"}, timeout=30)
    assert started.status_code == 201
    key = started.json()["id"]
    assert httpx.get(f"{server.root}/health", timeout=30).json()["writing_sessions"] == 1
    for _ in range(3):
        read = httpx.post(f"{server.base_url}/sessions/{key}/read", json={"text": "The cat sat on the mat.\n"},
                          timeout=30)
        assert read.status_code == 200
    suggested = httpx.post(f"{server.base_url}/suggest", json={"session": key, "prompt": "The ca"}, timeout=30)
    assert suggested.status_code == 200 and suggested.json()["model"] == "tiny"
    ranked = httpx.post(f"{server.base_url}/complete", json={"session": key, "prompt": "The ca", "n": 2}, timeout=30)
    assert len(ranked.json()["completions"]) == 2
    assert httpx.delete(f"{server.base_url}/sessions/{key}", timeout=30).json()["closed"] is True
    gone = httpx.post(f"{server.base_url}/suggest", json={"session": key, "prompt": "The ca"}, timeout=30)
    assert gone.status_code == 404 and gone.json()["error"]["param"] == "session"
    assert httpx.get(f"{server.root}/health", timeout=30).json()["writing_sessions"] == 0


@pytest.mark.parametrize("entry, prompt", [("lstmtext", "The cat"), ("lstmtext-completion", "The ca")])
def test_simonw_s_llm_answers_through_a_chat_or_completion_entry(server, tmp_path, entry, prompt):
    llm = Path(sys.executable).parent / "llm"
    if not llm.exists():
        pytest.skip("simonw's llm is not installed (pip install -e '.[dev]')")
    (tmp_path / "extra-openai-models.yaml").write_text(
        f'- model_id: lstmtext\n  model_name: tiny\n  api_base: "{server.base_url}"\n'
        f'- model_id: lstmtext-completion\n  model_name: tiny\n  api_base: "{server.base_url}"\n  completion: true\n')
    for streaming in ([], ["--no-stream"]):
        answered = subprocess.run([str(llm), "-m", entry, *streaming, "-o", "max_tokens", "12", prompt],
                                  capture_output=True, text=True, timeout=120,
                                  env={**os.environ, "LLM_USER_PATH": str(tmp_path), "OPENAI_API_KEY": "unused"})
        assert answered.returncode == 0, answered.stderr
        assert answered.stdout.strip(), answered.stderr
