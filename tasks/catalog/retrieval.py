"""Retrieval entries: Tatoeba and BUCC from the encoder as it is; LAReQA and Mewsli-X after
training a dual encoder on English pairs."""

from tasks.task import Recipe, Release, Size, Source, Submission, Task, per_language

# Tatoeba's languages as the issue names them, with the three-letter codes of LASER's files
# (and of google/xtreme's ``tatoeba.<code>`` configs).
TATOEBA_CODES = {
    "af": "afr", "ar": "ara", "az": "aze", "bg": "bul", "bn": "ben", "de": "deu", "el": "ell",
    "es": "spa", "et": "est", "eu": "eus", "fa": "pes", "fi": "fin", "fr": "fra", "he": "heb",
    "hi": "hin", "hu": "hun", "id": "ind", "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat",
    "kk": "kaz", "ko": "kor", "lt": "lit", "ml": "mal", "mr": "mar", "nl": "nld", "pl": "pol",
    "pt": "por", "ro": "ron", "ru": "rus", "sw": "swh", "ta": "tam", "te": "tel", "th": "tha",
    "tl": "tgl", "tr": "tur", "uk": "ukr", "ur": "urd", "vi": "vie", "zh": "cmn",
}  # fmt: skip
TATOEBA_LANGUAGES = tuple(TATOEBA_CODES)
# XTREME-R's additions to XTREME's 36 Tatoeba pairs.
TATOEBA_XTREME_R = ("az", "lt", "pl", "uk", "ro")
BUCC_LANGUAGES = tuple("de fr ru zh".split())
LAREQA_LANGUAGES = tuple("ar de el en es hi ru th tr vi zh".split())
MEWSLIX_LANGUAGES = tuple("ar de en es fa ja pl ro ta tr uk".split())

# google/xtreme's tatoeba.<code> configs: validation only, 1000 pairs (fewer for some). They
# are converted only after b09e937 in the repository's parquet conversion (hub PR #9), so they
# are read by config name at the PR's head, after its "Delete loading script" commit (see
# tasks/catalog/tagging.py; the pages are in tasks/hub_facts/google--xtreme.json).
XTREME = "google/xtreme"
XTREME_REVISION = "refs/pr/9"
# LASER's Tatoeba files for XTREME-R's five added pairs, as MTEB's copy of them (main holds
# JSON): its parquet export, read by file path, configs ``<code>-eng``, split ``test``, at a
# commit whose tree holds <config>/test/0000.parquet
# (https://huggingface.co/datasets/mteb/tatoeba-bitext-mining/blob/5b1e04161031ae04b9c1a25be32217a6c7f6e58b/est-eng/test/0000.parquet).
TATOEBA_MTEB = "mteb/tatoeba-bitext-mining"
TATOEBA_MTEB_REVISION = "5b1e04161031ae04b9c1a25be32217a6c7f6e58b"
# SQuAD v1.1, parquet on main (config plain_text): LAReQA's English training questions.
SQUAD = "rajpurkar/squad"
SQUAD_REVISION = "main"
# LAReQA is local only. The hub's XQuAD-R (google-research-datasets/xquad_r) has SQuAD's
# columns and no sentence breaks, the candidates LAReQA ranks: a mirror of it would hold rows
# the family cannot score. Build DIR/lareqa/<lang>/validation.jsonl from the official files
# (github google-research-datasets/lareqa, xquad-r/<lang>.json) with
# ``tasks.families.retrieval_rows.lareqa_rows``: each language's questions, then the pool of
# every language's answer sentences.
# BUCC is local only too. google/xtreme's bucc18.<lang> rows are the gold pairs alone: mining
# among them, without the comparable corpora's other sentences, scores far above BUCC. Build
# DIR/bucc2018/bucc18.<lang>/{validation,test}.jsonl from the official BUCC 2018 files
# (<lang>-en.{sample,training}.{<lang>,en,gold}) with ``retrieval_rows.bucc_rows``.
# The official files `xsweep data fetch` builds them from: LAReQA's XQuAD-R files in its
# GitHub repository (XTREME's scripts/download_lareqa_data.sh takes that repository's master
# archive); BUCC's sample (dev) and training (test) tarballs with their gold, as XTREME's
# scripts/download_data.sh names them (it deletes the training gold; it is kept here to score
# the test pool).
LAREQA_RELEASE = Release(
    "https://raw.githubusercontent.com/google-research-datasets/lareqa/master/", ("xquad-r/{lang}.json",)
)
BUCC_RELEASE = Release(
    "https://comparable.limsi.fr/bucc2018/",
    ("bucc2018-{lang}-en.sample-gold.tar.bz2", "bucc2018-{lang}-en.training-gold.tar.bz2"),
)
# Mewsli-X has no official hub dataset (the official download is a script in
# google-research/google-research, dense_representations_for_entity_retrieval/mel). This
# is an unofficial mirror of its files (jsonl; per-language wikinews mentions, Wikipedia
# pairs); the local layout keeps the official JSON records: DIR/mewslix/<lang>/{validation,
# test}.jsonl (wikinews_mentions by context language), wikipedia_pairs/train.jsonl and
# candidate_entities/test.jsonl (candidate_set_entities.jsonl). The repository holds the
# candidates as candidate_entities.jsonl.tar.gz at its root, which no README config names: read
# by path (layout "archive"; tasks/hub_facts/izhx--mewsli-x.json). No commit of it was found:
# unpinned.
MEWSLIX = "izhx/mewsli-x"
MEWSLIX_REVISION = "main"


