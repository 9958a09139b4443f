"""Tagging entries: UD POS (``udpos``) and PAN-X NER (``panx``), zero-shot from English."""

from tasks.task import CONVERTED, Recipe, Size, Source, Submission, Task

UDPOS_LANGUAGES = tuple(
    "af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko lt mr nl pl pt ro ru ta te th tl tr uk ur vi wo yo "
    "zh".split()
)
PANX_LANGUAGES = tuple(
    "af ar az bg bn de el en es et eu fa fi fr gu he hi hu id it ja jv ka kk ko lt ml mr ms my nl pa pl pt qu ro ru "
    "sw ta te th tl tr uk ur vi yo zh".split()
)

# google/xtreme: one config per language, `udpos.<English name>` (UD 2.5) and `PAN-X.<code>`,
# each with train/validation/test splits, except the udpos configs noted below. Its parquet
# conversion is hub PR #9, config by config; the loading script xtreme.py is deleted only by
# the PR's last commit ("Delete loading script"), and `datasets` 5 refuses the repository by
# name wherever the script is in the tree (tasks/hub_facts/google--xtreme.json has the pages).
# PAN-X: its files by path at b09e937, a commit in the middle of the PR ("Add XQuAD.zh data
# files") whose tree holds PAN-X.<code>/<split>-00000-of-00001.parquet (and still xtreme.py,
# which a load by path does not consult).
XTREME = "google/xtreme"
XTREME_FILES_REVISION = "b09e9378cb97d39c628feb5135a749ac43e7ea5e"
# udpos: its configs are converted only after b09e937; read by config name at the PR's head,
# after the script's deletion. A ref, not a commit: the deletion commit's full id (21f88c0…) is
# on no page read here, so `xsweep plan` warns and runs record the commit served.
XTREME_PR_REVISION = "refs/pr/9"
# XTREME-R's additions come from their own datasets, through the hub's parquet export, read
# by file path (layout "converted": <config>/<split>/0000.parquet, no README; by config name
# `datasets` refuses them): UD 2.7 (the release XTREME-R used) for the five UD languages, and
# WikiANN (the same Rahimi et al. splits PAN-X uses) for the eight PAN-X ones.
# universal_dependencies' export folders per treebank
# (https://huggingface.co/datasets/universal_dependencies/commits/refs%2Fconvert%2Fparquet/de_lit);
# no commit of the export after its 2024 re-conversion was found: the branch, unpinned
# (`xsweep plan` warns, runs record the commit served).
UD = "universal-dependencies/universal_dependencies"
UD_REVISION = CONVERTED
# WikiANN's export at a commit after its last parquet update (2024-02-22, per
# https://huggingface.co/datasets/unimelb-nlp/wikiann/commits/2db7a69e8f44568e233bf5f90670a6e4387855fa/de/validation).
WIKIANN = "unimelb-nlp/wikiann"
WIKIANN_REVISION = "2db7a69e8f44568e233bf5f90670a6e4387855fa"

