"""`lstmtext lsp` for real: the server started over stdio as an editor starts it, driven by pygls's client —
typing one character at a time, asking for ghost text and a menu at every step."""

from __future__ import annotations

import asyncio
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


def test_malformed_requests_get_errors_and_the_server_carries_on(tiny_model_path, tmp_path):
    """Raw JSON-RPC over the server's stdin, as no well-behaved client would send it: each malformed request gets
    an error response (never left unanswered: an editor would wait for it); the server goes on answering."""
    import json
    import subprocess

    server = subprocess.Popen([sys.executable, "-m", "lstmtext", "lsp", "--model", str(tiny_model_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ,
                                                                                  "LSTMTEXT_HOME": str(tmp_path)})

    def send(message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        server.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        server.stdin.flush()

    def answer() -> dict:
        length = int(server.stdout.readline().split(b":")[1])
        while server.stdout.readline().strip():
            pass
        return json.loads(server.stdout.read(length))

    def inline(request_id, params) -> dict:
        send({"id": request_id, "method": "textDocument/inlineCompletion", "params": params})
        while (message := answer()).get("id") != request_id:
            assert message.get("method") != "window/showMessage", message  # pygls's way of not answering
        return message

    try:
        send({"id": 1, "method": "initialize", "params": {"capabilities": {}, "initializationOptions": PATIENT}})
        assert "capabilities" in answer()["result"]
        send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": URI, "languageId": "plaintext", "version": 1, "text": "The cat"}}})
        position = {"line": 0, "character": 7}
        context = {"triggerKind": 1}
        for request_id, params in enumerate([{"textDocument": {"uri": URI}}, {"position": "here"}, [1, 2, 3],
                                             {"textDocument": {"uri": URI}, "position": {"line": -1},
                                              "context": context}], start=2):
            assert inline(request_id, params)["error"]["code"] == -32602
        never_opened = {"textDocument": {"uri": "file:///etc/passwd"}, "position": position, "context": context}
        assert inline(10, never_opened).get("result") is None  # never read from disk
        assert "result" in inline(11, {"textDocument": {"uri": URI}, "position": position, "context": context})
    finally:
        server.kill()
        server.wait()


def test_a_menu_item_finishes_the_half_typed_word_and_shows_a_line_break_as_a_mark():
    from lstmtext import Completion
    from lstmtext.lsp.server import menu_items

    found = [Completion("Dear fr", "iend,\nThank", 0.5, ()), Completion("Dear fr", "", 0.1, ())]
    [item] = menu_items("Dear fr", found, types.Position(line=3, character=7))
    assert item.label == "friend,⏎Thank" and item.detail == "50.0%"
    assert item.text_edit.new_text == "friend,\nThank"
    assert (item.text_edit.range.start.character, item.text_edit.range.end.character) == (5, 7)
