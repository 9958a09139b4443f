"""Extractive question answering (SQuAD, XQuAD, MLQA, TyDiQA-GoldP): the answer is a span
of the context, predicted as its start and end tokens over overlapping windows.

Settings (``Task.settings``, a ``SpanQASettings``) and their defaults: ``doc_stride`` (128) tokens shared by
consecutive windows, transformers' meaning (the BERT and XTREME scripts step 128 tokens
instead: more overlap, the same answers whole in some window); ``max_question_length``
(64) tokens kept of a question; ``n_best`` (20) start and end candidates per window;
``max_answer_length`` (30) tokens; ``normalisation`` ("squad", or "mlqa" for MLQA's
per-language one).

SQuAD v2.0 adds questions the context does not answer (an empty answer list), behind
``unanswerable`` (False): such a question trains every window on the CLS token; a prediction
is "" (no answer) where the null score, the lowest CLS start + end logit over the question's
windows, beats the best span's score by more than ``null_score_threshold`` (0.0), the rule of
the SQuAD v2 BERT and transformers scripts; and scoring is SQuAD v2's (``tasks.scoring.qa_v2``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tasks.families._base import Infer, TaskFamily, first_bad_row, is_text, missing_column
from tasks.scoring.qa import Normalise, normalise_mlqa, normalise_squad, score_answers
from tasks.scoring.qa_v2 import score_answers_v2
from tasks.task import Task

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def _normaliser(task: Task, language: str) -> Normalise:
    if task.settings.normalisation == "mlqa":
        return lambda text: normalise_mlqa(text, language)
    return normalise_squad


def _is_answers(value: object) -> bool:
    if not isinstance(value, dict):
        return False
    texts, starts = value.get("text"), value.get("answer_start")
    return isinstance(texts, list) and isinstance(starts, list) and len(texts) == len(starts)


def _truncate_questions(questions: list[str], tokenizer: PreTrainedTokenizerBase, max_tokens: int) -> list[str]:
    """Each question cut after its first ``max_tokens`` tokens, so that the context keeps
    room for every window (the original BERT and XTREME scripts cut at 64 as well)."""
    offsets = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    return [
        question if len(spans) <= max_tokens else question[: spans[max_tokens - 1][1]]
        for question, spans in zip(questions, offsets, strict=True)
    ]


def _tokenize(batch: dict, task: Task, tokenizer: PreTrainedTokenizerBase, max_length: int):
    """Question and context, the context cut into windows of ``max_length`` tokens that
    share ``doc_stride`` tokens, with each token's character offsets."""
    columns = task.columns
    stride, max_question = task.settings.doc_stride, task.settings.max_question_length
    room = max_length - max_question - tokenizer.num_special_tokens_to_add(pair=True)
    if stride >= room:
        raise ValueError(
            f"{task.name}: doc_stride {stride} leaves no new context per window of {max_length} tokens "
            f"with questions of up to {max_question} tokens (at most {room - 1})"
        )
    # Leading spaces in a question only take room from the context.
    questions = [question.lstrip() for question in batch[columns["question"]]]
    return tokenizer(
        _truncate_questions(questions, tokenizer, max_question),
        batch[columns["context"]],
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )


def _context_span(sequence_ids: list[int | None]) -> tuple[int, int]:
    """The first and last token of the context in one window."""
    tokens = [index for index, sequence in enumerate(sequence_ids) if sequence == 1]
    return tokens[0], tokens[-1]


def _answer_tokens(
    offsets: Sequence[tuple[int, int]], sequence_ids: list[int | None], start_char: int, end_char: int, cls: int
) -> tuple[int, int]:
    """The window's first and last token of the answer at ``[start_char, end_char)``, or the
    CLS token twice where the window does not hold the whole answer."""
    first, last = _context_span(sequence_ids)
    if offsets[first][0] > start_char or offsets[last][1] < end_char:
        return cls, cls
    start = next(index for index in range(first, last + 1) if offsets[index][1] > start_char)
    end = next(index for index in range(last, first - 1, -1) if offsets[index][0] < end_char)
    return start, end


def windows(rows: Dataset, task: Task, tokenizer: PreTrainedTokenizerBase, max_length: int) -> Dataset:
    """Evaluation windows: model inputs, the row each came from (``example``) and the
    character offsets of its context tokens (None for question and special tokens)."""

    def tokenize(batch: dict, indices: list[int]) -> dict:
        encoded = _tokenize(batch, task, tokenizer, max_length)
        examples, offsets = [], []
        for window, row in enumerate(encoded["overflow_to_sample_mapping"]):
            sequence_ids = encoded.sequence_ids(window)
            examples.append(indices[row])
            offsets.append(
                [
                    span if sequence == 1 else None
                    for span, sequence in zip(encoded["offset_mapping"][window], sequence_ids, strict=True)
                ]
            )
        return {
            "input_ids": encoded["input_ids"],
            "attention_mask": encoded["attention_mask"],
            "example": examples,
            "offset_mapping": offsets,
        }

    return rows.map(tokenize, batched=True, with_indices=True, remove_columns=rows.column_names)


