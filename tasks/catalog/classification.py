"""Classification entries: sentence-pair targets (XNLI, PAWS-X) and intermediates (MNLI, QQP)."""

from tasks.task import Recipe, Size, Source, Submission, Task, per_language

XNLI_LANGUAGES = tuple("ar bg de el en es fr hi ru sw th tr ur vi zh".split())
PAWSX_LANGUAGES = tuple("de en es fr ja ko zh".split())
NLI_LABELS = ("entailment", "neutral", "contradiction")
NLI_COLUMNS = {"text_a": "premise", "text_b": "hypothesis", "label": "label"}

# These hub repositories hold parquet files on their default branch, which `datasets`
# loads as data without running scripts. The revision enters every cell key.
GLUE = "nyu-mll/glue"
GLUE_REVISION = "main"
XNLI = "facebook/xnli"
# The commit of its conversion's PR #10, "Delete loading script" among its commits
# (tasks/hub_facts/facebook--xnli.json).
XNLI_REVISION = "b8dd5d7af51114dbda02c0e3f6133f332186418e"
PAWSX = "google-research-datasets/paws-x"
PAWSX_REVISION = "main"

MNLI_TRAIN = Source("mnli", GLUE, "mnli", "train", GLUE_REVISION)

TASKS: tuple[Task, ...] = (
    Task(
        name="mnli",
        kind="intermediate",
        family="classification",
        metric="accuracy",
        languages=("en",),
        train=MNLI_TRAIN,
        dev={"en": Source("mnli", GLUE, "mnli", "validation_matched", GLUE_REVISION)},
        columns=NLI_COLUMNS,
        labels=NLI_LABELS,
        train_source="mnli",
        recipe=Recipe(epochs=2),
        size=Size(train_examples=392_702, eval_examples_per_language=9_815, mean_tokens=48),
    ),
    Task(
        name="qqp",
        kind="intermediate",
        family="classification",
        metric="accuracy",
        languages=("en",),
        train=Source("qqp", GLUE, "qqp", "train", GLUE_REVISION),
        dev={"en": Source("qqp", GLUE, "qqp", "validation", GLUE_REVISION)},
        columns={"text_a": "question1", "text_b": "question2", "label": "label"},
        labels=("not_duplicate", "duplicate"),
        train_source="qqp",
        recipe=Recipe(epochs=2),
        size=Size(train_examples=363_846, eval_examples_per_language=40_430, mean_tokens=34),
    ),
    Task(
        name="xnli",
        kind="target",
        family="classification",
        metric="accuracy",
        languages=XNLI_LANGUAGES,
        train=MNLI_TRAIN,
        dev=per_language("xnli", XNLI, XNLI_LANGUAGES, "validation", XNLI_REVISION),
        test=per_language("xnli", XNLI, XNLI_LANGUAGES, "test", XNLI_REVISION),
        columns=NLI_COLUMNS,
        labels=NLI_LABELS,
        train_source="mnli",
        recipe=Recipe(epochs=2),
        size=Size(train_examples=392_702, eval_examples_per_language=2_490 + 5_010, mean_tokens=48),
        submission=Submission(benchmarks=("xtreme", "xtreme-r")),
    ),
    Task(
        name="pawsx",
        kind="target",
        family="classification",
        metric="accuracy",
        languages=PAWSX_LANGUAGES,
        train=Source("pawsx", PAWSX, "en", "train", PAWSX_REVISION),
        dev=per_language("pawsx", PAWSX, PAWSX_LANGUAGES, "validation", PAWSX_REVISION),
        test=per_language("pawsx", PAWSX, PAWSX_LANGUAGES, "test", PAWSX_REVISION),
        columns={"text_a": "sentence1", "text_b": "sentence2", "label": "label"},
        labels=("different", "paraphrase"),
        train_source="paws",
        recipe=Recipe(epochs=5),
        size=Size(train_examples=49_401, eval_examples_per_language=2_000 + 2_000, mean_tokens=60),
        # PAWS-X's label files hold the label's index (XTREME-R dropped the task).
        submission=Submission(benchmarks=("xtreme",), labels_as_indices=True),
    ),
)
