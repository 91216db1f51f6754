"""How langchain-openai turns OpenAI SDK errors and headers into LangChain's, reused where we
make the SDK call ourselves (`OpenAIModels.agenerate`), so errors read the same either way."""

from __future__ import annotations

from typing import Any, NoReturn

import openai
from langchain_openai.chat_models import base as _langchain_openai


def bad_request(exc: openai.BadRequestError) -> NoReturn:
    """Raise the LangChain error for a 400 (context overflow, invalid request)."""
    _langchain_openai._handle_openai_bad_request(exc)
    raise exc  # reached only if langchain-openai stops raising


def api_error(exc: openai.APIError) -> NoReturn:
    """Raise the LangChain error for any other SDK error."""
    _langchain_openai._handle_openai_api_error(exc)
    raise exc


def gateway_metadata(info: dict[str, Any], raw_response: Any) -> None:
    """Add a LangSmith gateway's metadata from the response headers to `info`."""
    _langchain_openai._add_gateway_metadata(info, raw_response)
