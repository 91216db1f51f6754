"""Chat-model wrappers that route each call across many instances."""

from infrastructure.llm.wrappers.base import BaseLLMWrapper
from infrastructure.llm.wrappers.factory import LLMWrapperFactory
from infrastructure.llm.wrappers.polling_pool import PollingPoolWrapper
from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

__all__ = ["BaseLLMWrapper", "LLMWrapperFactory", "PollingPoolWrapper", "TaskGroupWrapper"]
