"""The rule-based question splitter: what splits in Chinese and English, and what must not."""

from __future__ import annotations

import pytest

from infrastructure.graph.decomposition.rules import split_question

SPLITS = [
    # connectives joining two questions
    (
        "What is Redis and how does it persist data?",
        ["What is Redis?", "How does it persist data?"],
    ),
    ("What is Python and what is Java?", ["What is Python?", "What is Java?"]),
    (
        "Tell me about Redis and also explain its persistence model.",
        ["Tell me about Redis.", "Explain its persistence model."],
    ),
    (
        "Summarize the report and list the open risks.",
        ["Summarize the report.", "List the open risks."],
    ),
    (
        "Explain Redis, then compare it with Memcached.",
        ["Explain Redis.", "Compare it with Memcached."],
    ),
    ("Python是什么以及如何安装它？", ["Python是什么？", "如何安装它？"]),
    ("Redis是什么和它怎么用？", ["Redis是什么？", "它怎么用？"]),
    ("介绍一下Redis，另外说说它的持久化方式", ["介绍一下Redis", "说说它的持久化方式"]),
    ("什么是向量检索，并且它如何扩展到十亿规模？", ["什么是向量检索？", "它如何扩展到十亿规模？"]),
    # sentences and clauses
    ("Redis是什么？它如何持久化数据？", ["Redis是什么？", "它如何持久化数据？"]),
    ("Redis 是什么？另外，它适合做消息队列吗？", ["Redis 是什么？", "它适合做消息队列吗？"]),
    (
        "What is Redis; how does it compare to Memcached?",
        ["What is Redis", "How does it compare to Memcached?"],
    ),
    (
        "Explain e.g. Redis. Then describe Memcached.",
        ["Explain e.g. Redis.", "Describe Memcached."],
    ),
    # enumerations
    (
        "1. What is Redis? 2. How does it persist data? 3. Is it single-threaded?",
        ["What is Redis?", "How does it persist data?", "Is it single-threaded?"],
    ),
    (
        "（1）什么是向量数据库（2）它和传统数据库有何不同",
        ["什么是向量数据库", "它和传统数据库有何不同"],
    ),
    (
        "①什么是LangGraph②它与LangChain的关系是什么",
        ["什么是LangGraph", "它与LangChain的关系是什么"],
    ),
    ("1、什么是RAG 2、如何评估RAG系统", ["什么是RAG", "如何评估RAG系统"]),
    (
        "First, what is Docker? Second, how is it different from a VM? "
        "Finally, when should I use it?",
        ["What is Docker?", "How is it different from a VM?", "When should I use it?"],
    ),
    (
        "首先，什么是Docker？其次，它和虚拟机有什么区别？最后，什么时候应该用它？",
        ["什么是Docker？", "它和虚拟机有什么区别？", "什么时候应该用它？"],
    ),
    ("第一，什么是RAG；第二，如何评估RAG系统？", ["什么是RAG", "如何评估RAG系统？"]),
    # listed items are questions even when they read as statements; the intro stays with the first
    (
        "我想了解两点：一是Redis的持久化机制，二是它的集群方案。",
        ["我想了解两点：Redis的持久化机制", "它的集群方案。"],
    ),
    (
        "About Python: 1. what is the GIL 2. how do I avoid it",
        ["About Python: What is the GIL", "How do I avoid it"],
    ),
    # a statement is context of the question after it
    (
        "I use Python 3.11. What is the GIL? How do I avoid it?",
        ["I use Python 3.11. What is the GIL?", "How do I avoid it?"],
    ),
]

WHOLE = [
    "What is Redis?",
    "Redis 是什么？",
    # noun phrases joined by a connective
    "What is the difference between salt and pepper?",
    "Do you prefer salt and pepper?",
    "What are the benefits as well as the risks of caching?",
    "什么是研究和开发？",
    "研究和开发的区别是什么？",
    "什么是机器学习和深度学习？",
    "我们的方案和他们的方案有什么不同？",
    "Redis、Memcached 和 MongoDB 各适合什么场景？",
    # one process, one question
    "How do I install Docker and then run a container?",
    # ordinal words that are no enumeration
    "Who was the first president of the USA?",
    "世界第一高峰是什么？",
    # commas, conditions and words that only look like connectives
    "如果明天下雨，我们应该怎么办？",
    "今年我还有多少假期？",
    "Tom and Jerry: who is smarter?",
    # numbers that are no list
    "What changed between Python 3.11 and 3.12?",
    # a short fragment stays attached
    "What is Redis? Why?",
    "Redis是什么？为什么？",
    # statements only
    "Redis is fast. It keeps data in memory.",
]


@pytest.mark.parametrize(("question", "expected"), SPLITS)
def test_splits(question: str, expected: list[str]) -> None:
    assert split_question(question) == expected


@pytest.mark.parametrize("question", WHOLE)
def test_stays_whole(question: str) -> None:
    assert split_question(question) == [question]


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_never_empty(blank: str) -> None:
    assert split_question(blank) == [blank]


def test_surrounding_space_is_dropped_but_the_question_kept() -> None:
    assert split_question("  What is Redis?\n") == ["What is Redis?"]


def test_repeats_are_asked_once_and_one_distinct_part_is_no_split() -> None:
    assert split_question("What is Redis? How does it scale? What is Redis?") == [
        "What is Redis?",
        "How does it scale?",
    ]
    assert split_question("What is Redis? What is Redis?") == ["What is Redis? What is Redis?"]
