"""The language server (pygls): `textDocument/inlineCompletion` answers with `lm.suggest()` of the text before
the cursor, `textDocument/completion` with `lm.complete()`'s ranked continuations (probability in the detail).
Documents are synced incrementally; the model's prompt cache keeps the recurrent state of what it read, so a
keystroke reads only the new tokens. With `adapt`, each document has a writing session (`lm.session()`) that
learns every line finished in it, in the background, and answers from what it has learned. Each request runs on
one worker thread within a time budget; a cancelled request (an editor cancels one a newer keystroke supersedes)
answers RequestCancelled. Settings: `EditorOptions`, from initializationOptions
and workspace/didChangeConfiguration. Uses only the public API and option types.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import re
import time
from collections.abc import Callable
from typing import BinaryIO
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from .. import Completion, LanguageModel, Session, __version__, load
from ..errors import LstmtextError
from ..options import EditorOptions
from .protocol import AnsweringProtocol, serve_stdio

_WORD_END = re.compile(r"\w+\Z")
_TIMINGS = 20  # answers the budget is measured over


class _Editor:
    """The server's state: settings, the model they name, the worker thread that runs it."""

    def __init__(self, load_model: Callable[[str | None], LanguageModel]) -> None:
        self.load_model, self.options, self.model = load_model, EditorOptions(), None
        self.worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="lstmtext-lsp")
        self.sessions: dict[str, Session] = {}  # with `adapt`: a writing session per document
        self.learned: dict[str, int] = {}  # how much of each document its session has read
        self.timings: collections.deque[float] = collections.deque(maxlen=_TIMINGS)  # recent answers, seconds

    def configure(self, settings: object) -> None:
        options = EditorOptions.from_settings(settings, self.options)
        if self.model is None or options.model != self.options.model:
            self.model = self.load_model(options.model)
            self.forget_all()
        self.options = options
        if not options.adapt:
            self.forget_all()

    def serves(self, language_id: str) -> bool:
        return not self.options.file_types or language_id in self.options.file_types

    def writer(self, uri: str) -> LanguageModel | Session:
        """What answers for a document: its session when adapting, else the model."""
        if not self.options.adapt:
            return self.model
        if uri not in self.sessions:
            self.sessions[uri] = self.model.session()
        return self.sessions[uri]

    def learn_finished_lines(self, uri: str, text: str) -> None:
        """Hand the document's session the lines finished since it last read (from the start if text before
        them was edited away)."""
        start, end = self.learned.get(uri, 0), text.rfind("\n") + 1
        start = start if start <= end else 0
        if end > start:
            self.writer(uri).read(text[start:end])
            self.learned[uri] = end

    def forget(self, uri: str) -> None:
        if (session := self.sessions.pop(uri, None)) is not None:
            session.close()
        self.learned.pop(uri, None)

    def forget_all(self) -> None:
        for uri in list(self.sessions):
            self.forget(uri)

    def close(self) -> None:
        """Stop learning and answering: each session's worker, then this one (after the call it runs now)."""
        self.forget_all()
        self.worker.shutdown(wait=True, cancel_futures=True)

    def _timed(self, call: Callable[[], object]) -> object | None:
        started = time.perf_counter()
        try:
            return _safely(call)
        finally:
            self.timings.append(time.perf_counter() - started)

    async def run(self, call: Callable[[], object]) -> object | None:
        """`call()` on the worker, or None if it takes longer than the budget (`EditorOptions.budget_seconds`)
        or the library refuses it."""
        future = asyncio.get_running_loop().run_in_executor(self.worker, self._timed, call)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.options.budget_seconds(self.timings))
        except TimeoutError:
            return None


class _LanguageServer(LanguageServer):
    """pygls's server, reading stdio with `serve_stdio` and, however it ends (`exit`, stdin closed, SIGTERM), closing
    the documents' sessions and the worker before the interpreter exits."""

    def __init__(self, editor: _Editor) -> None:
        super().__init__("lstmtext", __version__, protocol_cls=AnsweringProtocol)
        self.editor = editor

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        try:
            serve_stdio(self.protocol, stdin, stdout)
        finally:
            self.shutdown()
            self.editor.close()


def language_server(load_model: Callable[[str | None], LanguageModel] = load) -> LanguageServer:
    editor = _Editor(load_model)
    server = _LanguageServer(editor)
    _add_settings_and_documents(server, editor)
    _add_completions(server, editor)
    return server


