import dataclasses

import pytest

from tasks import FAMILIES, TASKS, get_task, intermediates, registered, targets
from tasks.catalog.multitask import NINE
from tasks.families import MULTITASK
from tasks.task import SETTINGS, SettingsError, SpanQASettings

# The official scorer's keys and language lists (XTREME-R's XTREME_R_TASK2LANGS; XTREME's
# for pawsx and bucc2018), as the target-tasks issue tabulates them.
TARGET_LANGUAGES = {
    "xnli": "ar bg de el en es fr hi ru sw th tr ur vi zh",
    "xcopa": "et ht id it qu sw ta th tr vi zh",
    "udpos": "af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko lt mr nl pl pt ro ru ta te th tl tr uk ur "
    "vi wo yo zh",
    "panx": "af ar az bg bn de el en es et eu fa fi fr gu he hi hu id it ja jv ka kk ko lt ml mr ms my nl pa pl pt "
    "qu ro ru sw ta te th tl tr uk ur vi yo zh",
    "xquad": "ar de el en es hi ro ru th tr vi zh",
    "mlqa": "ar de en es hi vi zh",
    "tydiqa": "ar bn en fi id ko ru sw te",
    "mewslix": "ar de en es fa ja pl ro ta tr uk",
    "lareqa": "ar de el en es hi ru th tr vi zh",
    "tatoeba": "af ar az bg bn de el es et eu fa fi fr he hi hu id it ja jv ka kk ko lt ml mr nl pl pt ro ru sw ta "
    "te th tl tr uk ur vi zh",
    "pawsx": "de en es fr ja ko zh",
    "bucc2018": "de fr ru zh",
}
FAMILY = {
    "xnli": "classification", "pawsx": "classification", "xcopa": "multiple_choice", "udpos": "tagging",
    "panx": "tagging", "xquad": "span_qa", "mlqa": "span_qa", "tydiqa": "span_qa", "mewslix": "retrieval",
    "lareqa": "retrieval", "tatoeba": "retrieval", "bucc2018": "retrieval",
}  # fmt: skip
METRIC = {
    "xnli": "accuracy", "pawsx": "accuracy", "xcopa": "accuracy", "udpos": "f1", "panx": "f1", "xquad": "f1",
    "mlqa": "f1", "tydiqa": "f1", "mewslix": "mrr_at_20", "lareqa": "map_at_20", "tatoeba": "accuracy",
    "bucc2018": "f1",
}  # fmt: skip


def test_every_target_carries_exactly_the_official_languages() -> None:
    assert {t.name for t in targets()} == set(TARGET_LANGUAGES)
    for name, languages in TARGET_LANGUAGES.items():
        task = get_task(name)
        assert list(task.languages) == languages.split(), name
        assert (task.family, task.metric) == (FAMILY[name], METRIC[name]), name


def test_every_entry_is_complete() -> None:
    for task in TASKS.values():
        if task.family == MULTITASK:  # `all`: its members carry the data
            assert set(task.settings.members) <= set(TASKS)
            continue
        assert task.family in FAMILIES
        assert task.metric.replace("_", "").isalnum()
        # Every language has dev data; a task that trains also English dev (model selection),
        # which XCOPA takes from COPA although English is not one of its languages.
        assert set(task.languages) <= set(task.dev) <= set(task.languages) | {"en"}, task.name
        assert not task.test or set(task.test) <= set(task.languages), task.name
        assert task.train is None or "en" in task.dev, task.name
        assert (task.train is None) == (task.train_source == ""), task.name
        if task.family == "classification":
            assert task.labels and {"text_a", "label"} <= set(task.columns)


def test_only_bucc_and_tatoeba_evaluate_straight_from_the_encoder() -> None:
    straight = {t.name for t in TASKS.values() if t.train is None and t.family != MULTITASK}
    assert straight == {"bucc2018", "tatoeba"}
    assert get_task("xcopa").then_train is not None


def test_kinds_split_the_registry() -> None:
    nine = {"anli", "mnli", "qqp", "sst2", "squad", "hellaswag", "cosmosqa", "commonsenseqa", "ccg"}
    assert set(NINE) == nine
    assert {t.name for t in intermediates()} == nine | {"squad_v2", "siqa", "copa", "all"}
    assert all(t.kind == "target" for t in targets())


def test_xnli_trains_on_mnli_so_the_pair_can_be_flagged() -> None:
    assert get_task("xnli").train == get_task("mnli").train
    assert get_task("xnli").train_source == get_task("mnli").train_source


def test_unknown_task_names_the_valid_ones() -> None:
    try:
        get_task("nope")
    except KeyError as error:
        assert "xnli" in str(error) and "mnli" in str(error)
    else:
        raise AssertionError("expected KeyError")


def test_settings_are_typed_and_a_typo_names_the_entry() -> None:
    assert set(SETTINGS) == set(FAMILIES)
    assert all(type(task.settings) is SETTINGS[task.family] for task in TASKS.values())
    mlqa = get_task("mlqa")
    assert isinstance(mlqa.settings, SpanQASettings) and mlqa.settings.doc_stride == 128  # the dataclass default
    with pytest.raises(SettingsError, match=r"task 'mlqa': unknown setting 'normalization'; valid: doc_stride"):
        dataclasses.replace(mlqa, settings={"normalization": "mlqa"})
    with pytest.raises(SettingsError, match=r"task 'mlqa': settings: doc_stride '128' is not int"):
        dataclasses.replace(mlqa, settings={"doc_stride": "128"})
    with pytest.raises(SettingsError, match=r"task 'tatoeba': settings: .*'setup'"):
        dataclasses.replace(get_task("tatoeba"), settings={})


def test_a_registered_entry_lives_for_its_block_only() -> None:
    extra = dataclasses.replace(get_task("pawsx"), name="pawsx2")
    with registered(extra):
        assert get_task("pawsx2") is extra and extra in targets()
        with pytest.raises(ValueError, match="already registered"):
            with registered(extra):
                pass
    assert "pawsx2" not in TASKS
