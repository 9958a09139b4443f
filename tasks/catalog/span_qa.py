"""Span-extraction QA entries: XQuAD and MLQA (trained on SQuAD v1.1) and TyDiQA-GoldP
(trained on its English part)."""

from tasks.task import Recipe, Size, Source, Submission, Task

XQUAD_LANGUAGES = tuple("ar de el en es hi ro ru th tr vi zh".split())
MLQA_LANGUAGES = tuple("ar de en es hi vi zh".split())
TYDIQA_LANGUAGES = tuple("ar bn en fi id ko ru sw te".split())

# Every source here has the hub's SQuAD layout: id, context, question and
# answers {text: [...], answer_start: [...]} (SQuAD and TyDiQA also a title).
QA_COLUMNS = {"id": "id", "context": "context", "question": "question", "answers": "answers"}
QA_RECIPE = Recipe(epochs=2, max_length=384, batch_size=16)

# rajpurkar/squad, google/xquad and google-research-datasets/tydiqa hold parquet files on
# their default branch. google/xquad's configs are xquad.<lang>, xquad.ro (XTREME-R's
# addition) among them, each with a validation split only (XTREME's XQuAD test set).
# MLQA: facebook/mlqa's main is a loading script, and its parquet export has no README, so
# `datasets` refuses its config names there; google/xtreme holds the same files as
# MLQA.<context language>.<question language> (validation and test), as parquet since its
# conversion (hub PR #9).
SQUAD = "rajpurkar/squad"
SQUAD_REVISION = "main"
XQUAD = "google/xquad"
XQUAD_REVISION = "main"
# By file path (layout "files") at a commit whose tree holds MLQA.<c>.<q>/<split>-00000-of-
# 00001.parquet but still the loading script: see tasks/catalog/tagging.py.
MLQA = "google/xtreme"
MLQA_REVISION = "b09e9378cb97d39c628feb5135a749ac43e7ea5e"
TYDIQA = "google-research-datasets/tydiqa"
TYDIQA_REVISION = "main"

SQUAD_TRAIN = Source("squad", SQUAD, "plain_text", "train", SQUAD_REVISION)
# TyDiQA-GoldP is its "secondary_task": every language in one train and one validation
# split, the language being the first word of each id ("english-…", "arabic-…"). Training
# keeps the English rows, each language's dev its own; the split has no test labels.
TYDIQA_TRAIN = Source("tydiqa", TYDIQA, "secondary_task", "train", TYDIQA_REVISION, id_prefix="english-")
TYDIQA_ID_PREFIXES = {
    "ar": "arabic-", "bn": "bengali-", "en": "english-", "fi": "finnish-", "id": "indonesian-",
    "ko": "korean-", "ru": "russian-", "sw": "swahili-", "te": "telugu-",
}  # fmt: skip


def _mlqa(lang: str, split: str) -> Source:
    return Source("mlqa", MLQA, f"MLQA.{lang}.{lang}", split, MLQA_REVISION, layout="files")


TASKS: tuple[Task, ...] = (
    Task(
        name="xquad",
        kind="target",
        family="span_qa",
        metric="f1",
        languages=XQUAD_LANGUAGES,
        train=SQUAD_TRAIN,
        dev={lang: Source("xquad", XQUAD, f"xquad.{lang}", "validation", XQUAD_REVISION) for lang in XQUAD_LANGUAGES},
        columns=QA_COLUMNS,
        train_source="squad",
        recipe=QA_RECIPE,
        size=Size(train_examples=87_599, eval_examples_per_language=1_190, mean_tokens=200),
        submission=Submission(benchmarks=("xtreme", "xtreme-r"), added_in_xtreme_r=("ro",)),
    ),
    Task(
        name="mlqa",
        kind="target",
        family="span_qa",
        metric="f1",
        languages=MLQA_LANGUAGES,
        train=SQUAD_TRAIN,
        dev={lang: _mlqa(lang, "validation") for lang in MLQA_LANGUAGES},
        test={lang: _mlqa(lang, "test") for lang in MLQA_LANGUAGES},
        columns=QA_COLUMNS,
        train_source="squad",
        recipe=QA_RECIPE,
        size=Size(train_examples=87_599, eval_examples_per_language=600 + 6_000, mean_tokens=250),
        settings={"normalisation": "mlqa"},
        submission=Submission(benchmarks=("xtreme", "xtreme-r")),
    ),
    Task(
        name="tydiqa",
        kind="target",
        family="span_qa",
        metric="f1",
        languages=TYDIQA_LANGUAGES,
        train=TYDIQA_TRAIN,
        dev={
            lang: Source("tydiqa", TYDIQA, "secondary_task", "validation", TYDIQA_REVISION, TYDIQA_ID_PREFIXES[lang])
            for lang in TYDIQA_LANGUAGES
        },
        columns=QA_COLUMNS,
        train_source="tydiqa",
        recipe=QA_RECIPE,
        size=Size(train_examples=3_696, eval_examples_per_language=560, mean_tokens=200),
        submission=Submission(benchmarks=("xtreme", "xtreme-r")),
    ),
)
