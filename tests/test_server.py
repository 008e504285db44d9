"""`lstmtext serve` for real: the server started as a user starts it, on a free port, driven by the official
`openai` client and by raw HTTP with requests meant to break it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from .conftest import assert_one_line_error
from .serving import Server

openai = pytest.importorskip("openai")

@pytest.fixture(scope="module")
def server(tiny_model_path, tmp_path_factory):
    running = Server(tiny_model_path, tmp_path_factory.mktemp("serve-home"))
    yield running
    running.stop_cleanly()


@pytest.fixture()
def client(server):
    return openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=30)


def test_models_are_listed_for_the_openai_client(client):
    assert [model.id for model in client.models.list()] == ["tiny"]


def test_a_greedy_completion_is_the_library_s_own(client, tiny_model):
    from lstmtext.options import ContinuationOptions

    answer = client.completions.create(model="tiny", prompt="The cat sat on th", max_tokens=12, temperature=0)
    expected = tiny_model.continuation("The cat sat on th", ContinuationOptions(max_tokens=12, sampling=None))
    assert answer.choices[0].text == expected.text
    assert answer.choices[0].finish_reason == expected.finish_reason == "length"
    assert answer.usage.completion_tokens == 12 and answer.usage.prompt_tokens > 0


def test_n_choices_stop_echo_and_logprobs(client):
    answer = client.completions.create(model="tiny", prompt=["When there is", "The"], n=3, max_tokens=30,
                                       stop=["e", "\n"], echo=True, logprobs=2, seed=4)
    assert [choice.index for choice in answer.choices] == list(range(6))
    for choice in answer.choices:
        prompt = "When there is" if choice.index < 3 else "The"
        assert choice.text.startswith(prompt)
        added = choice.text[len(prompt):]
        assert "e" not in added and "\n" not in added
        assert choice.finish_reason in ("stop", "length")
        logprobs = choice.logprobs
        assert len(logprobs.tokens) == len(logprobs.token_logprobs) == len(logprobs.text_offset)
        assert all(lp <= 0 for lp in logprobs.token_logprobs)
        assert all(len(top) <= 2 for top in logprobs.top_logprobs)
        scored = [token for token, offset in zip(logprobs.tokens, logprobs.text_offset) if offset < len(prompt)]
        assert "".join(scored) == prompt and logprobs.text_offset[0] == 0  # echo: the prompt's tokens first


def test_the_same_seed_gives_the_same_text_and_another_seed_other_text(client):
    def sampled(seed):
        return [c.text for c in client.completions.create(model="tiny", prompt="The", max_tokens=25, n=2,
                                                          temperature=1.0, seed=seed).choices]

    first = sampled(11)
    assert sampled(11) == first
    assert first[0] != first[1]  # each choice has its own draws
    assert sampled(12) != first


def test_streaming_sends_the_text_then_done(client, tiny_model):
    from lstmtext.options import ContinuationOptions

    chunks = list(client.completions.create(model="tiny", prompt="The cat", max_tokens=15, temperature=0,
                                            stream=True))
    text = "".join(chunk.choices[0].text for chunk in chunks)
    assert text == tiny_model.continuation("The cat", ContinuationOptions(max_tokens=15, sampling=None)).text
    assert chunks[-1].choices[0].finish_reason == "length"
    assert len(chunks) > 2


def test_streaming_never_shows_text_past_a_stop_string(server):
    with httpx.stream("POST", f"{server.base_url}/completions", timeout=30,
                      json={"prompt": "The", "max_tokens": 200, "stop": ["he", "e "], "stream": True,
                            "seed": 2}) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line[6:]) for line in lines[:-1]]
    text = "".join(event["choices"][0]["text"] for event in events)
    assert "he" not in text and "e " not in text
    assert events[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_lstmtext_s_own_ranked_completions_match_complete(server, tiny_model):
    answer = httpx.post(f"{server.base_url}/complete", json={"prompt": "When there is fi", "n": 3}, timeout=30)
    assert answer.status_code == 200
    expected = tiny_model.complete("When there is fi", n=3)
    got = answer.json()["completions"]
    assert [c["text"] for c in got] == [c.text for c in expected]
    assert [round(c["probability"], 4) for c in got] == [round(c.probability, 4) for c in expected]


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(server, tiny_model):
    from concurrent.futures import ThreadPoolExecutor

    from lstmtext.options import ContinuationOptions

    prompts = [f"The {word}" for word in ("cat", "dog", "fire", "smoke", "king", "sea", "road", "door")]

    def ask(prompt):
        body = {"prompt": prompt, "max_tokens": 20, "temperature": 0}
        return httpx.post(f"{server.base_url}/completions", json=body, timeout=30).json()["choices"][0]["text"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, prompts * 3))
    expected = [tiny_model.continuation(p, ContinuationOptions(max_tokens=20, sampling=None)).text for p in prompts]
    assert answers == expected * 3
    metrics = httpx.get(f"{server.root}/metrics", timeout=10).text
    batched = re.findall(r'lstmtext_batch_rows_bucket\{le="1.0",model="tiny"\} (\S+)', metrics)
    total = re.findall(r'lstmtext_batch_rows_count\{model="tiny"\} (\S+)', metrics)
    assert float(batched[0]) < float(total[0])  # some steps carried more than one stream


def test_a_client_that_leaves_mid_stream_frees_its_slot(server):
    with httpx.stream("POST", f"{server.base_url}/completions", timeout=30,
                      json={"prompt": "The", "max_tokens": 500, "stream": True}) as response:
        next(response.iter_lines())
    for _ in range(100):
        if httpx.get(f"{server.root}/health", timeout=10).json()["active_requests"] == 0:
            break
        time.sleep(0.05)
    assert httpx.get(f"{server.root}/health", timeout=10).json()["active_requests"] == 0


MALFORMED = [
    ("bad JSON", b"{bad", 400),
    ("a JSON list", b"[1, 2]", 400),
    ("not UTF-8", b'{"prompt": "\xff\xfe"}', 400),
    ("prompt a number", {"prompt": 5}, 400),
    ("prompt token ids", {"prompt": [1, 2, 3]}, 400),
    ("prompt an empty list", {"prompt": []}, 400),
    ("max_tokens a string", {"prompt": "a", "max_tokens": "ten"}, 400),
    ("max_tokens negative", {"prompt": "a", "max_tokens": -1}, 400),
    ("max_tokens zero", {"prompt": "a", "max_tokens": 0}, 400),
    ("max_tokens huge", {"prompt": "a", "max_tokens": 10 ** 12}, 400),
    ("max_tokens a float", {"prompt": "a", "max_tokens": 1.5}, 400),
    ("temperature below 0", {"prompt": "a", "temperature": -0.5}, 400),
    ("temperature a string", {"prompt": "a", "temperature": "hot"}, 400),
    ("top_p above 1", {"prompt": "a", "top_p": 1.5}, 400),
    ("top_p zero", {"prompt": "a", "top_p": 0}, 400),
    ("n zero", {"prompt": "a", "n": 0}, 400),
    ("n huge", {"prompt": "a", "n": 100000}, 400),
    ("n a bool", {"prompt": "a", "n": True}, 400),
    ("stop a number", {"prompt": "a", "stop": 3}, 400),
    ("stop empty", {"prompt": "a", "stop": [""]}, 400),
    ("too many stops", {"prompt": "a", "stop": ["a", "b", "c", "d", "e"]}, 400),
    ("seed negative", {"prompt": "a", "seed": -1}, 400),
    ("seed too large", {"prompt": "a", "seed": 2 ** 70}, 400),
    ("logprobs too many", {"prompt": "a", "logprobs": 50}, 400),
    ("stream a string", {"prompt": "a", "stream": "yes"}, 400),
    ("unknown model", {"prompt": "a", "model": "nope"}, 404),
    ("prompt an object", {"prompt": {"text": "a"}}, 400),
    ("a JSON string", b'"When there is"', 400),
    ("a 10 MB prompt", {"prompt": "x" * 10_000_000}, 413),
]


@pytest.mark.parametrize("why, body, status", MALFORMED, ids=[case[0] for case in MALFORMED])
def test_a_malformed_request_gets_a_4xx_json_error_and_the_server_stays_up(server, why, body, status):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = httpx.post(f"{server.base_url}/completions", content=content, timeout=30,
                        headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["message"] and error["type"]
    assert server.healthy()


@pytest.mark.parametrize("path, method, body, status", [
    ("/v1/complete", "POST", {"prompt": "a", "until": "forever"}, 400),
    ("/v1/complete", "POST", {"prompt": "a", "temperature": 0.5}, 400),
    ("/v1/complete", "POST", {"prompt": "a", "n": 5, "beam_width": 2}, 400),
    ("/v1/complete", "POST", {"n": 2}, 400),
    ("/v1/nothing", "GET", None, 404),
    ("/v1/completions", "GET", None, 405),
    ("/../../etc/passwd", "GET", None, 404),
    ("/v1/chat/completions", "POST", {"messages": []}, 400),
    ("/v1/chat/completions", "POST", {"messages": "When there is"}, 400),
    ("/v1/chat/completions", "POST", {"messages": [{"content": "no role"}]}, 400),
    ("/v1/chat/completions", "POST", {"messages": [{"role": "user", "content": "a"}], "top_logprobs": 2}, 400),
    ("/v1/chat/completions", "POST", {"messages": [{"role": "user", "content": "a"}], "max_tokens": 0}, 400),
    ("/v1/suggest", "POST", {"prompt": "a", "max_chars": 0}, 400),
    ("/v1/suggest", "POST", {"prompt": "a", "session": "made-up"}, 404),
    ("/v1/inspect", "POST", {"text": "a", "layer": 9}, 400),
    ("/v1/inspect", "POST", {"text": "", "count": 0}, 400),
    ("/v1/sessions", "POST", {"model": "nope"}, 404),
    ("/v1/sessions/made-up/read", "POST", {"text": "a"}, 404),
    ("/v1/sessions/made-up", "DELETE", None, 404),
    ("/v1/models/nope", "GET", None, 404),
    ("/page/../../pyproject.toml", "GET", None, 404),
    ("/page/secret.py", "GET", None, 404),
])
def test_other_endpoints_refuse_bad_requests_in_the_same_shape(server, path, method, body, status):
    answer = httpx.request(method, f"{server.root}{path}", json=body, timeout=30)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["message"]
    assert server.healthy()


def test_sigterm_lets_a_request_in_flight_finish(tiny_model_path, tmp_path):
    running = Server(tiny_model_path, tmp_path)
    with httpx.stream("POST", f"{running.base_url}/completions", timeout=30,
                      json={"prompt": "The", "max_tokens": 500, "n": 4, "stream": True}) as response:
        lines = response.iter_lines()
        first = next(lines)
        running.process.send_signal(signal.SIGTERM)
        rest = [line for line in lines if line]
    assert first.startswith("data: ") and rest[-1] == "data: [DONE]"
    assert running.process.wait(timeout=30) == 0
    assert any("stopped" in line for line in running.stderr_lines)


def test_an_api_key_is_required_when_set(tiny_model_path, tmp_path):
    running = Server(tiny_model_path, tmp_path, "--api-key", "s3cret-key-123")
    try:
        refused = httpx.post(f"{running.base_url}/completions", json={"prompt": "a"}, timeout=30)
        assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"
        wrong = openai.OpenAI(base_url=running.base_url, api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.completions.create(model="tiny", prompt="a", max_tokens=2)
        right = openai.OpenAI(base_url=running.base_url, api_key="s3cret-key-123", max_retries=0)
        assert right.completions.create(model="tiny", prompt="a", max_tokens=2).choices[0].text is not None
        assert running.healthy()  # health is open: it says nothing about anyone's text
    finally:
        assert running.stop() == 0


def test_listening_beyond_this_machine_needs_a_key(run, tiny_model_path):
    result = run("serve", "--model", tiny_model_path, "--host", "0.0.0.0")
    assert_one_line_error(result, 2, "--api-key")


def test_a_busy_port_is_a_clear_error(run, server, tiny_model_path):
    port = server.root.rsplit(":", 1)[1]
    assert_one_line_error(run("serve", "--model", tiny_model_path, "--port", port), 2, "in use", "--port")


def _raw(server: Server, data: bytes):
    import socket
    import urllib.parse

    where = urllib.parse.urlsplit(server.root)
    connection = socket.create_connection((where.hostname, where.port), timeout=30)
    connection.sendall(data)
    return connection


def test_a_client_that_goes_away_mid_upload_is_not_a_server_error(server):
    for _ in range(5):
        _raw(server, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000\r\n\r\n{\"prompt\": \"ab").close()
    time.sleep(0.5)
    metrics = httpx.get(f"{server.root}/metrics", timeout=10).text
    assert 'status="500"' not in metrics and 'status="499"' in metrics
    assert not any("Traceback" in line or "Exception" in line for line in server.stderr_lines), server.stderr_lines
    assert server.healthy()


def test_a_head_too_large_is_refused_and_idle_or_half_sent_connections_are_closed(server):
    huge = _raw(server, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
    answer = huge.recv(65536)
    assert answer.startswith(b"HTTP/1.1 431") and b"larger than" in answer
    idle = _raw(server, b"")
    half = _raw(server, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    for connection in (idle, half):
        answer = connection.recv(65536)
        assert answer.startswith(b"HTTP/1.1 408") and connection.recv(1) == b""  # answered, then closed
    assert time.monotonic() - started < 20
    assert server.healthy()


def test_a_body_that_stops_arriving_is_refused():
    import asyncio

    from starlette.requests import Request

    from lstmtext.options import ServeOptions
    from lstmtext.server.requests import ApiError, read_body

    sent = iter([{"type": "http.request", "body": b"{", "more_body": True}])

    async def receive():
        return next(sent, None) or await asyncio.Event().wait()

    async def read():
        return await read_body(Request({"type": "http", "method": "POST", "headers": []}, receive),
                               ServeOptions(body_seconds=0.2))

    with pytest.raises(ApiError) as refused:
        asyncio.run(read())
    assert refused.value.status == 408 and "stopped arriving" in refused.value.message


def test_a_stop_that_cuts_requests_off_says_so(tmp_path, tiny_corpus):
    import lstmtext
    from lstmtext.core.store import ModelStore
    from lstmtext.options import TokenizerConfig, TrainConfig

    slow = tmp_path / "slow.lstm"  # wide enough that 16 × 512 tokens take seconds (the tiny model's took 0.3 s)
    lstmtext.train(tiny_corpus, tokenizer=TokenizerConfig("char"), layers=2, hidden_size=512, out=slow,
                   training=TrainConfig(seq_len=16, batch_size=2, max_steps=1, precision="fp32"),
                   store=ModelStore(root=tmp_path))
    script = ("import sys, lstmtext.server as s; answered = s.serve([sys.argv[1]], port=0, grace_seconds=0.3, "
              "on_ready=lambda options, _: print(options.port, flush=True)); print(answered, flush=True)")
    process = subprocess.Popen([sys.executable, "-c", script, str(slow)], stdout=subprocess.PIPE,
                               text=True, env={**os.environ, "LSTMTEXT_HOME": str(tmp_path)})
    port = int(process.stdout.readline())
    with httpx.stream("POST", f"http://127.0.0.1:{port}/v1/completions", timeout=30,
                      json={"prompt": "The", "max_tokens": 512, "n": 16, "stream": True}) as response:
        lines = response.iter_lines()
        next(lines)
        process.send_signal(signal.SIGTERM)
        time.sleep(1)  # not reading meanwhile: the stream cannot finish within the grace period
        rest = []
        try:
            rest.extend(lines)
        except httpx.HTTPError:
            pass
    assert "data: [DONE]" not in rest  # cut off, unfinished
    assert process.stdout.read().strip() == "False" and process.wait(timeout=30) == 0


def test_a_stop_after_the_answers_says_they_were_answered(tiny_model_path, tmp_path):
    """The client's connection is still open (kept alive) when the server stops: nothing was cut off."""
    script = ("import sys, lstmtext.server as s; answered = s.serve([sys.argv[1]], port=0, grace_seconds=0.3, "
              "on_ready=lambda options, _: print(options.port, flush=True)); print(answered, flush=True)")
    process = subprocess.Popen([sys.executable, "-c", script, str(tiny_model_path)], stdout=subprocess.PIPE,
                               text=True, env={**os.environ, "LSTMTEXT_HOME": str(tmp_path)})
    port = int(process.stdout.readline())
    with httpx.Client(timeout=30) as client:
        answer = client.post(f"http://127.0.0.1:{port}/v1/completions", json={"prompt": "The", "max_tokens": 4})
        assert answer.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.stdout.read().strip() == "True" and process.wait(timeout=30) == 0
