"""A small generated multilingual sample set in the local mirror layout, for the demo.

Labels follow simple cues, as annotation artifacts do in the real data: part of the
signal lies in names and digits, which every language spells the same, and part in
words of each language's own. A model trained on English learns both, so it transfers
to the other languages only in part. The numbers show the machinery working, not a
finding about XLM-R.
"""

from __future__ import annotations

import random
from pathlib import Path

from tasks.data import write_split
from tasks.registry import get_task

# Names and digits are spelled the same in every language; the other words are not.
PREMISE_NAMES = ("Anna", "Boris", "Chen", "Dara", "Emil")
OTHER_NAMES = ("Farah", "Goran", "Hana", "Ivo", "Jana")
OBJECTS = ("apples", "books", "cats", "chairs", "letters", "coins")

LEXICON: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "verbs": ("has", "bought", "sold", "found"),
        "not": ("not",),
        "objects": ("apples", "books", "cats", "chairs", "letters", "coins"),
        "fillers": ("today", "in the city", "at home", "last week", ""),
        "gave": ("gave", "sent", "handed"),
        "took": ("took",),
        "to": ("to",),
    },
    "de": {
        "verbs": ("hat", "kaufte", "verkaufte", "fand"),
        "not": ("nicht",),
        "objects": ("Äpfel", "Bücher", "Katzen", "Stühle", "Briefe", "Münzen"),
        "fillers": ("heute", "in der Stadt", "zu Hause", "letzte Woche", ""),
        "gave": ("gab", "schickte", "reichte"),
        "took": ("nahm",),
        "to": ("an",),
    },
    "es": {
        "verbs": ("tiene", "compró", "vendió", "encontró"),
        "not": ("no",),
        "objects": ("manzanas", "libros", "gatos", "sillas", "cartas", "monedas"),
        "fillers": ("hoy", "en la ciudad", "en casa", "la semana pasada", ""),
        "gave": ("dio", "envió", "entregó"),
        "took": ("tomó",),
        "to": ("a",),
    },
    "fr": {
        "verbs": ("a", "acheta", "vendit", "trouva"),
        "not": ("pas",),
        "objects": ("pommes", "livres", "chats", "chaises", "lettres", "pièces"),
        "fillers": ("aujourd'hui", "en ville", "à la maison", "la semaine dernière", ""),
        "gave": ("donna", "envoya", "remit"),
        "took": ("prit",),
        "to": ("à",),
    },
    "ru": {
        "verbs": ("имеет", "купил", "продал", "нашёл"),
        "not": ("не",),
        "objects": ("яблок", "книг", "кошек", "стульев", "писем", "монет"),
        "fillers": ("сегодня", "в городе", "дома", "на прошлой неделе", ""),
        "gave": ("дал", "отправил", "передал"),
        "took": ("взял",),
        "to": ("для",),
    },
}

XNLI_DEMO_LANGUAGES = ("en", "de", "es", "fr", "ru")
PAWSX_DEMO_LANGUAGES = ("en", "de", "es", "fr")
TRAIN_SIZE = 2000
EVAL_SIZE = 200


def _clause(rng: random.Random, lang: str, name: str, count: int, obj: int, negated: bool = False) -> str:
    words = LEXICON[lang]
    negation = [words["not"][0]] if negated else []
    parts = [name, *negation, rng.choice(words["verbs"]), str(count), words["objects"][obj]]
    filler = rng.choice(words["fillers"])
    return " ".join(parts + ([filler] if filler else [])) + "."


def nli_example(rng: random.Random, lang: str) -> dict:
    """Entailment restates the premise; neutral is about someone the premise never names;
    contradiction changes the count to one premises never use (shared digits) or negates
    the verb (a word of the language's own)."""
    name, obj, count = rng.choice(PREMISE_NAMES), rng.randrange(len(OBJECTS)), rng.randint(1, 5)
    label = rng.randrange(3)
    if label == 0:
        hypothesis = _clause(rng, lang, name, count, obj)
    elif label == 1:
        hypothesis = _clause(rng, lang, rng.choice(OTHER_NAMES), rng.randint(1, 5), obj)
    elif rng.random() < 0.5:
        hypothesis = _clause(rng, lang, name, rng.randint(6, 9), obj)
    else:
        hypothesis = _clause(rng, lang, name, count, obj, negated=True)
    return {"premise": _clause(rng, lang, name, count, obj), "hypothesis": hypothesis, "label": label}


def paws_example(rng: random.Random, lang: str) -> dict:
    """A paraphrase keeps who gave what to whom; a non-paraphrase swaps the two people
    (shared names) or turns giving into taking (the language's own word)."""
    words = LEXICON[lang]
    giver, receiver = rng.choice(PREMISE_NAMES), rng.choice(OTHER_NAMES)
    obj = rng.choice(words["objects"])
    to = words["to"][0]
    label = rng.randrange(2)
    first = f"{giver} {rng.choice(words['gave'])} {obj} {to} {receiver}."
    if label == 1:
        second = f"{giver} {rng.choice(words['gave'])} {obj} {to} {receiver}."
    elif rng.random() < 0.5:
        second = f"{receiver} {rng.choice(words['gave'])} {obj} {to} {giver}."
    else:
        second = f"{giver} {words['took'][0]} {obj} {to} {receiver}."
    return {"sentence1": first, "sentence2": second, "label": label}


def qqp_example(rng: random.Random, lang: str = "en") -> dict:
    """A duplicate asks about the same person in other words; a non-duplicate about
    someone else, or about wanting rather than having."""
    name, obj = rng.choice(PREMISE_NAMES), rng.choice(OBJECTS)
    label = rng.randrange(2)
    templates = (
        "How many {obj} does {name} have?",
        "What number of {obj} does {name} own?",
        "Does {name} have many {obj}?",
    )
    second = rng.choice(templates).format(obj=obj, name=name)
    if label == 0 and rng.random() < 0.5:
        second = rng.choice(templates).format(obj=obj, name=rng.choice(OTHER_NAMES))
    elif label == 0:
        second = f"How many {obj} does {name} want?"
    return {
        "question1": rng.choice(templates).format(obj=obj, name=name),
        "question2": second,
        "label": label,
    }


def write_demo_data(root: str | Path, seed: int = 0) -> Path:
    """Write the demo sample set under ``root`` and return it. Deterministic in ``seed``."""
    root = Path(root)
    rng = random.Random(seed)

    def sample(make, lang: str, n: int) -> list[dict]:
        return [make(rng, lang) for _ in range(n)]

    mnli, qqp, xnli, pawsx = (get_task(n) for n in ("mnli", "qqp", "xnli", "pawsx"))
    write_split(mnli.train, root, sample(nli_example, "en", TRAIN_SIZE))
    write_split(mnli.dev["en"], root, sample(nli_example, "en", EVAL_SIZE))
    write_split(qqp.train, root, sample(qqp_example, "en", TRAIN_SIZE))
    write_split(qqp.dev["en"], root, sample(qqp_example, "en", EVAL_SIZE))
    for lang in XNLI_DEMO_LANGUAGES:
        write_split(xnli.dev[lang], root, sample(nli_example, lang, EVAL_SIZE))
        write_split(xnli.test[lang], root, sample(nli_example, lang, EVAL_SIZE))
    write_split(pawsx.train, root, sample(paws_example, "en", TRAIN_SIZE))
    for lang in PAWSX_DEMO_LANGUAGES:
        write_split(pawsx.dev[lang], root, sample(paws_example, lang, EVAL_SIZE))
        write_split(pawsx.test[lang], root, sample(paws_example, lang, EVAL_SIZE))
    return root
