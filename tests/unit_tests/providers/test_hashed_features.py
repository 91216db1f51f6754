"""Hashed word feature vectors: stable, unit length, paraphrases close, unrelated texts far."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from infrastructure.llm.providers.hashed_features import (
    DEFAULT_DIMENSIONS,
    cosine_similarity,
    hashed_feature_vector,
    text_features,
)

PARAPHRASES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "data" / "paraphrases.yaml").read_text("utf-8")
)
THRESHOLD = 0.8


def _similarity(first: str, second: str) -> float:
    return cosine_similarity(hashed_feature_vector(first), hashed_feature_vector(second))


def _pairs(kind: str, language: str) -> list[tuple[str, str]]:
    return [(first, second) for first, second in PARAPHRASES[kind][language]]


def test_vectors_are_the_same_in_every_process() -> None:
    # blake2b, not hash(): these exact values hold whatever PYTHONHASHSEED is.
    assert hashed_feature_vector("cat", 8) == [0.0, 0.0, -1.0, 0, 0, 0, 0, 0]
    assert hashed_feature_vector("猫", 8) == [0.0, 0.0, 0.0, 1.0, 0, 0, 0, 0]
    text = "How do I reverse a list in Python? 如何反转列表"
    assert hashed_feature_vector(text) == hashed_feature_vector(text)


@pytest.mark.parametrize("dimensions", [1, 2, 64, DEFAULT_DIMENSIONS, 3072])
def test_vectors_have_the_asked_length_and_unit_norm(dimensions: int) -> None:
    vector = hashed_feature_vector("The quick brown fox jumps over the lazy dog 天气", dimensions)
    assert len(vector) == dimensions
    assert math.isclose(math.fsum(v * v for v in vector), 1.0)


def test_default_dimensions_is_768() -> None:
    assert len(hashed_feature_vector("hello")) == DEFAULT_DIMENSIONS == 768


@pytest.mark.parametrize("dimensions", [0, -3, 1.5, True, "768"])
def test_bad_dimensions_are_refused(dimensions: Any) -> None:
    with pytest.raises(ValueError, match="dimensions must be a whole number >= 1"):
        hashed_feature_vector("hello", dimensions)


def test_texts_without_words_share_one_unit_vector_far_from_any_text() -> None:
    empty = hashed_feature_vector("")
    assert math.isclose(math.fsum(v * v for v in empty), 1.0)
    assert hashed_feature_vector("   ") == hashed_feature_vector("?!…") == empty
    assert abs(cosine_similarity(empty, hashed_feature_vector("What is the weather?"))) < 0.2


def test_a_text_of_stop_words_keeps_them() -> None:
    assert text_features("Who are you?") == ["w:who", "w:are", "w:you"]
    assert _similarity("Who are you?", "What is it?") < 0.2
    assert _similarity("你是谁", "是吗") < 0.5


def test_words_are_lowercased_stemmed_and_width_normalised() -> None:
    assert text_features("Cats RUNNING, studies: ＡＢＣ") == ["w:cat", "w:run", "w:studi", "w:abc"]
    assert text_features("cat running study abc") == ["w:cat", "w:run", "w:studi", "w:abc"]
    assert text_features("summarize the summary") == ["w:summari", "w:summari"]
    assert text_features("What's the capital?") == ["w:capital"]


def test_chinese_is_split_at_particles_into_characters_and_bigrams() -> None:
    assert text_features("今天的天气怎么样？") == [
        "c:今",
        "c:天",
        "b:今天",
        "c:天",
        "c:气",
        "b:天气",
    ]
    assert text_features("用Python反转") == ["c:用", "w:python", "c:反", "c:转", "b:反转"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("How do I reverse a list in Python?", "How can I reverse a Python list?"),
        ("Explain how photosynthesis works.", "How does photosynthesis work?"),
        ("Why is the sky blue?", "why is the sky blue"),
        ("怎么重置我的密码？", "如何重置密码？"),
        ("感冒有哪些症状？", "感冒的症状有哪些？"),
        ("今天天气怎么样？", "今天的天气如何？"),
    ],
)
def test_paraphrases_are_close(first: str, second: str) -> None:
    assert _similarity(first, second) >= THRESHOLD


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("What is the capital of France?", "How do I reverse a list in Python?"),
        ("Why is the sky blue?", "What causes earthquakes?"),
        ("今天天气怎么样？", "法国的首都是哪里？"),
        ("What is the capital of France?", "法国的首都是哪里？"),
    ],
)
def test_unrelated_texts_are_far(first: str, second: str) -> None:
    assert abs(_similarity(first, second)) < 0.2


@pytest.mark.parametrize(("language", "at_least"), [("en", 18), ("zh", 13)])
def test_most_paraphrases_of_the_set_match_at_0_8(language: str, at_least: int) -> None:
    pairs = _pairs("match", language)
    matched = [pair for pair in pairs if _similarity(*pair) >= THRESHOLD]
    assert len(pairs) == 20
    assert len(matched) >= at_least


@pytest.mark.parametrize("language", ["en", "zh"])
def test_no_unrelated_pair_of_the_set_comes_near_the_threshold(language: str) -> None:
    assert max(_similarity(*pair) for pair in _pairs("unrelated", language)) < 0.2


@pytest.mark.parametrize("language", ["en", "zh"])
def test_near_misses_of_the_set_stay_below_0_8_but_for_swapped_words(language: str) -> None:
    above = [pair for pair in _pairs("near_miss", language) if _similarity(*pair) >= THRESHOLD]
    # A bag of words cannot tell "F to C" from "C to F": the one known false match.
    swapped = (
        "Convert 100 degrees Fahrenheit to Celsius",
        "Convert 100 degrees Celsius to Fahrenheit",
    )
    assert above == ([swapped] if language == "en" else [])


def test_cosine_similarity_of_zero_vectors_is_zero_and_lengths_must_agree() -> None:
    assert cosine_similarity([0.0, 0.0], [1.0, 0.0]) == 0.0
    assert cosine_similarity([3.0, 4.0], [6.0, 8.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="vectors differ in length: 2 and 3"):
        cosine_similarity([1.0, 0.0], [1.0, 0.0, 0.0])