# google/xtreme's udpos and PAN-X ClassLabel names, in their order.
UPOS_TAGS = tuple("ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split())
PANX_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")

UDPOS_CONFIGS = {
    "af": "udpos.Afrikaans", "ar": "udpos.Arabic", "bg": "udpos.Bulgarian", "de": "udpos.German",
    "el": "udpos.Greek", "en": "udpos.English", "es": "udpos.Spanish", "et": "udpos.Estonian",
    "eu": "udpos.Basque", "fa": "udpos.Persian", "fi": "udpos.Finnish", "fr": "udpos.French",
    "he": "udpos.Hebrew", "hi": "udpos.Hindi", "hu": "udpos.Hungarian", "id": "udpos.Indonesian",
    "it": "udpos.Italian", "ja": "udpos.Japanese", "kk": "udpos.Kazakh", "ko": "udpos.Korean",
    "mr": "udpos.Marathi", "nl": "udpos.Dutch", "pt": "udpos.Portuguese", "ru": "udpos.Russian",
    "ta": "udpos.Tamil", "te": "udpos.Telugu", "th": "udpos.Thai", "tl": "udpos.Tagalog",
    "tr": "udpos.Turkish", "ur": "udpos.Urdu", "vi": "udpos.Vietnamese", "yo": "udpos.Yoruba",
    "zh": "udpos.Chinese",
}  # fmt: skip
# One treebank each (XTREME-R pools every treebank of a language; one source is one config):
# the largest with a dev split.
UD_TREEBANKS = {"lt": "lt_alksnis", "pl": "pl_pdb", "ro": "ro_rrt", "uk": "uk_iu", "wo": "wo_wtb"}
# These udpos configs have no validation split (Kazakh: train and test; the rest: test only),
# so their dev is the test split; XTREME-R scores every language on test.
UDPOS_TEST_ONLY = frozenset({"kk", "th", "tl", "yo"})

# universal_dependencies rows name the tags `upos`, list them in another order (with "_"),
# and keep multiword-token ranges and empty nodes as entries without a head, which
# XTREME's conversion drops.
UD_UPOS_TAGS = tuple("NOUN PUNCT ADP NUM SYM SCONJ ADJ PART DET CCONJ PROPN PRON X _ ADV INTJ VERB AUX".split())
UD_SCHEMA = {"tags": "upos", "tag_names": UD_UPOS_TAGS, "drop_where": {"head": "None"}}

PANX_EXTRA = frozenset({"az", "gu", "lt", "pa", "pl", "qu", "ro", "uk"})


def _udpos(lang: str, split: str) -> Source:
    if lang in UD_TREEBANKS:
        return Source("udpos", UD, UD_TREEBANKS[lang], split, UD_REVISION, layout="converted")
    if split == "validation" and lang in UDPOS_TEST_ONLY:
        split = "test"
    return Source("udpos", XTREME, UDPOS_CONFIGS[lang], split, XTREME_PR_REVISION)


def _panx(lang: str, split: str) -> Source:
    if lang in PANX_EXTRA:
        return Source("panx", WIKIANN, lang, split, WIKIANN_REVISION, layout="converted")
    return Source("panx", XTREME, f"PAN-X.{lang}", split, XTREME_FILES_REVISION, layout="files")


TASKS: tuple[Task, ...] = (
    Task(
        name="udpos",
        kind="target",
        family="tagging",
        metric="f1",
        languages=UDPOS_LANGUAGES,
        # Every English UD 2.5 treebank's train split, pooled: XTREME's training set.
        train=_udpos("en", "train"),
        dev={lang: _udpos(lang, "validation") for lang in UDPOS_LANGUAGES},
        test={lang: _udpos(lang, "test") for lang in UDPOS_LANGUAGES},
        columns={"tokens": "tokens", "tags": "pos_tags"},
        labels=UPOS_TAGS,
        train_source="ud_english",
        recipe=Recipe(epochs=10),
        size=Size(train_examples=21_253, eval_examples_per_language=5_400, mean_tokens=28),
        # "X" (other) for words past max_length, the tag XTREME's preprocessing gives untagged words.
        settings={"fallback_tag": "X", "other_schema": UD_SCHEMA},
        submission=Submission(benchmarks=("xtreme", "xtreme-r"), added_in_xtreme_r=tuple(sorted(UD_TREEBANKS))),
    ),
    Task(
        name="panx",
        kind="target",
        family="tagging",
        metric="f1",
        languages=PANX_LANGUAGES,
        train=_panx("en", "train"),
        dev={lang: _panx(lang, "validation") for lang in PANX_LANGUAGES},
        test={lang: _panx(lang, "test") for lang in PANX_LANGUAGES},
        # WikiANN has the same columns and tag order.
        columns={"tokens": "tokens", "tags": "ner_tags"},
        labels=PANX_TAGS,
        train_source="wikiann",
        recipe=Recipe(epochs=10),
        size=Size(train_examples=20_000, eval_examples_per_language=15_000, mean_tokens=18),
        settings={"fallback_tag": "O"},
        submission=Submission(benchmarks=("xtreme", "xtreme-r"), added_in_xtreme_r=tuple(sorted(PANX_EXTRA))),
    ),
)
