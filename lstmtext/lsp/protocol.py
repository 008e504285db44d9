"""JSON-RPC over stdio as lstmtext's language server speaks it, on top of pygls's protocol:

- framing that recovers: a frame whose Content-Length is wrong or unreadable, a header in lower case or with
  bare LF line ends, stray bytes between frames — reading goes on at the next `Content-Length` header (pygls's
  own reader loses every later message after one such frame);
- every request that can be answered is: a body that is not JSON gets ParseError (id null), a request without
  `"jsonrpc": "2.0"` InvalidRequest, params that do not fit the method InvalidParams, a request after `shutdown`
  or a second `initialize` InvalidRequest (pygls leaves them unanswered, and a second `initialize` would drop the
  open documents).

Stdin is read on a daemon thread, so a server told to exit while its editor keeps the pipe open still ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO

from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest, JsonRpcParseError
from pygls.io_ import StdoutWriter
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger("lstmtext.lsp")

# A Content-Length header at the end of a line: whatever came before it on that line is what was left of a
# frame that claimed fewer bytes than it had.
_CONTENT_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*([0-9]{1,12})[ \t]*\r?\n\Z", re.IGNORECASE)
_MAX_BODY = 1 << 30


class AnsweringProtocol(LanguageServerProtocol):
    """pygls's protocol, answering what pygls leaves unanswered (see the module's docstring)."""

    def answer_body(self, body: bytes) -> None:
        """Parse one frame's body and hand it on, or answer why it cannot be."""
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            self._refuse(None, JsonRpcParseError("the message is not JSON"))
            return
        if not isinstance(data, dict):
            self._refuse(None, JsonRpcInvalidRequest("a message is a JSON object"))
            return
        if data.get("jsonrpc") != "2.0":
            if "id" in data and "method" in data:
                self._refuse(data["id"], JsonRpcInvalidRequest('a request needs "jsonrpc": "2.0"'))
            return
        try:
            message = self.structure_message(data)
        except JsonRpcException:  # answered if it is a request: a notification or a response waits for nothing
            if isinstance(data.get("method"), str) and "id" in data:
                self._refuse(data["id"], JsonRpcInvalidParams(f"{data['method']}: params are not what the "
                                                              "protocol defines"))
            return
        self.handle_message(message)

    def handle_message(self, message) -> None:
        method, request_id = getattr(message, "method", None), getattr(message, "id", None)
        is_request = method is not None and request_id is not None
        if is_request and self._shutdown and method != "exit":
            self._refuse(request_id, JsonRpcInvalidRequest("the server is shutting down"))
        elif is_request and method == "initialize" and self._workspace is not None:
            self._refuse(request_id, JsonRpcInvalidRequest("the server is already initialized"))
        else:
            super().handle_message(message)

    def _refuse(self, request_id: object, error: JsonRpcException) -> None:
        """An error response; with `"id": null` where the request's id cannot be read (as JSON-RPC asks: pygls's
        own response drops a null id)."""
        request_id = request_id if isinstance(request_id, (int, str)) else None
        self._send_data({"jsonrpc": "2.0", "id": request_id, "error": {"code": error.code, "message": error.message}})


def read_frames(stream: BinaryIO, deliver: Callable[[bytes], None]) -> None:
    """Each frame's body from `stream` to `deliver`, until the end of the stream. Lines before the blank line that
    ends a frame's headers are headers; the last Content-Length among them is the body's length. A frame without
    a readable one is skipped: its body, having no line end, is read with the next frame's header line, whose
    Content-Length is found at the line's end."""
    length = None
    while line := stream.readline():
        header = _CONTENT_LENGTH.search(line)
        if header:
            length = int(header.group(1))
        elif not line.strip() and length is not None:
            if length > _MAX_BODY:
                log.warning("skipped a frame of %d bytes", length)
            else:
                body = stream.read(length)
                if len(body) < length:
                    return
                deliver(body)
            length = None


def serve_stdio(protocol: AnsweringProtocol, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
    """Answer the frames on stdin until it ends or the client says `exit`."""
    protocol.set_writer(_QuietWriter(stdout or sys.stdout.buffer))

    async def answering() -> None:
        loop = asyncio.get_running_loop()
        ended = asyncio.Event()
        if threading.current_thread() is threading.main_thread():
            loop.add_signal_handler(signal.SIGTERM, ended.set)  # the editor's way to stop a server: as `exit`

        def in_loop(call: Callable, *args: object) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the server is ending anyway
                loop.call_soon_threadsafe(call, *args)

        def read() -> None:
            try:
                read_frames(stdin or _own_stdin(), lambda body: in_loop(protocol.answer_body, body))
            finally:
                in_loop(ended.set)

        threading.Thread(target=read, name="lstmtext-lsp-stdin", daemon=True).start()
        await ended.wait()

    try:
        asyncio.run(answering())
    except (SystemExit, KeyboardInterrupt):
        pass  # `exit` (pygls raises SystemExit) or Ctrl-C: stop


class _QuietWriter(StdoutWriter):
    """stdout, where writing after the editor has gone (or after `exit` closed it) is not an error: the answers
    to requests cancelled on the way out have nobody to go to."""

    def write(self, data: bytes) -> None:
        try:
            super().write(data)
        except (BrokenPipeError, ValueError):
            pass


def _own_stdin() -> BinaryIO:
    """A reader of stdin's file of its own: at exit, Python closes `sys.stdin`, and aborts ("could not acquire
    lock ... at interpreter shutdown") if a daemon thread is inside its `readline`."""
    return os.fdopen(os.dup(sys.stdin.fileno()), "rb")
