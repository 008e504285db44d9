"""The writing page's sessions (server/sessions.py): a request a newer one of the same kind made stale before it
started is skipped (409), other kinds are not; sessions are limited in number and closed when idle."""

from __future__ import annotations

import asyncio
import threading

import pytest

pytest.importorskip("fastapi")

from lstmtext.server import sessions  # noqa: E402
from lstmtext.server.requests import ApiError  # noqa: E402


class _Quiet:
    """A stand-in for a Session: nothing to learn, nothing to close."""

    def close(self) -> None:
        pass


def test_a_request_made_stale_before_it_started_is_skipped_and_other_kinds_are_not():
    page = sessions.PageSession("tiny", _Quiet())
    busy = threading.Event()

    async def race():
        first = asyncio.ensure_future(page.answer("suggest", lambda: busy.wait(5) and "first"))
        await asyncio.sleep(0.05)  # the first holds the session's thread
        stale = asyncio.ensure_future(page.answer("suggest", lambda: "stale"))
        other = asyncio.ensure_future(page.answer("complete", lambda: "ranked"))
        newest = asyncio.ensure_future(page.answer("suggest", lambda: "newest"))
        await asyncio.sleep(0.05)
        busy.set()
        return await asyncio.gather(first, stale, other, newest, return_exceptions=True)

    first, stale, other, newest = asyncio.run(race())
    page.close()
    assert first == "first" and other == "ranked" and newest == "newest"
    assert isinstance(stale, ApiError) and stale.status == 409


def test_sessions_are_limited_and_idle_ones_close(monkeypatch):
    class Model:
        def session(self):
            return _Quiet()

    open_now = sessions.PageSessions()
    keys = [open_now.start("tiny", Model()) for _ in range(sessions.MAX_SESSIONS)]
    with pytest.raises(ApiError) as refused:
        open_now.start("tiny", Model())
    assert refused.value.status == 429
    for key in keys[1:]:
        open_now.get(key).used -= sessions.IDLE_SECONDS + 1
    open_now.start("tiny", Model())  # the idle ones were closed to make room
    assert len(open_now.open) == 2 and keys[0] in open_now.open
    open_now.close_all()
    assert not open_now.open
