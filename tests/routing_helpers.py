"""Call a chat model the four ways LangChain offers and return the answer text."""

from __future__ import annotations

import asyncio

from langchain_core.language_models import BaseChatModel

CALL_MODES = ("invoke", "ainvoke", "stream", "astream")

# One loop for every async call made from sync tests: pooled async HTTP connections belong
# to the loop that opened them, so a fresh `asyncio.run` per call would strand them.
_LOOP = asyncio.new_event_loop()


def answer(model: BaseChatModel, mode: str, prompt: str = "hello there") -> str:
    """The text `model` returns for `prompt` when called by `mode`."""
    if mode == "invoke":
        return str(model.invoke(prompt).content)
    if mode == "ainvoke":
        return str(_LOOP.run_until_complete(model.ainvoke(prompt)).content)
    if mode == "stream":
        return "".join(str(chunk.content) for chunk in model.stream(prompt))

    async def collect() -> str:
        return "".join([str(chunk.content) async for chunk in model.astream(prompt)])

    return _LOOP.run_until_complete(collect())
