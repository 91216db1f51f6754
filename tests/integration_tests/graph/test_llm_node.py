"""LLMNode: resolution order, settings layers, LangGraph use (sync, async, streamed tokens)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.graph import START, MessagesState, StateGraph

from infrastructure.graph.nodes.llm_node import LLMNode
from infrastructure.llm.errors import AllTargetsFailedError, LLMWrapperError
from infrastructure.llm.providers.mock import MockChatModel
from infrastructure.llm.wrappers.factory import LLMWrapperFactory

from conftest import StartSim, openai_model, write_config
from routing_helpers import _LOOP

HI = {"messages": [HumanMessage("hi")]}


@pytest.fixture
def factory(start_sim: StartSim, dead_url: str, tmp_path: Path) -> LLMWrapperFactory:
    """Groups `g` (a simulator) and `down` (dead), pool `p` over `g`, wrapper `custom`."""
    sim = start_sim("healthy")
    models = {"m": openai_model(sim.base_url), "dead": openai_model(dead_url)}
    groups: dict[str, dict[str, Any]] = {
        "g": {"echelon1": {"models": ["m"]}},
        "down": {"echelon1": {"models": ["dead"], "max_retries": 0}},
    }
    pools = {"p": {"task_groups": ["g"]}}
    factory = LLMWrapperFactory.from_config_dir(
        write_config(tmp_path / "llms", models, groups, pools)
    )
    factory.create_task_group_wrapper("custom", {"target": "g"})
    return factory


def served_by(update: dict[str, Any]) -> str:
    """Which wrapper answered, or 'default' for the default client (which has no routing)."""
    (reply,) = update["messages"]
    return reply.response_metadata.get("routing", {}).get("wrapper", "default")


def node(factory: LLMWrapperFactory, **config: Any) -> LLMNode:
    return LLMNode(llm_client=MockChatModel(), wrapper_factory=factory, config=config)


def test_llm_wrapper_wins_over_everything(factory: LLMWrapperFactory) -> None:
    chosen = node(factory, llm_wrapper="custom", task_group="g", polling_pool="p")
    assert served_by(chosen.execute(HI)) == "custom"


def test_task_group_wins_over_polling_pool_and_default(factory: LLMWrapperFactory) -> None:
    assert served_by(node(factory, task_group="g", polling_pool="p").execute(HI)) == "g_wrapper"


def test_polling_pool_wins_over_the_default_client(factory: LLMWrapperFactory) -> None:
    assert served_by(node(factory, polling_pool="p").execute(HI)) == "p_wrapper"


def test_default_client_when_nothing_is_named(factory: LLMWrapperFactory) -> None:
    update = node(factory).execute(HI)
    assert served_by(update) == "default"
    assert update["messages"][0].content == "Mock reply to: hi"


def test_no_model_at_all_is_a_clear_error(factory: LLMWrapperFactory) -> None:
    with pytest.raises(LLMWrapperError, match="no model to call"):
        LLMNode(wrapper_factory=factory).execute(HI)


def test_a_task_group_echelon_gets_its_own_wrapper(factory: LLMWrapperFactory) -> None:
    assert served_by(node(factory, task_group="g.echelon1").execute(HI)) == "g.echelon1_wrapper"
    assert factory.has_wrapper("g.echelon1_wrapper")


def test_seed_style_execute_takes_settings_and_never_mutates_state(
    factory: LLMWrapperFactory,
) -> None:
    state = {"messages": [HumanMessage("hi")], "other": {"kept": [1, 2]}}
    before = copy.deepcopy(state)
    update = LLMNode(wrapper_factory=factory).execute(
        state, {"llm_wrapper": "custom", "system_prompt": "Be brief."}
    )
    assert state == before
    assert set(update) == {"messages"}
    assert update["messages"][0].content == "Simulated reply to: hi"


class RecordingHandler(BaseCallbackHandler):
    """Keeps what each chat model run was asked."""

    def __init__(self) -> None:
        self.messages: list[list[BaseMessage]] = []
        self.params: list[dict[str, Any]] = []

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        self.messages.append(messages[0])
        self.params.append(kwargs.get("invocation_params", {}))


def test_system_prompt_max_tokens_and_temperature_reach_the_model(
    factory: LLMWrapperFactory,
) -> None:
    handler = RecordingHandler()
    chosen = node(factory, llm_wrapper="custom", system_prompt="Be brief.", max_tokens=50)
    chosen.execute(HI, {"callbacks": [handler], "configurable": {"temperature": 0.2}})
    (sent,) = handler.messages
    assert isinstance(sent[0], SystemMessage) and sent[0].content == "Be brief."
    assert [m.content for m in sent[1:]] == ["hi"]
    assert (handler.params[0]["max_tokens"], handler.params[0]["temperature"]) == (50, 0.2)


def test_an_existing_system_message_is_not_doubled(factory: LLMWrapperFactory) -> None:
    handler = RecordingHandler()
    state = {"messages": [SystemMessage("Mine."), HumanMessage("hi")]}
    node(factory, system_prompt="Be brief.").execute(state, {"callbacks": [handler]})
    assert [m.content for m in handler.messages[0]] == ["Mine.", "hi"]


def graph_of(chosen: LLMNode) -> Any:
    return StateGraph(MessagesState).add_node("llm", chosen).add_edge(START, "llm").compile()


def test_configurable_overrides_the_node_config_per_run(factory: LLMWrapperFactory) -> None:
    graph = graph_of(node(factory, llm_wrapper="custom"))
    result = graph.invoke(HI, {"configurable": {"llm_wrapper": "p_wrapper"}})
    assert result["messages"][-1].response_metadata["routing"]["wrapper"] == "p_wrapper"


def test_configurable_scoped_to_the_node_name_wins(factory: LLMWrapperFactory) -> None:
    chosen = LLMNode(wrapper_factory=factory, config={"llm_wrapper": "custom"}, name="llm")
    graph = graph_of(chosen)
    overrides = {"llm_wrapper": "p_wrapper", "llm": {"llm_wrapper": "g_wrapper"}}
    result = graph.invoke(HI, {"configurable": overrides})
    assert result["messages"][-1].response_metadata["routing"]["wrapper"] == "g_wrapper"


def test_bad_settings_name_the_node_and_key(factory: LLMWrapperFactory) -> None:
    with pytest.raises(LLMWrapperError, match=r"node 'llm_node': max_tokens: .*greater than"):
        node(factory, max_tokens=0)
    with pytest.raises(LLMWrapperError, match=r"node 'llm_node': llm_wraper: Extra inputs"):
        node(factory, llm_wraper="custom")


def test_in_a_graph_sync_and_async(factory: LLMWrapperFactory) -> None:
    graph = graph_of(node(factory, llm_wrapper="custom"))
    result = graph.invoke(HI)
    assert [m.content for m in result["messages"]] == ["hi", "Simulated reply to: hi"]
    result = _LOOP.run_until_complete(graph.ainvoke(HI))
    assert [m.content for m in result["messages"]] == ["hi", "Simulated reply to: hi"]


def test_streamed_tokens_reach_messages_mode_exactly_once(factory: LLMWrapperFactory) -> None:
    graph = graph_of(node(factory, llm_wrapper="custom"))
    tokens = [
        chunk.content
        for chunk, meta in graph.stream(HI, stream_mode="messages")
        if meta["langgraph_node"] == "llm"
    ]
    assert "".join(tokens) == "Simulated reply to: hi"
    assert len(tokens) > 1  # really streamed, not one final message

    async def collect() -> list[str]:
        return [
            chunk.content
            async for chunk, meta in graph.astream(HI, stream_mode="messages")
            if meta["langgraph_node"] == "llm"
        ]

    assert "".join(_LOOP.run_until_complete(collect())) == "Simulated reply to: hi"


def test_on_error_raise_is_the_default(factory: LLMWrapperFactory) -> None:
    with pytest.raises(AllTargetsFailedError):
        node(factory, task_group="down").execute(HI)


def test_on_error_message_answers_the_user_and_records_the_error(
    factory: LLMWrapperFactory,
) -> None:
    graph = graph_of(node(factory, task_group="down", on_error="message"))
    result = graph.invoke(HI)
    *_, reply = result["messages"]
    assert isinstance(reply, AIMessage)
    assert [m.content for m in result["messages"][:-1]] == ["hi"]
    assert "down" not in reply.content and "127.0.0.1" not in reply.content
    assert reply.content
