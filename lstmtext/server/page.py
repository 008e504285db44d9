"""The writing page at `GET /`: static files from the package (page/), no build step and nothing from elsewhere.
Every answer carries a Content-Security-Policy that lets the page run only its own script and style and talk only
to this server, so text the model or the user writes can never run as code."""

from __future__ import annotations

import functools
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import Response

from .requests import ApiError

_FILES = {"index.html": "text/html; charset=utf-8", "page.js": "text/javascript; charset=utf-8",
          "page.css": "text/css; charset=utf-8", "icon.svg": "image/svg+xml"}
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache"}


def add_page(app: FastAPI) -> None:
    """`GET /` and `GET /page/<file>`: open to anyone who can reach the server (the page asks for the API key,
    if the server has one, before it calls the API)."""

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return _file("index.html")

    @app.get("/page/{name}", include_in_schema=False)
    async def page_file(name: str) -> Response:
        if name not in _FILES or name == "index.html":
            raise ApiError(404, f"no page file '{name}' — open / for the page")
        return _file(name)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return _file("icon.svg")


def _file(name: str) -> Response:
    return Response(_content(name), media_type=_FILES[name], headers=_HEADERS)


@functools.cache
def _content(name: str) -> bytes:
    """A page file's bytes, read from the package once."""
    return resources.files(__package__).joinpath("page", name).read_bytes()