def _add_settings_and_documents(server: LanguageServer, editor: _Editor) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: LanguageServer, params: types.InitializeParams) -> None:
        _tell_errors(ls, lambda: editor.configure(params.initialization_options))

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def configuration(ls: LanguageServer, params: types.DidChangeConfigurationParams) -> None:
        _tell_errors(ls, lambda: editor.configure(params.settings))

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def opened(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        """Read the document in the background: the first keystroke anywhere in it then reads only from the
        model's checkpoint before it."""
        document = params.text_document
        if document.text and editor.model is not None and editor.serves(document.language_id):
            writer = editor.writer(document.uri)
            editor.worker.submit(_safely, lambda: writer.suggest(document.text, max_chars=1))

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def changed(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        if editor.options.adapt and editor.model is not None and any(
                "\n" in change.text for change in params.content_changes):
            uri = params.text_document.uri
            _safely(lambda: editor.learn_finished_lines(uri, ls.workspace.get_text_document(uri).source))

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def closed(ls: LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        editor.forget(params.text_document.uri)


def _add_completions(server: LanguageServer, editor: _Editor) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION)
    async def inline(ls: LanguageServer, params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
        prefix = _text_before(ls, editor, params.text_document.uri, params.position)
        if prefix is None:
            return None
        writer = editor.writer(params.text_document.uri)
        ghost = await editor.run(lambda: writer.suggest(prefix, max_chars=editor.options.ghost_chars))
        if not ghost:
            return None
        at = types.Range(start=params.position, end=params.position)
        return types.InlineCompletionList(items=[types.InlineCompletionItem(insert_text=ghost, range=at)])

    @server.feature(types.TEXT_DOCUMENT_COMPLETION)
    async def menu(ls: LanguageServer, params: types.CompletionParams) -> types.CompletionList | None:
        prefix = _text_before(ls, editor, params.text_document.uri, params.position)
        if prefix is None:
            return None
        options, writer = editor.options, editor.writer(params.text_document.uri)
        found = await editor.run(lambda: writer.complete(prefix, n=options.n, until=options.until,
                                                         max_tokens=options.max_tokens))
        if not found:
            return None
        return types.CompletionList(is_incomplete=True, items=menu_items(prefix, found, params.position))


def menu_items(prefix: str, found: list[Completion], position: types.Position) -> list[types.CompletionItem]:
    """Completion items for `found`, ranked: each replaces the half-typed word before the cursor with that word
    finished, its label showing a line break as ⏎ (a menu line cannot hold one)."""
    typed = _WORD_END.search(prefix)
    word = typed.group() if typed else ""
    start = types.Position(line=position.line, character=position.character - len(word))
    return [types.CompletionItem(label=(word + completion.text).replace("\n", "⏎"),
                                 filter_text=word + completion.text, kind=types.CompletionItemKind.Text,
                                 detail=f"{completion.probability:.1%}", sort_text=f"{rank:03d}",
                                 text_edit=types.TextEdit(range=types.Range(start=start, end=position),
                                                          new_text=word + completion.text))
            for rank, completion in enumerate(found) if completion.text]


def _text_before(ls: LanguageServer, editor: _Editor, uri: str, position: types.Position) -> str | None:
    """The document's text before the cursor, or None (no model, a document not opened, a file type not served,
    a position outside the document)."""
    if editor.model is None:
        return None
    document = ls.workspace.text_documents.get(unquote(uri))  # only what the editor opened: never a file
    if document is None:
        return None
    if not editor.serves(document.language_id):
        return None
    lines = document.lines
    # after a line break there is one more line than the document's lines
    last_line = len(lines) - (1 if lines and not lines[-1].endswith(("\n", "\r")) else 0)
    if not 0 <= position.line <= last_line or position.character < 0:
        return None
    return document.source[:document.offset_at_position(position)]


def _safely(call: Callable[[], object]) -> object | None:
    try:
        return call()
    except LstmtextError:
        return None


def _tell_errors(ls: LanguageServer, configure: Callable[[], None]) -> None:
    """Apply settings; a bad one is shown to the user (and the previous settings kept), never a crash."""
    try:
        configure()
    except LstmtextError as error:
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=f"lstmtext: {error}"))
