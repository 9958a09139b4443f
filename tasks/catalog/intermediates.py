"""The English intermediate tasks of Phang et al. 2020 (STILTs for cross-lingual transfer):
ANLI+, SST-2, SQuAD (v1.1 and v2.0), HellaSwag, Cosmos QA, CommonsenseQA, SIQA, COPA and CCG.
MNLI and QQP live with the other classification entries.

Each entry names the hub split it relies on; all of them load as data (parquet), without
running a loading script, and their revision enters every cell key.
"""

from tasks.catalog.classification import GLUE, GLUE_REVISION, MNLI_TRAIN, NLI_COLUMNS, NLI_LABELS
from tasks.catalog.multiple_choice import (
    CAUSE_EFFECT,
    COPA_COLUMNS,
    SIQA,
    SIQA_COLUMNS,
    SIQA_REVISION,
    SUPER_GLUE,
    SUPER_GLUE_REVISION,
)
from tasks.catalog.span_qa import QA_COLUMNS, QA_RECIPE, SQUAD, SQUAD_REVISION, SQUAD_TRAIN
from tasks.task import CONVERTED, Recipe, Release, Size, Source, Task

# facebook/anli's main branch holds parquet files: config `plain_text`, splits train_r1..r3,
# dev_r1..r3 and test_r1..r3, columns uid, premise, hypothesis, label (ClassLabel entailment,
# neutral, contradiction: NLI_LABELS' order), reason.
ANLI = "facebook/anli"
ANLI_REVISION = "main"
# stanfordnlp/snli's main branch holds parquet files: config `plain_text`, columns premise,
# hypothesis, label in the same order; about 2 % of its pairs have no gold label (-1).
SNLI = "stanfordnlp/snli"
SNLI_REVISION = "main"
# rajpurkar/squad_v2's main branch holds parquet files: config `squad_v2`, splits train and
# validation, SQuAD's columns; an unanswerable question has empty answer lists.
SQUAD_V2 = "rajpurkar/squad_v2"
SQUAD_V2_REVISION = "main"
# Rowan/hellaswag's main branch is a loading script; its parquet export (default/{train,
# validation,test}/0000.parquet) is read by file path. No commit of the export was found:
# the branch, unpinned (`xsweep plan` warns). Columns: ctx (ctx_a and ctx_b joined), endings
# (four), label a digit string ("" in test).
HELLASWAG = "Rowan/hellaswag"
# Cosmos QA is local only: allenai/cosmos_qa's main is a loading script, and neither its
# export nor a parquet copy from its authors was found (only third-party re-uploads). Bring
# DIR/cosmos_qa/default/{train,validation}.jsonl from the official release, one row a line:
# context, question, answer0..3, label an int: `xsweep data fetch cosmosqa` converts its
# authors' train.csv and valid.csv (header id,context,question,answer0..answer3,label) at this
# commit of their repository.
COSMOS_QA_RELEASE = Release(
    "https://raw.githubusercontent.com/wilburOne/cosmosqa/b6eb99cca4e2a51dd28a9a6f562534872d851639/data/",
    ("train.csv", "valid.csv"),
)
# tau/commonsense_qa's main branch holds parquet files: config `default`, columns question,
# choices {label: [A..E], text: [...]}, answerKey ("" in test).
COMMONSENSE_QA = "tau/commonsense_qa"
COMMONSENSE_QA_REVISION = "main"

# ANLI+ as Nie et al. (2020) train it: ANLI's three rounds shuffled with SNLI and MNLI
# (proportional sampling over the five in jiant). A stage is read in its first source's
# columns, so SNLI comes first: premise, hypothesis and label are all it has and what every
# other source has too (ANLI adds uid and reason, GLUE's MNLI idx).
ANLI_ROUNDS = tuple(Source("anli", ANLI, "plain_text", f"train_r{n}", ANLI_REVISION) for n in (1, 2, 3))
SNLI_TRAIN = Source("snli", SNLI, "plain_text", "train", SNLI_REVISION)

