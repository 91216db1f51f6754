"""The signatures LangChain inspects on every call are computed once, and say the same."""

from __future__ import annotations

from langchain_core.utils._signature import _signature_parameters

from infrastructure.llm.chat_signatures import signatures_computed_once
from infrastructure.llm.providers.mock import MockChatModel
from infrastructure.llm.wrappers.base import BaseLLMWrapper


def test_wrappers_and_the_mock_carry_their_signatures() -> None:
    for cls in (BaseLLMWrapper, MockChatModel):
        for name in ("_generate", "_agenerate"):
            method = cls.__dict__[name]
            assert "__signature__" in vars(method)
            code = method.__code__
            named = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount + 1]
            assert tuple(method.__signature__.parameters) == named


def test_langchain_still_sees_that_the_run_manager_is_taken() -> None:
    model = MockChatModel(model="echo")
    assert "run_manager" in _signature_parameters(model._generate)
    assert "run_manager" in _signature_parameters(model._agenerate)


def test_only_the_class_own_methods_are_touched() -> None:
    class Plain:
        def other(self, x: int) -> int:
            return x

    assert signatures_computed_once(Plain) is Plain
    assert not hasattr(Plain.other, "__signature__")
