"""`with_structured_output` for the routing wrappers, asked for the way `ChatOpenAI` asks.

LangChain's default implementation always forces a tool call. `ChatOpenAI` honours `method`,
and so do the wrappers:

- `json_schema` (the default, as `ChatOpenAI`'s in langchain-openai 1.x): `response_format`
  `{"type": "json_schema", "json_schema": {name, schema, strict}}`; the content is parsed;
- `json_mode`: `response_format` `{"type": "json_object"}`; the content is parsed;
- `function_calling`: the schema as the only tool, `tool_choice` forcing it and
  `parallel_tool_calls: false`; the tool call's arguments are parsed.

Only keyword arguments are bound: the wrapper hands them unchanged to whichever instance
serves the call, so every instance sends the server the same request. `response_format` is
bound as a dict, never as a pydantic class: for a class, the dict is the one the OpenAI SDK
would make of it, so the server sees what a direct `ChatOpenAI` sends; and LangChain's parsers
read the answer after routing, so a bad answer is a parsing error (in `parsing_error` with
`include_raw=True`), not a failed call. Answers from mock-provider instances, which ignore
all of this, fail with an error that says so.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

import openai
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import BaseMessage
from langchain_core.output_parsers import (
    JsonOutputKeyToolsParser,
    JsonOutputParser,
    PydanticOutputParser,
    PydanticToolsParser,
)
from langchain_core.runnables import (
    Runnable,
    RunnableGenerator,
    RunnableLambda,
    RunnableMap,
    RunnablePassthrough,
)
from langchain_core.utils.function_calling import convert_to_openai_function
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel

from infrastructure.llm.wrappers.tool_binding import format_tools

if TYPE_CHECKING:
    from infrastructure.llm.wrappers.base import BaseLLMWrapper

Method = Literal["function_calling", "json_mode", "json_schema"]
DEFAULT_METHOD: Method = "json_schema"
"""`ChatOpenAI.with_structured_output`'s default in langchain-openai 1.x."""

Schema = dict[str, Any] | type


def structured_output(
    wrapper: BaseLLMWrapper,
    schema: Schema | None = None,
    *,
    method: Method = DEFAULT_METHOD,
    include_raw: bool = False,
    strict: bool | None = None,
    tools: Sequence[Any] | None = None,
    **kwargs: Any,
) -> Runnable[LanguageModelInput, Any]:
    """`wrapper` bound to ask for `schema` by `method`, piped into the matching parser.

    Arguments mean what they mean for `ChatOpenAI.with_structured_output`: `strict` applies
    to `function_calling` and to dict or TypedDict schemas with `json_schema` (a pydantic
    class is sent strict, as the OpenAI SDK sends it); `tools` are offered alongside a
    `json_schema` answer; other `kwargs` are bound to the model.
    """
    if method not in ("function_calling", "json_mode", "json_schema"):
        raise ValueError(
            f"method must be 'function_calling', 'json_mode' or 'json_schema', got {method!r}"
        )
    if strict is not None and method == "json_mode":
        raise ValueError("Argument `strict` is not supported with `method`='json_mode'")
    if schema is None and method != "json_mode":
        raise ValueError(f"schema must be given for method={method!r}; only json_mode takes None")
    pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
    if method == "json_schema" and pydantic and not issubclass(schema, BaseModel):  # pydantic.v1
        warnings.warn(
            "A pydantic.v1 model cannot be sent as a json_schema response_format; "
            'using method="function_calling" instead, as ChatOpenAI does.',
            stacklevel=3,
        )
        method = "function_calling"

    model, parser = _request(wrapper, schema, method, strict, tools, kwargs)
    mock_ids = frozenset(i.id for i in wrapper.routed_instances() if i.provider == "mock")
    if mock_ids:
        parser = _not_from_mock(mock_ids, method) | parser
    if not include_raw:
        return model | parser
    parsed = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    unparsed = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=model) | parsed.with_fallbacks([unparsed], exception_key="parsing_error")


