"""The local rows of the retrieval tasks without a usable hub copy, built from their official
files: LAReQA from XQuAD-R (the hub copy lacks its sentence breaks) and BUCC from its
tab-separated sentence and gold files (the hub's copy holds the gold pairs only)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tasks.task import Task


def lareqa_rows(xquad_r: Mapping[str, Mapping], language: str) -> list[dict]:
    """One language's LAReQA file in the local layout, from XQuAD-R's files (SQuAD JSON with
    ``sentence_breaks``; ``{language: json}``): the language's questions, then the pool of
    every language's sentences. A sentence answers a question where it is the sentence
    holding the answer's start, or the same text in that paragraph; a question whose answer
    starts outside every sentence is left out, and so is a paragraph left without
    questions (as XTREME-R's ``utils_lareqa`` builds its sets)."""
    empty = dict.fromkeys(("id", "question", "candidate", "sentence", "context", "answers"))
    questions, pool = [], []
    for lang, squad in xquad_r.items():
        paragraphs = [paragraph for article in squad["data"] for paragraph in article["paragraphs"]]
        for number, paragraph in enumerate(paragraphs, start=1):
            context = paragraph["context"]
            sentences = [context[start:end] for start, end in paragraph["sentence_breaks"]]
            answers: list[list[str]] = [[] for _ in sentences]
            for qa in paragraph["qas"]:
                start = qa["answers"][0]["answer_start"]
                held = [i for i, (first, last) in enumerate(paragraph["sentence_breaks"]) if first <= start < last]
                if not held:
                    continue
                for i, sentence in enumerate(sentences):
                    if sentence == sentences[held[0]]:
                        answers[i].append(qa["id"])
                if lang == language:
                    questions.append({**empty, "id": qa["id"], "question": qa["question"]})
            if any(answers):
                pool += [
                    {**empty, "candidate": f"{lang}_{number}_{i}", "sentence": s, "context": context, "answers": a}
                    for i, (s, a) in enumerate(zip(sentences, answers, strict=True))
                ]
    return questions + pool


def bucc_rows(task: Task, sources: Iterable[str], targets: Iterable[str], gold: Iterable[str]) -> list[dict]:
    """Rows in the hub's columns from BUCC's official files: ``id<TAB>sentence`` lines of
    each side and ``source-id<TAB>target-id`` gold lines. One row per gold pair, then one
    per sentence of either side that no gold pair holds."""
    columns = task.columns

    def sentences(lines: Iterable[str]) -> dict[str, str]:
        return dict(line.rstrip("\n").split("\t", 1) for line in lines if line.strip())

    source_of, target_of = sentences(sources), sentences(targets)
    pairs = [tuple(line.split()) for line in gold if line.strip()]
    rows = [
        {
            columns["source"]: source_of[s],
            columns["source_id"]: s,
            columns["target"]: target_of[t],
            columns["target_id"]: t,
        }
        for s, t in pairs
    ]
    paired_sources, paired_targets = {s for s, _ in pairs}, {t for _, t in pairs}
    for sentence_id, text in source_of.items():
        if sentence_id not in paired_sources:
            rows.append(
                {
                    columns["source"]: text,
                    columns["source_id"]: sentence_id,
                    columns["target"]: None,
                    columns["target_id"]: None,
                }
            )
    for sentence_id, text in target_of.items():
        if sentence_id not in paired_targets:
            rows.append(
                {
                    columns["source"]: None,
                    columns["source_id"]: None,
                    columns["target"]: text,
                    columns["target_id"]: sentence_id,
                }
            )
    return rows