def _tatoeba_source(lang: str) -> Source:
    code = TATOEBA_CODES[lang]
    if lang in TATOEBA_XTREME_R:
        return Source("tatoeba", TATOEBA_MTEB, f"{code}-eng", "test", TATOEBA_MTEB_REVISION, layout="converted")
    return Source("tatoeba", XTREME, f"tatoeba.{code}", "validation", XTREME_REVISION)


def _bucc(split: str) -> dict[str, Source]:
    return {lang: Source("bucc2018", "", f"bucc18.{lang}", split) for lang in BUCC_LANGUAGES}


TASKS: tuple[Task, ...] = (
    Task(
        name="tatoeba",
        kind="target",
        family="retrieval",
        metric="accuracy",
        languages=TATOEBA_LANGUAGES,
        train=None,
        dev={lang: _tatoeba_source(lang) for lang in TATOEBA_LANGUAGES},
        # google/xtreme's columns (``source_lang``/``target_lang`` hold language codes).
        columns={"source": "source_sentence", "target": "target_sentence"},
        train_source="",
        recipe=Recipe(epochs=0, max_length=512),
        size=Size(train_examples=0, eval_examples_per_language=1_000, mean_tokens=2 * 14),
        settings={
            "setup": "translation",
            "layer": 14 / 24,
            "alternate_columns": {"source": "sentence1", "target": "sentence2"},
        },
        submission=Submission(benchmarks=("xtreme", "xtreme-r"), added_in_xtreme_r=TATOEBA_XTREME_R),
    ),
    Task(
        name="bucc2018",
        kind="target",
        family="retrieval",
        metric="f1",
        languages=BUCC_LANGUAGES,
        train=None,
        dev=_bucc("validation"),
        test=_bucc("test"),
        # The hub's rows are the gold pairs; its *_lang columns hold BUCC's sentence ids.
        columns={
            "source": "source_sentence",
            "source_id": "source_lang",
            "target": "target_sentence",
            "target_id": "target_lang",
        },
        train_source="",
        recipe=Recipe(epochs=0, max_length=512),
        # Every sentence of both sides, sample and training sets (de-en; the others alike).
        size=Size(train_examples=0, eval_examples_per_language=880_000, mean_tokens=40),
        settings={"setup": "mining", "layer": 14 / 24, "neighbourhood": 4},
        # XTREME-R dropped BUCC.
        submission=Submission(benchmarks=("xtreme",)),
        release=BUCC_RELEASE,
    ),
    Task(
        name="lareqa",
        kind="target",
        family="retrieval",
        metric="map_at_20",
        languages=LAREQA_LANGUAGES,
        train=Source("squad", SQUAD, "plain_text", "train", SQUAD_REVISION),
        dev={lang: Source("lareqa", "", lang, "validation") for lang in LAREQA_LANGUAGES},
        # SQuAD's columns, for training.
        columns={"question": "question", "context": "context", "answers": "answers"},
        train_source="squad",
        recipe=Recipe(epochs=2, max_length=512),
        # Per language: its 1190 questions and the 11-language pool of answer sentences.
        size=Size(train_examples=87_599, eval_examples_per_language=1_190 + 13_000, mean_tokens=190),
        settings={"setup": "answer", "layer": 1.0},
        submission=Submission(benchmarks=("xtreme-r",)),
        release=LAREQA_RELEASE,
    ),
    Task(
        name="mewslix",
        kind="target",
        family="retrieval",
        metric="mrr_at_20",
        languages=MEWSLIX_LANGUAGES,
        train=Source("mewslix", MEWSLIX, "wikipedia_pairs", "train", MEWSLIX_REVISION),
        dev=per_language("mewslix", MEWSLIX, MEWSLIX_LANGUAGES, "validation", MEWSLIX_REVISION),
        test=per_language("mewslix", MEWSLIX, MEWSLIX_LANGUAGES, "test", MEWSLIX_REVISION),
        train_source="wikipedia_pairs",
        recipe=Recipe(epochs=2, max_length=512),
        # Approximate: mentions per language (dev + test); the ~1M candidate entities are
        # encoded once per evaluation.
        size=Size(train_examples=100_000, eval_examples_per_language=2_500, mean_tokens=60),
        settings={
            "setup": "entity",
            "layer": 1.0,
            "train_language": "en",
            "candidates": Source("mewslix", MEWSLIX, "candidate_entities", "test", MEWSLIX_REVISION, layout="archive"),
        },
        submission=Submission(benchmarks=("xtreme-r",)),
    ),
)
