"""The writing page's sessions: a page that asks to learn from what is written gets a `Session` of its own
(`LanguageModel.session`), which reads the lines finished in it and answers its suggestions with what it has
learned. A session answers on a thread of its own, one request at a time, and skips a request a newer one from
the same page has made stale; it is closed when the page goes (it says so), when the server stops, or after
`IDLE_SECONDS` unused. At most `MAX_SESSIONS` are open at once."""

from __future__ import annotations

import asyncio
import concurrent.futures
import secrets
import time
from collections.abc import Callable

from .. import LanguageModel, Session
from .requests import ApiError

MAX_SESSIONS = 8
IDLE_SECONDS = 1800.0


class PageSession:
    def __init__(self, name: str, session: Session) -> None:
        self.name, self.session = name, session
        self.worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="lstmtext-page")
        self.latest: dict[str, int] = {}  # the newest request of each kind
        self.used = time.monotonic()

    async def answer(self, kind: str, call: Callable[[], object]) -> object:
        """`call()` on the session's thread; a 409 if a newer request of the same `kind` came before it started."""
        ticket = self.latest[kind] = self.latest.get(kind, 0) + 1
        self.used = time.monotonic()

        def unless_stale() -> tuple[bool, object]:
            return (False, None) if ticket != self.latest[kind] else (True, call())

        ran, result = await asyncio.get_running_loop().run_in_executor(self.worker, unless_stale)
        if not ran:
            raise ApiError(409, "a newer request from this page made this one stale")
        return result

    def close(self) -> None:
        self.session.close()
        self.worker.shutdown(wait=False, cancel_futures=True)


class PageSessions:
    """The open sessions by id."""

    def __init__(self) -> None:
        self.open: dict[str, PageSession] = {}

    def start(self, name: str, model: LanguageModel) -> str:
        self._close_idle()
        if len(self.open) >= MAX_SESSIONS:
            raise ApiError(429, f"{MAX_SESSIONS} writing sessions are open — close a page that learns, or wait "
                           f"{IDLE_SECONDS / 60:.0f} minutes for an idle one to close", "session")
        key = secrets.token_urlsafe(12)
        self.open[key] = PageSession(name, model.session())
        return key

    def get(self, key: str) -> PageSession:
        if key not in self.open:
            raise ApiError(404, "no such writing session (closed, or idle too long) — start another with "
                           "POST /v1/sessions", "session")
        return self.open[key]

    def close(self, key: str) -> None:
        self.get(key).close()
        del self.open[key]

    def close_all(self) -> None:
        for key in list(self.open):
            self.close(key)

    def _close_idle(self) -> None:
        now = time.monotonic()
        for key in [key for key, page in self.open.items() if now - page.used > IDLE_SECONDS]:
            self.close(key)
