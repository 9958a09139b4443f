from tasks import FAMILIES, TASKS, get_task, intermediates, targets

XNLI = "ar bg de el en es fr hi ru sw th tr ur vi zh".split()
PAWSX = "de en es fr ja ko zh".split()


def test_targets_carry_exactly_the_official_languages() -> None:
    assert list(get_task("xnli").languages) == XNLI
    assert list(get_task("pawsx").languages) == PAWSX


def test_every_entry_is_complete() -> None:
    for task in TASKS.values():
        assert task.family in FAMILIES
        assert task.metric.replace("_", "").isalnum()
        assert set(task.dev) == set(task.languages), task.name
        assert not task.test or set(task.test) == set(task.languages), task.name
        assert task.train_source and task.labels
        assert {"text_a", "label"} <= set(task.columns)


def test_kinds_split_the_registry() -> None:
    assert {t.name for t in targets()} == {"xnli", "pawsx"}
    assert {t.name for t in intermediates()} == {"mnli", "qqp"}


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
