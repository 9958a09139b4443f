import pytest

from sweeper.plan.spec import SpecError, build_spec


def test_defaults_take_every_registered_task() -> None:
    spec = build_spec(scales="tiny")
    from tasks import targets

    # The paper's nine and `all`, less CCG (licensed) and Cosmos QA (no parquet copy of the
    # authors'), which the hub does not serve: both local only.
    assert spec.intermediates == ("anli", "mnli", "qqp", "sst2", "squad", "hellaswag", "commonsenseqa", "all")
    # Every target but BUCC's and LAReQA's, whose candidate pools are local only.
    every = tuple(t.name for t in targets())
    assert len(every) == 12 and spec.targets == tuple(n for n in every if n not in ("bucc2018", "lareqa"))
    assert spec.seed_values == (0, 1, 2) and spec.trials == 4 and spec.data == "hub"


def test_none_is_implied_and_never_listed_twice() -> None:
    spec = build_spec(scales="tiny", intermediate="none,mnli,mnli", targets_="xnli")
    assert spec.intermediates == ("mnli",)
    assert build_spec(scales="tiny", intermediate="none").intermediates == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scales": "nope"}, "--scales: unknown nope; valid: tiny, mini, base, large, xl, xxl"),
        ({"scales": "tiny", "targets_": "xnli,nope"}, "--targets: unknown nope; valid: xnli, pawsx"),
        ({"scales": "tiny", "intermediate": "sst9"}, "--intermediate: unknown sst9; valid: mnli, qqp, anli, sst2"),
        ({"scales": "tiny", "targets_": "pawsx", "languages": "ar"}, "--languages: unknown ar; valid: de, en"),
        ({"scales": "tiny", "trials": 0}, "--trials: 0"),
        ({"scales": "tiny", "seeds": 0}, "--seeds: 0"),
        ({"scales": "tiny", "data": "/no/such/dir"}, "--data: /no/such/dir is not a directory"),
        ({"scales": "tiny", "name": "a b"}, "--name: 'a b'"),
    ],
)
def test_bad_input_is_one_line_naming_what_is_valid(kwargs: dict, message: str) -> None:
    with pytest.raises(SpecError) as error:
        build_spec(**kwargs)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_default_name_is_derived_from_the_spec() -> None:
    one = build_spec(scales="tiny", targets_="xnli")
    assert one.name == build_spec(scales="tiny", targets_="xnli").name
    assert one.name.startswith("tiny-")
    assert one.name != build_spec(scales="tiny", targets_="pawsx").name
    assert build_spec(scales="tiny", name="mine").fingerprint() == build_spec(scales="tiny").fingerprint()


def test_batch_layout_keeps_the_recipes_effective_batch() -> None:
    from sweeper.plan.scales import SCALES, batch_layout

    assert batch_layout(32, 32, 0) == (32, 1)  # tiny: one CPU device
    assert batch_layout(32, 16, 1) == (16, 2)  # large: accumulate two steps
    assert batch_layout(32, 8, 4) == (8, 1)  # xl: four data-parallel workers
    assert batch_layout(16, 8, 8) == (2, 1)  # QA's batch of 16 over eight GPUs
    for scale in SCALES.values():
        per_device, steps = batch_layout(32, scale.per_device_batch, scale.gpus)
        assert per_device * max(scale.gpus, 1) * steps == 32, scale.name
        assert (scale.precision == "bf16") == (scale.gpus > 0)


def test_the_default_sampler_leaves_the_fingerprint_of_earlier_sweeps_alone() -> None:
    # f429ae80e2f6: this spec's fingerprint before the sampler was part of the spec.
    args = {"scales": "tiny", "intermediate": "mnli", "targets_": "xnli", "trials": 2, "seeds": 2}
    assert build_spec(**args).fingerprint() == "f429ae80e2f6"
    assert build_spec(**args, sampler="qmc").fingerprint() == "f429ae80e2f6"
    assert build_spec(**args, sampler="tpe").fingerprint() != "f429ae80e2f6"


def test_an_unknown_sampler_is_a_one_line_error() -> None:
    with pytest.raises(SpecError, match=r"^--sampler: 'grid'; valid: qmc, tpe$"):
        build_spec(scales="tiny", sampler="grid")
