"""Split a complex question into sub-questions by rules, in Chinese and English, without I/O.

The order of the rules:

1. Enumerations: numbered items (`1. … 2. …`, `1) …`, `1、…`, `(1) …`, `（1）…`, `①…②…`) and
   ordinal words (`first … second … finally`, `首先 … 其次 … 最后`, `第一 … 第二`, `一是 … 二是`).
   They count only as a sequence from one, at the start of a clause, and at least two of them.
2. Sentences and clauses: `。？！?!；;`, and `.` before a capital (not after `e.g.`, `Mr.`, an
   initial, or inside `3.11`). Commas and `、` never split by themselves.
3. Connectives inside a sentence. The noun-phrase heuristic: `and`, `as well as`, `also`,
   `then`, `plus`, `和`, `以及`, `与`, `并且`, `而且`, `然后` split only when the part before is
   itself a question or request and the part after *opens* one (a question word, an auxiliary
   such as `does`, a request verb such as `explain`, `介绍`, or in Chinese a pronoun followed by
   a question word). So "salt and pepper", "研究和开发", "什么是机器学习和深度学习" stay whole,
   while "What is Redis and how does it persist data?" splits. After a comma, `另外`, `此外`,
   `还有`, `同时`, `然后`, `并且`, `而且`, `再者` split whenever both sides are long enough.

Afterwards a part that is not a question or request (a statement such as "I use Python 3.11.",
or an intro ending in a colon) is kept as context of the question after it, and a fragment
too short to stand alone ("Why?", "为什么？") stays attached to the one before. The result is
never empty, and a question that needs no split comes back unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.-][A-Za-z0-9]+)*")
_CLAUSE_END = "，,；;：:。.？?！!"

# -- 1. enumerations ----------------------------------------------------------------------------

_NUMBERED = re.compile(
    r"(?:[(（](?P<paren>\d{1,2})[)）]|(?P<circled>[①-⑳])"
    # `1.`, `1)`, `1、` only at the start, or after a space or punctuation, and not in `3.11`
    r"|(?<![^\s:：,，;；.。?？!！])(?P<dot>\d{1,2})[.)、．](?!\d))\s*"
)
_ORDINAL_FAMILIES: tuple[tuple[str, str], ...] = (
    # (first marker, markers that may follow it), as regular expressions
    (r"first(?:ly)?", r"second(?:ly)?|third(?:ly)?|fourth(?:ly)?|next|then|finally|lastly"),
    (r"首先", r"其次|再次|然后|接着|再者|最后"),
    (r"第一", r"第[二三四五六七八九十]|最后"),
    (r"一是", r"[二三四五六七八九十]是"),
)
_CLAUSE_START = r"(?:^|(?<=[\s:：,，;；.。?？!！]))"
_ORDINALS = tuple(
    tuple(
        re.compile(
            # an English word ends there ("first", not "firstborn"); Chinese may run on
            rf"{_CLAUSE_START}(?:{words})(?!(?<=[A-Za-z])[A-Za-z])[，,：:]?\s*",
            re.IGNORECASE,
        )
        for words in family
    )
    for family in _ORDINAL_FAMILIES
)


def _numbered_markers(text: str) -> list[re.Match[str]]:
    """The numbered markers that form a sequence 1, 2, …; empty unless there are two or more."""
    chosen: list[re.Match[str]] = []
    for match in _NUMBERED.finditer(text):
        circled = match["circled"]
        number = ord(circled) - ord("①") + 1 if circled else int(match["paren"] or match["dot"])
        if number == len(chosen) + 1:
            chosen.append(match)
    return chosen if len(chosen) >= 2 else []


def _ordinal_markers(text: str) -> list[re.Match[str]]:
    """Ordinal words of one family from its first marker on; empty unless two or more."""
    for opener, follower in _ORDINALS:
        found = opener.search(text)
        if found is None:
            continue
        followers = list(follower.finditer(text, found.end()))
        if followers:
            return [found, *followers]
    return []


def _enumerated(text: str) -> tuple[str, list[str]]:
    """The text before the first marker (all of it when there are none) and the listed items,
    markers removed."""
    markers = _numbered_markers(text) or _ordinal_markers(text)
    if not markers:
        return text, []
    bounds = [m.start() for m in markers[1:]] + [len(text)]
    items = (text[m.end() : end].strip() for m, end in zip(markers, bounds, strict=True))
    return text[: markers[0].start()].strip(), [item for item in items if item]


# -- 2. sentences -------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[。？！?!；;]+[”’\"')）]*|\.(?=\s+[A-Z0-9\"“\u4e00-\u9fff])")
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "prof", "st", "no", "fig", "approx"}
)


def _sentences(text: str) -> list[str]:
    """The sentences and `;` clauses of `text`, each with its end punctuation."""
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.group() == "." and _abbreviation_before(text, match.start()):
            continue
        pieces.append(text[start : match.end()].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    return [piece for piece in pieces if piece]


def _abbreviation_before(text: str, dot: int) -> bool:
    """Whether the `.` at `dot` ends an abbreviation or an initial rather than a sentence."""
    word = text[:dot].rsplit(maxsplit=1)[-1].lower() if text[:dot].strip() else ""
    return len(word) == 1 or word in _ABBREVIATIONS


# -- 3. connectives -----------------------------------------------------------------------------

_EN_WH = r"what|why|how|when|where|which|who|whom|whose"
_EN_OPENER = re.compile(
    rf"(?:please\s+)?(?:{_EN_WH}|is|are|was|were|do|does|did|can|could|should|would|will|"
    r"shall|may|might|must|has|have|had|explain|describe|list|compare|tell|give|show|"
    r"summari[sz]e|define|name|provide|outline|suggest|recommend|write|calculate|estimate|"
    r"discuss|analy[sz]e|evaluate|translate|find|identify|check|help)\b",
    re.IGNORECASE,
)
_EN_QUESTION_WORD = re.compile(rf"\b(?:{_EN_WH})\b", re.IGNORECASE)
_ZH_QUESTION_WORD = re.compile(
    r"什么|如何|怎么|怎样|为什么|为何|哪|是否|能否|可否|有没有|是不是|多少|几[个种点次年岁]|谁|吗|呢"
)
_ZH_REQUEST = (
    r"请|介绍|解释|说明|列出|列举|比较|描述|分析|告诉|讲讲|讲一下|说说|谈谈|总结|给出|推荐|"
    r"帮我|对比"
)
_ZH_OPENER = re.compile(
    rf"(?:{_ZH_QUESTION_WORD.pattern}|{_ZH_REQUEST})"
    r"|(?P<pronoun>它们?|他们?|她们?|这|那|其|我们?|你们?)"
)
_WEAK_CONNECTIVE = re.compile(
    r"[,，]?\s*(?:\b(?:and\s+also|and\s+then|as\s+well\s+as|and|also|then|plus)\b"
    r"|以及|并且|而且|然后|和|与)\s*",
    re.IGNORECASE,
)
_STRONG_CONNECTIVE = re.compile(r"[，,]\s*(?:另外|此外|还有|同时|然后|并且|而且|再者)[，,]?\s*")
_LEADING_CONNECTIVE = re.compile(
    r"^(?:(?:and\s+also|and\s+then|and|also|then|plus|additionally|in\s+addition|furthermore|"
    r"moreover)\b[,，]?\s*|(?:另外|此外|还有|同时|然后|并且|而且|再者|以及)[，,]\s*)",
    re.IGNORECASE,
)
_TRAILING_JOINERS = " ,，、;；"


def _at_connectives(sentence: str) -> list[str]:
    """`sentence` split where a connective joins two questions (see the module docstring)."""
    end = sentence[-1] if sentence[-1] in "?？.。!！" else ""
    for match in _connectives(sentence):
        left = sentence[: match.start()].rstrip(_TRAILING_JOINERS)
        right = sentence[match.end() :].strip()
        strong = _STRONG_CONNECTIVE.fullmatch(match.group()) is not None
        if strong:
            joined = _substantial(left) and _substantial(right)
        else:
            joined = _asks(left) and _substantial(left) and _opens_question(right)
        if joined:
            if end and left[-1] not in _CLAUSE_END:
                left += end
            return [left, *_at_connectives(right)]
    return [sentence]


def _connectives(sentence: str) -> Iterator[re.Match[str]]:
    """Every candidate connective in `sentence`, in order of position."""
    found = [*_STRONG_CONNECTIVE.finditer(sentence), *_WEAK_CONNECTIVE.finditer(sentence)]
    return iter(sorted(found, key=lambda m: (m.start(), -len(m.group()))))


def _opens_question(text: str) -> bool:
    """Whether `text` starts a new question or request."""
    if _EN_OPENER.match(text):
        return True
    opener = _ZH_OPENER.match(text)
    if opener is None:
        return False
    # A pronoun opens a question only when one follows ("它如何…"), not in "我们的方案".
    return opener["pronoun"] is None or _ZH_QUESTION_WORD.search(text) is not None


def _asks(text: str) -> bool:
    """Whether `text` is a question or a request rather than a statement."""
    text = text.strip()
    if not text or text.endswith((":", "：")):
        return False
    return (
        text.endswith(("?", "？"))
        or _opens_question(text)
        or _EN_QUESTION_WORD.search(text) is not None
        or _ZH_QUESTION_WORD.search(text) is not None
    )


def _substantial(text: str) -> bool:
    """Long enough to stand alone: three words, two of ten letters or more ("Explain Redis",
    not "Why not?"), or four Chinese characters and words together."""
    words = _LATIN_WORD.findall(text)
    if len(words) >= 3 or len(words) + len(_CJK.findall(text)) >= 4:
        return True
    return len(words) == 2 and sum(len(word) for word in words) >= 10


# -- putting it together ------------------------------------------------------------------------


def _tidy(piece: str) -> str:
    """A part without a leading connective, trailing commas, or a lower-case first letter."""
    piece = _LEADING_CONNECTIVE.sub("", piece.strip()).rstrip(_TRAILING_JOINERS)
    if piece[:1].isascii() and piece[:1].islower():
        piece = piece[0].upper() + piece[1:]
    return piece


def _join(first: str, second: str) -> str:
    """Two parts as one text: no space after full-width punctuation or between Chinese."""
    if first[-1:] in "。？！；：，" or (_CJK.match(first[-1:]) and _CJK.match(second[:1])):
        return first + second
    return f"{first} {second}"


def _attached(pieces: list[tuple[str, bool]]) -> list[str]:
    """Statements joined to the question after them, short fragments to the one before; a
    listed part (`True`: an item of an enumeration) is a question even when it reads as none."""
    merged: list[str] = []
    context = ""
    for piece, listed in pieces:
        if context:
            piece, context = _join(context, piece), ""
        if not (listed or _asks(piece)):
            context = piece
        elif merged and not _substantial(piece):
            merged[-1] = _join(merged[-1], piece)
        else:
            merged.append(piece)
    if context:
        if merged:
            merged[-1] = _join(merged[-1], context)
        else:
            merged.append(context)
    return merged


def split_question(text: str) -> list[str]:
    """The sub-questions of `text`, in order; `[text]` (stripped) when it needs no split."""
    question = text.strip()
    if not question:
        return [text]
    intro, items = _enumerated(question)
    pieces = [
        (tidied, listed)
        for text, listed in ((intro, False), *((item, True) for item in items))
        for sentence in _sentences(text)
        for part in _at_connectives(sentence)
        if (tidied := _tidy(part))
    ]
    unique = list(dict.fromkeys(_attached(pieces)))
    return unique if len(unique) > 1 else [question]
