"""Multiple-choice entries: XCOPA, trained on English SIQA, then English COPA."""

from tasks.task import CONVERTED, Recipe, Size, Source, Submission, Task, per_language

XCOPA_LANGUAGES = tuple("et ht id it qu sw ta th tr vi zh".split())

# Relied on: cambridgeltl/xcopa's main branch holds parquet files since its conversion, one
# config per language with `validation` (100) and `test` (500) splits, both labelled.
XCOPA = "cambridgeltl/xcopa"
XCOPA_REVISION = "main"
# allenai/social_i_qa's main branch is a loading script; its parquet export (config
# `default`, splits `train` and `validation`) is read by file path. Labels are "1", "2", "3".
# No commit of the export was found: the branch, unpinned (`xsweep plan` warns).
SIQA = "allenai/social_i_qa"
SIQA_REVISION = CONVERTED
# aps/super_glue holds parquet per config on main (`copa/train-*.parquet`); COPA's test
# split is unlabelled (-1), its validation split labelled.
SUPER_GLUE = "aps/super_glue"
SUPER_GLUE_REVISION = "main"

# COPA and XCOPA share these columns.
COPA_COLUMNS = {"context": "premise", "question": "question", "choices": "choice1,choice2", "label": "label"}
SIQA_COLUMNS = {
    "context": "context",
    "question": "question",
    "choices": "answerA,answerB,answerC",
    "label": "label",
    "label_keys": "1,2,3",
}
# COPA's question names the relation asked about; it is shown as an English connective.
CAUSE_EFFECT = {"cause": "What was the cause?", "effect": "What happened as a result?"}

TASKS: tuple[Task, ...] = (
    Task(
        name="xcopa",
        kind="target",
        family="multiple_choice",
        metric="accuracy",
        languages=XCOPA_LANGUAGES,
        train=Source("siqa", SIQA, "default", "train", SIQA_REVISION, layout="converted"),
        then_train=Source("copa", SUPER_GLUE, "copa", "train", SUPER_GLUE_REVISION),
        # XCOPA has no English; English COPA's validation split is the English dev set that
        # model selection (dev/accuracy/en) reads.
        dev={
            "en": Source("copa", SUPER_GLUE, "copa", "validation", SUPER_GLUE_REVISION),
            **per_language("xcopa", XCOPA, XCOPA_LANGUAGES, "validation", XCOPA_REVISION),
        },
        test=per_language("xcopa", XCOPA, XCOPA_LANGUAGES, "test", XCOPA_REVISION),
        columns=COPA_COLUMNS,
        train_source="siqa",
        recipe=Recipe(epochs=2),
        # SIQA's 33,410 and COPA's 400 training rows; XCOPA's 100 + 500 per language. One
        # example is its choices: three SIQA pairs of about 40 tokens.
        size=Size(train_examples=33_410 + 400, eval_examples_per_language=100 + 500, mean_tokens=120),
        settings={"train_columns": SIQA_COLUMNS, "question_text": CAUSE_EFFECT},
        submission=Submission(benchmarks=("xtreme-r",)),
    ),
)
