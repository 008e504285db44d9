"""`lstmtext lsp` for real: the server started over stdio as an editor starts it, driven by pygls's client —
typing one character at a time, asking for ghost text and a menu at every step."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest
from lsprotocol import types

lsp_client = pytest.importorskip("pygls.lsp.client")

URI = "file:///notes/letter.txt"
TYPED = "When there is fi"
PATIENT = {"budgetMs": 20_000}  # a slow CI machine must not turn answers into timeouts


def change(version: int, line: int, character: int, text: str) -> types.DidChangeTextDocumentParams:
    at = types.Position(line=line, character=character)
    return types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=version),
        content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at), text=text)])


async def started(model_path, home, settings: dict):
    client = lsp_client.LanguageClient("lstmtext-tests", "1")
    await client.start_io(sys.executable, "-m", "lstmtext", "lsp", "--model", str(model_path),
                          env={**os.environ, "LSTMTEXT_HOME": str(home)})
    messages = []
    client.feature(types.WINDOW_SHOW_MESSAGE)(lambda params: messages.append(params.message))
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(),
                                                         initialization_options=settings))
    client.initialized(types.InitializedParams())
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=URI, language_id="plaintext", version=1, text="")))
    return client, messages


async def stopped(client) -> None:
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()


def inline_params(character: int, line: int = 0) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        text_document=types.TextDocumentIdentifier(uri=URI), position=types.Position(line=line, character=character))


def test_each_keystroke_gets_the_library_s_ghost_text_and_menu(tiny_model_path, tiny_model, tmp_path):
    async def typing():
        client, _ = await started(tiny_model_path, tmp_path, {**PATIENT, "n": 3, "until": "word"})
        answers = []
        for index, character in enumerate(TYPED):
            client.text_document_did_change(change(index + 2, 0, index, character))
            ghost = await client.text_document_inline_completion_async(inline_params(index + 1))
            menu = await client.text_document_completion_async(types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=URI), position=types.Position(line=0,
                                                                                            character=index + 1)))
            answers.append((ghost, menu))
        await stopped(client)
        return answers

    answers = asyncio.run(typing())
    for end, (ghost, menu) in zip(range(1, len(TYPED) + 1), answers):
        prefix = TYPED[:end]
        expected = tiny_model.suggest(prefix)
        assert (ghost.items[0].insert_text if ghost else "") == expected, prefix
        ranked = [c for c in tiny_model.complete(prefix, n=3, until="word", max_tokens=16) if c.text]
        word = prefix[len(prefix.rstrip("abcdefghijklmnopqrstuvwxyzW")):]
        assert [item.text_edit.new_text for item in (menu.items if menu else [])] == [word + c.text for c in ranked]


def test_bad_settings_a_foreign_file_type_and_odd_positions_never_crash_it(tiny_model_path, tmp_path):
    async def odd():
        client, messages = await started(tiny_model_path, tmp_path, {**PATIENT, "n": "three"})
        client.text_document_did_change(change(2, 0, 0, "Καλημέρα κόσμε, 你好"))
        unseen = await client.text_document_inline_completion_async(inline_params(18))
        beyond = await client.text_document_inline_completion_async(inline_params(0, line=40))
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
            settings={"lstmtext": {"fileTypes": ["markdown"]}}))
        foreign = await client.text_document_inline_completion_async(inline_params(18))
        await stopped(client)
        return messages, unseen, beyond, foreign

    messages, unseen, beyond, foreign = asyncio.run(odd())
    assert any("n 'three'" in message for message in messages)
    assert unseen is None or isinstance(unseen.items[0].insert_text, str)
    assert beyond is None and foreign is None


def test_the_line_after_a_last_line_break_is_a_place_to_write(tiny_model_path, tiny_model, tmp_path):
    text = "The cat sat on the mat.\n"

    async def on_a_new_line():
        client, _ = await started(tiny_model_path, tmp_path, PATIENT)
        client.text_document_did_change(change(2, 0, 0, text))
        answer = await client.text_document_inline_completion_async(inline_params(0, line=1))
        await stopped(client)
        return answer

    expected = tiny_model.suggest(text)
    assert expected
    assert asyncio.run(on_a_new_line()).items[0].insert_text == expected


def test_a_request_over_its_budget_answers_nothing(tiny_model_path, tmp_path):
    async def hurried():
        client, _ = await started(tiny_model_path, tmp_path, {"budgetMs": 1, "ghostChars": 2000})
        client.text_document_did_change(change(2, 0, 0, "The " * 500))
        answer = await client.text_document_inline_completion_async(inline_params(2000))
        await stopped(client)
        return answer

    assert asyncio.run(hurried()) is None


def test_the_budget_rises_to_what_the_model_needs_on_this_machine(tiny_model_path, tmp_path):
    async def twice():
        client, _ = await started(tiny_model_path, tmp_path, {"budgetMs": 1, "ghostChars": 200})
        client.text_document_did_change(change(2, 0, 0, "The cat sat on the mat. " * 20))
        first = await client.text_document_inline_completion_async(inline_params(480))
        await asyncio.sleep(1)  # the first answer, too late, is still measured
        second = await client.text_document_inline_completion_async(inline_params(480))
        await stopped(client)
        return first, second

    first, second = asyncio.run(twice())
    assert first is None and second.items[0].insert_text


def test_a_cancelled_request_answers_that_it_was_cancelled(tiny_model_path, tmp_path):
    from pygls.exceptions import JsonRpcRequestCancelled

    async def cancelled():
        client, _ = await started(tiny_model_path, tmp_path, {**PATIENT, "ghostChars": 400})
        client.text_document_did_change(change(2, 0, 0, "The cat sat on the mat. " * 200))
        asking = asyncio.ensure_future(client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(4800), msg_id="superseded"))
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="superseded"))
        try:
            outcome = await asking
        except JsonRpcRequestCancelled:
            outcome = "cancelled"
        after = await client.text_document_inline_completion_async(inline_params(3))
        await stopped(client)
        return outcome, after

    outcome, after = asyncio.run(cancelled())
    assert outcome == "cancelled"
    assert after is None or isinstance(after.items[0].insert_text, str)  # the server carries on


def test_with_adapt_each_document_learns_its_finished_lines(tiny_model_path, tiny_model, tmp_path):
    line = "The wizard Zorbulax came down the hill, and Zorbulax sat.\n"

    async def adapting():
        client, _ = await started(tiny_model_path, tmp_path, {**PATIENT, "adapt": True})
        client.text_document_did_change(change(2, 0, 0, line))
        client.text_document_did_change(change(3, 1, 0, "Then Zor"))
        answers = []
        for _ in range(20):  # the session learns in the background: ask until it has
            ghost = await client.text_document_inline_completion_async(inline_params(8, line=1))
            answers.append(ghost.items[0].insert_text if ghost else "")
            await asyncio.sleep(0.1)
        await stopped(client)
        return answers

    session = tiny_model.session()
    session.read(line, wait=True)
    assert session.learned_texts == 1
    learned = session.suggest(line + "Then Zor")
    assert learned != tiny_model.suggest(line + "Then Zor")  # reading the line changed the answer
    answers = asyncio.run(adapting())
    assert answers[-1] == learned


class RawServer:
    """`lstmtext lsp` over its stdin and stdout, byte by byte, as no well-behaved client would talk to it."""

    def __init__(self, model_path, home):
        import subprocess

        self.process = subprocess.Popen([sys.executable, "-m", "lstmtext", "lsp", "--model", str(model_path)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        env={**os.environ, "LSTMTEXT_HOME": str(home)})

    def write(self, data: bytes) -> None:
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def send(self, message: dict, *, jsonrpc: bool = True) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message} if jsonrpc else message).encode()
        self.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def answer(self) -> dict:
        length = int(self.process.stdout.readline().split(b":")[1])
        while self.process.stdout.readline().strip():
            pass
        return json.loads(self.process.stdout.read(length))

    def answer_to(self, request_id) -> dict:
        while (message := self.answer()).get("id") != request_id:
            assert message.get("method") != "window/showMessage", message  # pygls's way of not answering
        return message

    def inline(self, request_id, params) -> dict:
        self.send({"id": request_id, "method": "textDocument/inlineCompletion", "params": params})
        return self.answer_to(request_id)

    def start(self, text: str = "The cat") -> None:
        self.send({"id": 1, "method": "initialize", "params": {"capabilities": {}, "initializationOptions": PATIENT}})
        assert "capabilities" in self.answer()["result"]
        self.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": URI, "languageId": "plaintext", "version": 1, "text": text}}})

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


POSITION = {"line": 0, "character": 7}
CONTEXT = {"triggerKind": 1}
GOOD_INLINE = {"textDocument": {"uri": URI}, "position": POSITION, "context": CONTEXT}


@pytest.fixture()
def raw_server(tiny_model_path, tmp_path):
    server = RawServer(tiny_model_path, tmp_path)
    yield server
    server.close()


def test_malformed_requests_get_errors_and_the_server_carries_on(raw_server):
    """Each malformed request gets an error response (never left unanswered: an editor would wait for it); the
    server goes on answering."""
    raw_server.start()
    for request_id, params in enumerate([{"textDocument": {"uri": URI}}, {"position": "here"}, [1, 2, 3],
                                         {"textDocument": {"uri": URI}, "position": {"line": -1},
                                          "context": CONTEXT}], start=2):
        assert raw_server.inline(request_id, params)["error"]["code"] == -32602
    never_opened = {"textDocument": {"uri": "file:///etc/passwd"}, "position": POSITION, "context": CONTEXT}
    assert raw_server.inline(10, never_opened).get("result") is None  # never read from disk
    assert "result" in raw_server.inline(11, GOOD_INLINE)


def _short(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body) - 5, body)


@pytest.mark.parametrize("frame, error", [
    (_short, -32700),  # Content-Length 5 bytes short: the body is not JSON, and the rest is stray bytes
    (lambda body: b"Content-Length: abc\r\n\r\n" + body, None),  # no length: the frame cannot be read
    (lambda body: b"content-length: %d\r\n\r\n%s" % (len(body), body), "answered"),
    (lambda body: b"Content-Length: %d\n\n%s" % (len(body), body), "answered"),  # LF-only line ends
    (lambda body: b"garbage\r\n\r\nContent-Type: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body),
     "answered"),
])
def test_after_a_malformed_frame_the_next_request_is_answered(raw_server, frame, error):
    raw_server.start()
    body = json.dumps({"jsonrpc": "2.0", "id": 5, "method": "textDocument/inlineCompletion",
                       "params": GOOD_INLINE}).encode()
    raw_server.write(frame(body))
    if error == "answered":  # a frame any lenient reader can read is read
        assert "result" in raw_server.answer_to(5)
    elif error is not None:
        refused = raw_server.answer()
        assert refused["error"]["code"] == error and refused["id"] is None
    assert "result" in raw_server.inline(6, GOOD_INLINE)


def test_requests_that_break_the_protocol_s_rules_are_answered(raw_server):
    raw_server.start()
    raw_server.send({"id": 2, "method": "textDocument/inlineCompletion", "params": GOOD_INLINE}, jsonrpc=False)
    assert raw_server.answer_to(2)["error"]["code"] == -32600
    raw_server.write(b"Content-Length: 5\r\n\r\n[1,2]")
    assert raw_server.answer()["error"]["code"] == -32600
    raw_server.send({"id": 3, "method": "initialize", "params": {"capabilities": {}}})
    assert raw_server.answer_to(3)["error"]["code"] == -32600
    assert raw_server.inline(4, GOOD_INLINE)["result"]["items"]  # the open document is still there
    raw_server.send({"id": 5, "method": "shutdown"})
    assert raw_server.answer_to(5)["result"] is None
    assert raw_server.inline(6, GOOD_INLINE)["error"]["code"] == -32600
    raw_server.send({"method": "exit"})
    assert raw_server.process.wait(timeout=30) == 0


def test_a_menu_item_finishes_the_half_typed_word_and_shows_a_line_break_as_a_mark():
    from lstmtext import Completion
    from lstmtext.lsp.server import menu_items

    found = [Completion("Dear fr", "iend,\nThank", 0.5, ()), Completion("Dear fr", "", 0.1, ())]
    [item] = menu_items("Dear fr", found, types.Position(line=3, character=7))
    assert item.label == "friend,⏎Thank" and item.detail == "50.0%"
    assert item.text_edit.new_text == "friend,\nThank"
    assert (item.text_edit.range.start.character, item.text_edit.range.end.character) == (5, 7)
