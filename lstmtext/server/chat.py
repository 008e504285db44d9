"""OpenAI's `POST /v1/chat/completions` over a model of plain text. The messages become one text, which the model
continues; its continuation is the assistant's reply:

- the messages' contents in order, roles not written (an LSTM of your text knows no dialogue format);
- each message starts a new paragraph (a blank line before it), except an assistant's, which goes on from the
  message before it as the model's own continuation did.

So `"When there is fire"` is answered with what the model writes after it, and a conversation reads as the text
the user and the model wrote together. A message is whole: its last word is not continued ("The panda" is not
answered with "s")."""

from __future__ import annotations

from pydantic import ConfigDict

from ..options import ServeOptions
from .openai_requests import Completions, OpenAIBody, continuation_options
from .requests import ApiError, Strict, check

PARAGRAPH = "\n\n"


class ContentPart(Strict):
    model_config = ConfigDict(strict=True, extra="ignore")
    type: str
    text: str | None = None


class Message(Strict):
    model_config = ConfigDict(strict=True, extra="ignore")  # name, tool_call_id, ...: nothing to do with them
    role: str
    content: str | list[ContentPart] | None = None


class ChatBody(OpenAIBody):
    messages: list[Message]
    logprobs: bool = False
    top_logprobs: int | None = None
    max_completion_tokens: int | None = None
    response_format: dict | None = None
    tools: list | None = None
    functions: list | None = None
    tool_choice: str | dict | None = None
    parallel_tool_calls: bool | None = None
    store: bool | None = None  # the provider's records: nothing to do here
    metadata: dict | None = None
    service_tier: str | None = None


def chat_request(body: ChatBody, limits: ServeOptions, default_max_tokens: int) -> Completions:
    check(bool(body.messages), "messages is empty", "send at least one message, e.g. "
          '[{"role": "user", "content": "When there is fire"}]', "messages")
    check(body.top_logprobs is None or body.logprobs, "top_logprobs needs logprobs", "pass logprobs: true too",
          "top_logprobs")
    if body.max_completion_tokens is not None:
        body = body.model_copy(update={"max_tokens": body.max_completion_tokens})
    prompt = rendered(body.messages)
    logprobs = (body.top_logprobs or 0) if body.logprobs else None
    max_tokens, options = continuation_options(body, limits, default_max_tokens, [prompt], logprobs,
                                               finish_word=False)
    return Completions(body.model, [prompt], options, max_tokens, stream=body.stream,
                       include_usage=bool(body.stream_options and body.stream_options.include_usage))


def rendered(messages: list[Message]) -> str:
    """The text the model continues (see the module's doc)."""
    text = ""
    for index, message in enumerate(messages):
        content = _text(message, index)
        joined = message.role == "assistant" or not text
        text += content if joined else PARAGRAPH + content
    return text


def _text(message: Message, index: int) -> str:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    for part in message.content:
        if part.type != "text" or part.text is None:
            raise ApiError(400, f"messages.{index}.content holds a '{part.type}' part — send text only (a model "
                           "of text reads nothing else)", f"messages.{index}.content")
    return "".join(part.text or "" for part in message.content)