def _request(
    wrapper: BaseLLMWrapper,
    schema: Any,
    method: Method,
    strict: bool | None,
    tools: Sequence[Any] | None,
    kwargs: dict[str, Any],
) -> tuple[Runnable[LanguageModelInput, BaseMessage], Runnable[Any, Any]]:
    """The wrapper with the request fields for `method` bound, and the parser of its answer.

    `ls_structured_output_format` is not sent: LangChain pops it and shows it to callbacks
    (LangSmith) as the format asked for.
    """
    pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
    if method == "function_calling":
        name = convert_to_openai_function(schema)["name"]
        traced = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
        model = wrapper.bind_tools(
            [schema],
            tool_choice=name,
            strict=strict,
            parallel_tool_calls=False,
            ls_structured_output_format=traced,
            **kwargs,
        )
        if pydantic:
            return model, PydanticToolsParser(tools=[schema], first_tool_only=True)
        return model, JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
    if method == "json_schema":
        traced = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
        bound: dict[str, Any] = {"response_format": json_schema_format(schema, strict)}
        if tools:
            bound["tools"] = format_tools(tools, None, strict)["tools"]
        model = wrapper.bind(**bound, ls_structured_output_format=traced, **kwargs)
        # A pydantic object comes once the answer is complete, as ChatOpenAI gives it;
        # dicts stream as they grow.
        return model, (_complete_object(schema) if pydantic else JsonOutputParser())
    traced = {"kwargs": {"method": method}, "schema": schema}
    model = wrapper.bind(
        response_format={"type": "json_object"}, ls_structured_output_format=traced, **kwargs
    )
    return model, (PydanticOutputParser(pydantic_object=schema) if pydantic else JsonOutputParser())


def json_schema_format(schema: Schema, strict: bool | None) -> dict[str, Any]:
    """The `response_format` ChatOpenAI sends for `schema`, as a dict.

    A pydantic class becomes what the OpenAI SDK makes of it (its strict schema, named after
    the class, `strict: true`, whatever `strict` says); a `response_format` or a
    `{name, schema}` dict is used as given; anything else (TypedDict, JSON schema, OpenAI
    function) is converted by LangChain, with `strict` from the argument, else the schema's
    own `strict`, else false.
    """
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        function = openai.pydantic_function_tool(schema)["function"]
        json_schema = {"schema": function["parameters"], "name": function["name"], "strict": True}
        return {"type": "json_schema", "json_schema": json_schema}
    if isinstance(schema, dict) and schema.get("type") == "json_schema" and "json_schema" in schema:
        return schema
    if isinstance(schema, dict) and "name" in schema and "schema" in schema:
        return {"type": "json_schema", "json_schema": schema}
    if strict is None:
        own = schema.get("strict") if isinstance(schema, dict) else None
        strict = own if isinstance(own, bool) else False
    function = convert_to_openai_function(schema, strict=strict)
    function["schema"] = function.pop("parameters")
    return {"type": "json_schema", "json_schema": function}


def _complete_object(schema: type[BaseModel]) -> Runnable[BaseMessage, Any]:
    """Parse the whole answer into `schema`; when streamed, once the stream has ended.

    With `tools` offered, an answer that calls a tool instead holds no object: None.
    """
    parser = PydanticOutputParser(pydantic_object=schema)

    def parse(message: BaseMessage) -> Any:
        if getattr(message, "tool_calls", None) and not message.content:
            return None
        return parser.invoke(message)

    return RunnableLambda(parse).with_types(output_type=schema)


def _not_from_mock(mock_ids: frozenset[str], method: str) -> Runnable[BaseMessage, BaseMessage]:
    """Pass messages on, but fail clearly on an answer served by a mock-provider instance.

    The mock ignores `response_format` and `tools` and always replies in plain text; parsed
    anyway, its answer would give "Invalid json output", None (no tool call) or an empty
    stream. The error is an `OutputParserException`, so with `include_raw=True` it lands in
    `parsing_error`. The routing metadata is on a stream's first chunk: it fails at once.
    """

    def check(message: BaseMessage) -> BaseMessage:
        instance = (message.response_metadata.get("routing") or {}).get("instance")
        if instance in mock_ids:
            raise OutputParserException(
                f"structured output (method={method!r}) was answered by {instance}, a "
                "mock-provider instance: the mock ignores response_format and tools and "
                "replies in plain text, so it cannot give structured output; route structured "
                "output to OpenAI-compatible instances",
                llm_output=message.text,
            )
        return message

    def check_all(messages: Iterator[BaseMessage]) -> Iterator[BaseMessage]:
        for message in messages:
            yield check(message)

    async def acheck_all(messages: AsyncIterator[BaseMessage]) -> AsyncIterator[BaseMessage]:
        async for message in messages:
            yield check(message)

    return RunnableGenerator(check_all, acheck_all)
