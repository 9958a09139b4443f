"""The texts retrieval embeds: English sentence breaks (LAReQA's training candidates) and
Mewsli-X's mention queries and entity descriptions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Sentence ends: punctuation, closing quotes or brackets, space, then what opens a
# sentence. A simpler cousin of XTREME-R's SQuAD sentence breaker (``sb_sed.py``), for
# English training paragraphs only: evaluation uses XQuAD-R's own sentence breaks.
_SENTENCE_END = re.compile(r"""[.?!][)'"\u201d]*\s+(?=[\['"(\u201c]?[A-Z0-9])""")
_ABBREVIATION = re.compile(r"\b(?:Mrs?|Ms|Dr|Prof|St|Jr|Sr|Gen|Col|Capt|Gov|Sen|Rep|Rev|vs|e\.g|i\.e|U\.S|[A-Z])\.$")


def sentence_breaks(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences of an English paragraph."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        end = match.start() + len(match.group().rstrip())
        if not _ABBREVIATION.search(text[start:end]):
            spans.append((start, end))
            start = match.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


def _normalized(text: str) -> str:
    # Mewsli-X's light normalisation: newlines and double spaces to single spaces.
    return " ".join(text.splitlines()).replace("  ", " ").strip()


def mention_query(context: Mapping[str, Any], mention: Mapping[str, Any]) -> str:
    """Mewsli-X's baseline query: the mention, a colon, then the sentence that holds it with
    the mention in braces (braces already in the text become parentheses)."""
    span = mention["mention_span"]
    text, start, end = context["text"], span["start"], span["end"]
    sentence = next(
        (s for s in context.get("sentence_spans") or () if s["start"] <= start and end <= s["end"]),
        {"start": 0, "end": len(text)},
    )

    def escaped(part: str) -> str:
        return re.sub(r"\{(.*?)\}", r"(\1)", part)

    left, right = escaped(text[sentence["start"] : start]), escaped(text[end : sentence["end"]])
    return _normalized(f"{span['text']}: {left} {{ {span['text']} }} {right}")


def entity_text(entity: Mapping[str, Any]) -> str:
    """An entity's description, its sentences joined by spaces."""
    description = entity["description"]
    return _normalized(" ".join(description[s["start"] : s["end"]] for s in entity["sentence_spans"]))
