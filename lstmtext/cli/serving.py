"""`lstmtext serve` (a local OpenAI-compatible HTTP API) and `lstmtext lsp` (a language server for editors)."""

from __future__ import annotations

import typer

from .. import ModelStore
from ..options import ServeOptions
from .common import MODEL_HELP, app, err_console, friendly_errors, model_names, torch_on_free_cores


@app.command()
@friendly_errors
def serve(
    model: list[str] = typer.Option([], "--model", "-m", help=MODEL_HELP + " Repeat to serve several; the first "
                                    "is the default.", autocompletion=model_names, metavar="<str>"),
    host: str = typer.Option(ServeOptions.host, help="Where to listen. Anything but this machine (127.0.0.1) "
                                                     "needs --api-key."),
    port: int = typer.Option(ServeOptions.port, help="TCP port (0: any free one)."),
    api_key: str | None = typer.Option(None, envvar="LSTMTEXT_API_KEY", show_envvar=True,
                                       help="Clients must send Authorization: Bearer KEY."),
    batching: bool = typer.Option(True, "--batching/--no-batching", help="Step all requests of a model together "
                                                                         "(off: one at a time)."),
    max_tokens: int = typer.Option(ServeOptions.max_tokens, help="Most tokens one completion may ask for."),
    max_n: int = typer.Option(ServeOptions.max_n, help="Most completions one request may ask for."),
    cors: list[str] = typer.Option([], "--cors", metavar="ORIGIN",
                                   help="Let pages from ORIGIN (e.g. http://localhost:3000) call the API from a "
                                        "browser. Repeat for several."),
    log_requests: bool = typer.Option(False, "--log-requests", help="Log every request on stderr."),
) -> None:
    """Serve models over HTTP: a writing page at /, OpenAI's /v1/completions, /v1/chat/completions and
    /v1/models, lstmtext's ranked /v1/complete, /health and /metrics (Prometheus). Every client's next tokens are
    computed in one batch. Ctrl-C stops."""
    options = ServeOptions(host=host, port=port, api_key=api_key, batching=batching, max_tokens=max_tokens,
                           max_n=max_n, cors=tuple(cors))
    store = ModelStore()
    paths = [str(store.resolve(name)) for name in model] or [str(store.resolve(None))]
    torch_on_free_cores()
    from ..server import serve as serve_models

    def ready(options: ServeOptions, models: dict) -> None:
        err_console().print(f"serving {', '.join(models)} at {options.base_url} (OpenAI-compatible; "
                            f"{'batched' if options.batching else 'one request at a time'}), the writing page at "
                            f"{options.page_url} — Ctrl-C stops", soft_wrap=True)

    if serve_models(paths, options, on_ready=ready, log_requests=log_requests):
        err_console().print("stopped: the requests in flight were answered")
    else:
        err_console().print(f"stopped: requests still running after {options.grace_seconds:g} s were cut off")


@app.command()
@friendly_errors
def lsp(model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP + " Settings sent by the editor "
                                                                     "may name another.",
                                         autocompletion=model_names)) -> None:
    """A language server on stdin/stdout: ghost text (textDocument/inlineCompletion) and a completion menu
    (textDocument/completion) from the text before the cursor. See docs/editors.md for Neovim and Helix."""
    store = ModelStore()
    default = str(store.resolve(model)) if model else None
    torch_on_free_cores()
    from .. import load
    from ..lsp.server import language_server

    language_server(lambda name: load(name or default)).start_io()