def _best_span(
    context: str,
    features: list[tuple[np.ndarray, np.ndarray, list]],
    n_best: int,
    max_answer_length: int,
) -> tuple[float, str]:
    """The highest-scoring valid span (start + end logit) over all windows of one context, and
    its score (-inf and "" where no window holds a valid span)."""
    best_score, best_text = -np.inf, ""
    for start_logits, end_logits, offsets in features:
        # Logits past a window's own length are batch padding.
        start_logits, end_logits = start_logits[: len(offsets)], end_logits[: len(offsets)]
        starts = np.argsort(start_logits)[::-1][:n_best]
        ends = np.argsort(end_logits)[::-1][:n_best]
        for start in starts:
            for end in ends:
                if offsets[start] is None or offsets[end] is None:
                    continue
                if end < start or end - start + 1 > max_answer_length:
                    continue
                score = start_logits[start] + end_logits[end]
                if score > best_score:
                    best_score, best_text = score, context[offsets[start][0] : offsets[end][1]]
    return best_score, best_text


def _null_scores(features: Dataset, start_logits: np.ndarray, end_logits: np.ndarray, cls_id: int) -> dict[int, float]:
    """Each row's null score: the lowest CLS start + end logit over its windows."""
    scores: dict[int, float] = {}
    for index, (example, ids) in enumerate(zip(features["example"], features["input_ids"], strict=True)):
        cls = ids.index(cls_id)
        scores[example] = min(float(start_logits[index][cls] + end_logits[index][cls]), scores.get(example, np.inf))
    return scores


class SpanQA(TaskFamily):
    def encode(self, rows: Dataset, task: Task, tokenizer, max_length: int) -> Dataset:
        """Training windows labelled with the answer's start and end token
        (``start_positions``/``end_positions``, the question-answering head's labels)."""
        columns = task.columns

        def tokenize(batch: dict) -> dict:
            encoded = _tokenize(batch, task, tokenizer, max_length)
            starts, ends = [], []
            for window, row in enumerate(encoded["overflow_to_sample_mapping"]):
                answers = batch[columns["answers"]][row]
                cls = encoded["input_ids"][window].index(tokenizer.cls_token_id)
                if not answers["text"]:
                    if not task.settings.unanswerable:
                        raise ValueError(
                            f"{task.name}: a training question without an answer; "
                            "unanswerable questions need settings.unanswerable"
                        )
                    starts.append(cls)
                    ends.append(cls)
                    continue
                # SQuAD-style training data holds one answer per question.
                start_char = answers["answer_start"][0]
                end_char = start_char + len(answers["text"][0])
                start, end = _answer_tokens(
                    encoded["offset_mapping"][window], encoded.sequence_ids(window), start_char, end_char, cls
                )
                starts.append(start)
                ends.append(end)
            return {
                "input_ids": encoded["input_ids"],
                "attention_mask": encoded["attention_mask"],
                "start_positions": starts,
                "end_positions": ends,
            }

        return rows.map(tokenize, batched=True, remove_columns=rows.column_names)

    def build_model(self, encoder_path: str, task: Task) -> PreTrainedModel:
        from transformers import AutoModelForQuestionAnswering

        return AutoModelForQuestionAnswering.from_pretrained(encoder_path)

    def predict(
        self, rows: Dataset, task: Task, tokenizer, max_length: int, infer: Infer, language: str, data: str
    ) -> list[str]:
        features = windows(rows, task, tokenizer, max_length)
        start_logits, end_logits = infer(features.select_columns(["input_ids", "attention_mask"]))
        by_example: dict[int, list] = {}
        for index, (example, offsets) in enumerate(zip(features["example"], features["offset_mapping"], strict=True)):
            by_example.setdefault(example, []).append((start_logits[index], end_logits[index], offsets))
        settings = task.settings
        best = [
            _best_span(context, by_example.get(example, []), settings.n_best, settings.max_answer_length)
            for example, context in enumerate(rows[task.columns["context"]])
        ]
        if not settings.unanswerable:
            return [text for _, text in best]
        null_scores = _null_scores(features, start_logits, end_logits, tokenizer.cls_token_id)
        return [
            "" if null_scores.get(example, np.inf) - score > settings.null_score_threshold else text
            for example, (score, text) in enumerate(best)
        ]

    def check_rows(self, rows: Dataset, task: Task) -> str | None:
        texts = [task.columns["context"], task.columns["question"]]
        answers = task.columns["answers"]
        problem = missing_column(rows, [*texts, answers])
        for column in texts:
            problem = problem or first_bad_row(rows[column], lambda v: not is_text(v), column, "text")
        expected = "{'text': [...], 'answer_start': [...]}, one start per answer text"
        return problem or first_bad_row(rows[answers], lambda v: not _is_answers(v), answers, expected)

    def gold(self, rows: Dataset, task: Task) -> list[list[str]] | None:
        """Each question's gold answer texts (none for an unanswerable SQuAD v2 question)."""
        answers = [list(row["text"]) for row in rows[task.columns["answers"]]]
        # Unlabelled splits carry no answers; with unanswerable questions, none means "no answer".
        if not task.settings.unanswerable and any(not texts for texts in answers):
            return None
        return answers

    def score(
        self, predictions: Sequence[str], gold: Sequence[Sequence[str]], task: Task, language: str
    ) -> dict[str, float]:
        normalise = _normaliser(task, language)
        if task.settings.unanswerable:
            return score_answers_v2(predictions, gold, normalise)
        return score_answers(predictions, gold, normalise)

    def submission_format(self, task: Task) -> str:
        return "squad_json"
