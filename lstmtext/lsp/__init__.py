"""`lstmtext lsp`: ghost text and completion menus in any editor, over the Language Server Protocol on stdio."""

from .server import language_server

__all__ = ["language_server"]
