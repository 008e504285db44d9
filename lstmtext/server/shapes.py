"""How a choice looks in OpenAI's two APIs: a completion's text (`TEXT`) or a chat message (`CHAT`), whole or in
the chunks of a stream, with its tokens' logprobs in each API's own layout."""

from __future__ import annotations

from dataclasses import dataclass

from .. import TokenStep


@dataclass(frozen=True)
class Shape:
    """The completions API's: `{"text": ...}` choices, logprobs as parallel lists with character offsets."""

    id_prefix: str = "cmpl"
    whole_object: str = "text_completion"
    chunk_object: str = "text_completion"

    def choice(self, index: int, text: str, finish_reason: str, logprobs: dict | None) -> dict:
        return {"index": index, "text": text, "finish_reason": finish_reason, "logprobs": logprobs}

    def start(self, index: int, echoed: str, logprobs: dict | None) -> dict | None:
        """A stream's first chunk for a choice: the echoed prompt (none without echo)."""
        return self.piece(index, echoed, logprobs) if echoed else None

    def piece(self, index: int, text: str, logprobs: dict | None) -> dict:
        return {"index": index, "text": text, "logprobs": logprobs, "finish_reason": None}

    def finish(self, index: int, finish_reason: str) -> dict:
        return {**self.piece(index, "", None), "finish_reason": finish_reason}

    def logprobs(self, prompt: tuple[TokenStep, ...], written: tuple[TokenStep, ...], start: int) -> dict:
        """`prompt`'s tokens (offsets in the prompt), then `written`'s (offsets after the `start` characters
        shown before the continuation)."""
        tokens = [(token, token.offset) for token in prompt] + [(token, start + token.offset) for token in written]
        return {"tokens": [token.text for token, _ in tokens],
                "token_logprobs": [token.log_prob for token, _ in tokens],
                "top_logprobs": [{top.text: top.log_prob for top in token.top} for token, _ in tokens],
                "text_offset": [offset for _, offset in tokens]}


@dataclass(frozen=True)
class ChatShape(Shape):
    """The chat API's: `{"message": {"role", "content"}}` choices, `{"delta": ...}` chunks, logprobs as a list
    of `{"token", "logprob", "bytes", "top_logprobs"}`."""

    id_prefix: str = "chatcmpl"
    whole_object: str = "chat.completion"
    chunk_object: str = "chat.completion.chunk"

    def choice(self, index: int, text: str, finish_reason: str, logprobs: dict | None) -> dict:
        return {"index": index, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason,
                "logprobs": logprobs}

    def start(self, index: int, echoed: str, logprobs: dict | None) -> dict:
        return {"index": index, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                "finish_reason": None}

    def piece(self, index: int, text: str, logprobs: dict | None) -> dict:
        return {"index": index, "delta": {"content": text}, "logprobs": logprobs, "finish_reason": None}

    def finish(self, index: int, finish_reason: str) -> dict:
        return {"index": index, "delta": {}, "logprobs": None, "finish_reason": finish_reason}

    def logprobs(self, prompt: tuple[TokenStep, ...], written: tuple[TokenStep, ...], start: int) -> dict:
        return {"content": [{**_scored(token.text, token.log_prob),
                             "top_logprobs": [_scored(top.text, top.log_prob) for top in token.top]}
                            for token in prompt + written]}


def _scored(text: str, log_prob: float) -> dict:
    return {"token": text, "logprob": log_prob, "bytes": list(text.encode())}


TEXT, CHAT = Shape(), ChatShape()
