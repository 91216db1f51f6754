"""Deterministic "hashed word feature" vectors: the embeddings of the mock provider and of the
simulator's `/v1/embeddings`, under which paraphrases are close and unrelated texts are far.

A text becomes features: English words (lower-cased, stop words dropped, light suffix
stripping so "cats" and "cat" match) and Chinese characters and character bigrams (CJK
ranges, split at particles, pronouns and question words). A text made only of stop words
keeps them all. Each feature is hashed with blake2b (stable across processes, unlike `hash`)
into one of `dimensions` buckets with a sign, and the vector is L2-normalised, so cosine
similarity is a dot product. No vector is zero: a text with no words at all gets the vector
of a reserved "no content" feature.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from functools import lru_cache

DEFAULT_DIMENSIONS = 768

_CJK = (
    "\u3400-\u4dbf"  # Extension A
    "\u4e00-\u9fff"  # Unified Ideographs
    "\uf900-\ufaff"  # Compatibility Ideographs
    "\U00020000-\U0002ebef"  # Extensions B-F
)
_TOKEN = re.compile(rf"[a-z0-9]+(?:'[a-z]+)?|[{_CJK}]+")
_STEM_LENGTH = 7  # longer stems are cut: "summarize" and "summary" both become "summari"
_EMPTY_FEATURE = "e:"  # the one feature of a text without words
# Weight of each kind of feature: a Chinese character counts half as much as a bigram or a
# word, which keeps "今天天气" and "明天天气" apart.
_WEIGHTS = {"w": 1.0, "c": 0.5, "b": 1.0, "e": 1.0}

_ENGLISH_STOP_TEXT = """
    a about am an and any are as at be been being but by can could did do does doing explain
    for from get give had has have having he her hers him his how i if in into is it its
    just know let me my myself need of on or our ours please she should show so some tell
    than that the their them then there these they this those to us want was we were what
    when where which who whom why will with would you your yours
"""
_ENGLISH_STOP_WORDS = frozenset(_ENGLISH_STOP_TEXT.split())
_CHINESE_STOP_TEXT = """
    怎么样 怎么 怎样 如何 什么 为什么 哪里 哪儿 哪个 哪些 哪一 多少 一下 一共 是不是 有没有 请问
    可以 能否 需要 关于 给我 我们 你们 他们 是 的 了 吗 呢 吧 啊 呀 么 我 你 您 他 她 它 这 那
    请 哪 有 在 和 与 及 或 也 就 把 被 从 几 个 一
"""
# Longest first, so that "怎么样" is removed whole rather than as "怎么" and "样".
_CHINESE_STOP = re.compile(
    "|".join(map(re.escape, sorted(_CHINESE_STOP_TEXT.split(), key=len, reverse=True)))
)


def hashed_feature_vector(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """The unit-length hashed feature vector of `text`, with `dimensions` components."""
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
        raise ValueError(f"dimensions must be a whole number >= 1, got {dimensions!r}")
    counts = Counter(text_features(text)) or Counter({_EMPTY_FEATURE: 1})
    buckets = _accumulate(counts, dimensions, signed=True)
    norm = math.sqrt(sum(value * value for value in buckets.values()))
    if norm == 0.0:  # the features cancelled out in shared buckets: drop the signs
        buckets = _accumulate(counts, dimensions, signed=False)
        norm = math.sqrt(sum(value * value for value in buckets.values()))
    vector = [0.0] * dimensions
    for bucket, value in buckets.items():
        vector[bucket] = value / norm
    return vector


def text_features(text: str) -> list[str]:
    """The features of `text`, tagged by kind: `w:` English word stems, `c:` Chinese
    characters, `b:` Chinese character bigrams. Stop words count only in a text of nothing
    else ("Who are you?" and "What is it?" must not both be empty)."""
    tokens = _TOKEN.findall(unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'"))
    return list(_features(tokens, drop_stop_words=True)) or list(
        _features(tokens, drop_stop_words=False)
    )


def cosine_similarity(first: Sequence[float], second: Sequence[float]) -> float:
    """Cosine similarity of two vectors of the same length; 0.0 when either is all zeros."""
    if len(first) != len(second):
        raise ValueError(f"vectors differ in length: {len(first)} and {len(second)}")
    dot = sum(a * b for a, b in zip(first, second, strict=True))
    norms = math.sqrt(sum(a * a for a in first)) * math.sqrt(sum(b * b for b in second))
    return dot / norms if norms else 0.0


def _features(tokens: list[str], *, drop_stop_words: bool) -> Iterator[str]:
    """The features of English words and runs of Chinese characters, in text order."""
    for token in tokens:
        if token[0].isascii():
            word = token.split("'", 1)[0]
            if not (drop_stop_words and word in _ENGLISH_STOP_WORDS):
                yield "w:" + _stem(word)
        else:
            segments = _CHINESE_STOP.split(token) if drop_stop_words else [token]
            for segment in segments:
                yield from ("c:" + char for char in segment)
                yield from ("b:" + segment[i : i + 2] for i in range(len(segment) - 1))


def _stem(word: str) -> str:
    """A light English stem: plural, -ing, -ed, -ly and final e off, final y as i, cut to
    seven letters ("cats", "cat" -> "cat"; "studies", "study" -> "studi"; "making", "make"
    -> "mak")."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # "running" -> "run"
            break
    if word.endswith("ly") and len(word) > 5:
        word = word[:-2]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if word.endswith("y") and len(word) > 3 and word[-2] not in "aeiou":
        word = word[:-1] + "i"
    return word[:_STEM_LENGTH]


def _accumulate(counts: Counter[str], dimensions: int, *, signed: bool) -> dict[int, float]:
    """The non-empty buckets: each feature's weight (its kind's, times 1 + log of its count)
    summed into its bucket."""
    buckets: dict[int, float] = {}
    for feature, count in counts.items():
        bucket, sign = _bucket(feature, dimensions)
        weight = _WEIGHTS[feature[0]] * (1.0 + math.log(count))
        buckets[bucket] = buckets.get(bucket, 0.0) + (sign if signed else 1.0) * weight
    return buckets


@lru_cache(maxsize=65536)
def _bucket(feature: str, dimensions: int) -> tuple[int, float]:
    """The bucket and sign of a feature: from its blake2b digest, the same in every process."""
    digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
    return (digest >> 1) % dimensions, 1.0 if digest & 1 else -1.0
