"""HTTP/1.1 for `lstmtext serve`: uvicorn's httptools protocol, with the two limits it does not have. A request's
head (request line and headers) must arrive within `head_seconds` of the connection opening or of the request
starting — a connection that never sends one, or sends half of one, is answered 408 and closed instead of held
open for ever — and may not exceed `MAX_HEAD_BYTES` (431). Kept-alive idle connections are closed by uvicorn's own
`timeout_keep_alive`; a body sent too slowly is refused by the app (requests.read_body)."""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .requests import ApiError

MAX_HEAD_BYTES = 64 * 1024
_REASONS = {408: "Request Timeout", 431: "Request Header Fields Too Large"}


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size bound for each request's head."""

    def __init__(self, *args, head_seconds: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.head_seconds = head_seconds

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_deadline.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._reading_head and not self.transport.is_closing():
            self._head_bytes += len(data)  # all of it is head: the head has not ended in it
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(431, f"the request's head is larger than {MAX_HEAD_BYTES:,} bytes — send shorter "
                                  "headers")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._reading_head:  # the next request on a kept-alive connection
            self._await_head()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._head_deadline.cancel()
        super().on_headers_complete()

    def _await_head(self) -> None:
        self._reading_head, self._head_bytes = True, 0
        self._head_deadline = self.loop.call_later(self.head_seconds, self._head_too_slow)

    def _head_too_slow(self) -> None:
        if self._reading_head and not self.transport.is_closing():
            self._refuse(408, f"no complete request within {self.head_seconds:g} s — send the request's head at "
                              "once")

    def _refuse(self, status: int, message: str) -> None:
        body = json.dumps(ApiError(status, message).body()).encode()
        head = (f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode()
        self.transport.write(head + body)
        self.transport.close()