# CCG supertagging trains on CCGbank (LDC2005T13), licensed: no hub copy, so its sources are
# local only (an empty `dataset`). Bring it as DIR/ccg/default/{train,validation}.jsonl, one
# sentence a line, {"tokens": [...words], "tags": [...their CCG categories]}: train from WSJ
# sections 02-21, validation from section 00 (the usual supertagging split; jiant's ccg.train
# and ccg.dev, a sentence and its space-separated categories per line, convert one to one).
CCG_TRAIN = Source("ccg", "", "default", "train")
CCG_DEV = Source("ccg", "", "default", "validation")

TASKS: tuple[Task, ...] = (
    Task(
        name="anli",
        kind="intermediate",
        family="classification",
        metric="accuracy",
        languages=("en",),
        train=SNLI_TRAIN,
        train_with=(*ANLI_ROUNDS, MNLI_TRAIN),
        # One dev split per language: round 3's, the largest (1,200) and the only one beyond
        # Wikipedia (news, fiction, spoken, procedural text), nearest the genres of XNLI.
        dev={"en": Source("anli", ANLI, "plain_text", "dev_r3", ANLI_REVISION)},
        columns=NLI_COLUMNS,
        labels=NLI_LABELS,
        train_source="anli",
        recipe=Recipe(epochs=2),
        # ANLI 16,946 + 45,460 + 100,459; SNLI 550,152; MNLI 392,702. SNLI pairs are short.
        size=Size(train_examples=1_105_719, eval_examples_per_language=1_200, mean_tokens=45),
    ),
    Task(
        name="sst2",
        kind="intermediate",
        family="classification",
        metric="accuracy",
        languages=("en",),
        # nyu-mll/glue `sst2`: sentence, label (negative, positive), idx; test labels are -1.
        train=Source("sst2", GLUE, "sst2", "train", GLUE_REVISION),
        dev={"en": Source("sst2", GLUE, "sst2", "validation", GLUE_REVISION)},
        columns={"text_a": "sentence", "label": "label"},
        labels=("negative", "positive"),
        train_source="sst2",
        recipe=Recipe(epochs=2),
        size=Size(train_examples=67_349, eval_examples_per_language=872, mean_tokens=15),
    ),
    Task(
        name="squad",
        kind="intermediate",
        family="span_qa",
        metric="f1",
        languages=("en",),
        # The split XQuAD and MLQA train on: SQuAD v1.1.
        train=SQUAD_TRAIN,
        dev={"en": Source("squad", SQUAD, "plain_text", "validation", SQUAD_REVISION)},
        columns=QA_COLUMNS,
        train_source="squad",
        recipe=QA_RECIPE,
        size=Size(train_examples=87_599, eval_examples_per_language=10_570, mean_tokens=200),
    ),
    Task(
        name="squad_v2",
        kind="intermediate",
        family="span_qa",
        metric="f1",
        languages=("en",),
        train=Source("squad_v2", SQUAD_V2, "squad_v2", "train", SQUAD_V2_REVISION),
        dev={"en": Source("squad_v2", SQUAD_V2, "squad_v2", "validation", SQUAD_V2_REVISION)},
        columns=QA_COLUMNS,
        train_source="squad_v2",
        recipe=QA_RECIPE,
        size=Size(train_examples=130_319, eval_examples_per_language=11_873, mean_tokens=200),
        settings={"unanswerable": True},
    ),
    Task(
        name="hellaswag",
        kind="intermediate",
        family="multiple_choice",
        metric="accuracy",
        languages=("en",),
        train=Source("hellaswag", HELLASWAG, "default", "train", CONVERTED, layout="converted"),
        dev={"en": Source("hellaswag", HELLASWAG, "default", "validation", CONVERTED, layout="converted")},
        columns={"context": "ctx", "choices": "endings", "label": "label"},
        train_source="hellaswag",
        recipe=Recipe(epochs=2),
        # One example is its four context-ending pairs of about 70 tokens.
        size=Size(train_examples=39_905, eval_examples_per_language=10_042, mean_tokens=280),
    ),
    Task(
        name="cosmosqa",
        kind="intermediate",
        family="multiple_choice",
        metric="accuracy",
        languages=("en",),
        train=Source("cosmos_qa", "", "default", "train"),
        dev={"en": Source("cosmos_qa", "", "default", "validation")},
        columns={
            "context": "context",
            "question": "question",
            "choices": "answer0,answer1,answer2,answer3",
            "label": "label",
        },
        train_source="cosmosqa",
        recipe=Recipe(epochs=2),
        # Four pairs of a passage, its question and an answer: about 110 tokens each.
        size=Size(train_examples=25_262, eval_examples_per_language=2_985, mean_tokens=440),
        release=COSMOS_QA_RELEASE,
    ),
    Task(
        name="commonsenseqa",
        kind="intermediate",
        family="multiple_choice",
        metric="accuracy",
        languages=("en",),
        train=Source("commonsense_qa", COMMONSENSE_QA, "default", "train", COMMONSENSE_QA_REVISION),
        dev={"en": Source("commonsense_qa", COMMONSENSE_QA, "default", "validation", COMMONSENSE_QA_REVISION)},
        columns={"context": "question", "choices": "choices.text", "label": "answerKey", "label_keys": "A,B,C,D,E"},
        train_source="commonsenseqa",
        recipe=Recipe(epochs=2),
        size=Size(train_examples=9_741, eval_examples_per_language=1_221, mean_tokens=100),
    ),
    # SIQA and COPA: XCOPA's two English training stages, each an intermediate on its own,
    # from the same hub splits as the xcopa entry.
    Task(
        name="siqa",
        kind="intermediate",
        family="multiple_choice",
        metric="accuracy",
        languages=("en",),
        train=Source("siqa", SIQA, "default", "train", SIQA_REVISION, layout="converted"),
        dev={"en": Source("siqa", SIQA, "default", "validation", SIQA_REVISION, layout="converted")},
        columns=SIQA_COLUMNS,
        train_source="siqa",
        recipe=Recipe(epochs=2),
        size=Size(train_examples=33_410, eval_examples_per_language=1_954, mean_tokens=120),
    ),
    Task(
        name="copa",
        kind="intermediate",
        family="multiple_choice",
        metric="accuracy",
        languages=("en",),
        train=Source("copa", SUPER_GLUE, "copa", "train", SUPER_GLUE_REVISION),
        dev={"en": Source("copa", SUPER_GLUE, "copa", "validation", SUPER_GLUE_REVISION)},
        columns=COPA_COLUMNS,
        train_source="copa",
        # 400 examples: more passes than the large tasks.
        recipe=Recipe(epochs=10),
        size=Size(train_examples=400, eval_examples_per_language=100, mean_tokens=40),
        settings={"question_text": CAUSE_EFFECT},
    ),
    Task(
        name="ccg",
        kind="intermediate",
        family="tagging",
        # Per-word accuracy, as jiant scores CCG (the paper's runs).
        metric="accuracy",
        languages=("en",),
        train=CCG_TRAIN,
        dev={"en": CCG_DEV},
        columns={"tokens": "tokens", "tags": "tags"},
        # Filled in from the data (tasks.families.tagging.with_tag_set).
        labels=(),
        train_source="ccg",
        recipe=Recipe(epochs=2),
        # CCGbank sections 02-21 and 00: sentences of about 24 words.
        size=Size(train_examples=39_604, eval_examples_per_language=1_913, mean_tokens=34),
        # "N", the commonest category, for a word past max_length.
        settings={"tag_set": "data", "fallback_tag": "N"},
    ),
)
