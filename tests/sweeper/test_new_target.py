"""A new target in an existing family is one registry entry: a throwaway two-language
classification target, registered for the test only, goes through the plan, one tiny trial
and ``xsweep score``, with no code of its own anywhere."""

from __future__ import annotations

import json
import random
from pathlib import Path

import mlflow
import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from sweeper.cli import main
from sweeper.plan.plan import TARGET, TARGET_SEARCH, make_plan
from sweeper.plan.spec import build_spec
from sweeper.record.fence import RunFence
from sweeper.record.tags import RunTags
from sweeper.record.tracking import TrackedRun
from sweeper.resources.placement import Placement
from sweeper.train.pretrained import build_tiny_model
from sweeper.trial.trainable import train_stage
from sweeper.trial.trial_spec import SweepShared, TrialSpec, trial_config
from tasks import Recipe, Source, Task, family_of, load_split, registered, texts_of, write_split
from tasks.scoring.submission import example_ids, write_labels
from tasks.task import Submission

LANGUAGES = ("de", "en")
WORDS = {
    "en": "cat dog bird fish tree house river stone".split(),
    "de": "Katze Hund Vogel Fisch Baum Haus Fluss Stein".split(),
}


def _source(lang: str, split: str) -> Source:
    return Source("toypair", "example/toypair", lang, split)


# Two sentences: the same words (a paraphrase) or not. Nothing in the code names it.
TOYPAIR = Task(
    name="toypair",
    kind="target",
    family="classification",
    metric="accuracy",
    languages=LANGUAGES,
    train=_source("en", "train"),
    dev={lang: _source(lang, "validation") for lang in LANGUAGES},
    test={lang: _source(lang, "test") for lang in LANGUAGES},
    columns={"text_a": "first", "text_b": "second", "label": "label"},
    labels=("different", "same"),
    train_source="toypair",
    recipe=Recipe(epochs=1, max_length=32, batch_size=8),
    submission=Submission(benchmarks=("xtreme-r",)),
)


def _rows(lang: str, count: int, seed: int) -> list[dict]:
    rng, words = random.Random(seed), WORDS[lang]
    rows = []
    for index in range(count):
        first = " ".join(rng.sample(words, 3))
        second = first if index % 2 else " ".join(rng.sample(words, 3))
        rows.append({"first": first, "second": second, "label": int(first == second)})
    return rows


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    write_split(TOYPAIR.train, root, _rows("en", 32, seed=0))
    for number, lang in enumerate(LANGUAGES, start=1):
        write_split(TOYPAIR.dev[lang], root, _rows(lang, 8, seed=10 * number))
        write_split(TOYPAIR.test[lang], root, _rows(lang, 8, seed=10 * number + 1))
    return root


def test_a_registered_target_plans_trains_and_scores(data: Path, tmp_path: Path) -> None:
    with registered(TOYPAIR):
        spec = build_spec(scales="tiny", intermediate="none", targets_="toypair", trials=1, seeds=1, data=str(data))
        plan = make_plan(spec)
        assert plan.tasks["toypair"] is TOYPAIR and plan.languages["toypair"] == LANGUAGES
        assert [(s.phase, s.task) for s in plan.studies] == [(TARGET_SEARCH, "toypair")]
        (cell,) = plan.cells

        run, tracking_uri = _run_one_trial(plan, cell, data, tmp_path)
        metrics = MlflowClient(tracking_uri).get_run(run.run_id).data.metrics
        predictions = Path(
            mlflow.artifacts.download_artifacts(
                run_id=run.run_id, artifact_path="predictions", dst_path=str(tmp_path / "out"),
                tracking_uri=tracking_uri,
            )
        )  # fmt: skip
        labels = _write_labels(data, tmp_path / "labels")
        result = CliRunner().invoke(main, ["score", str(predictions), str(labels), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)["toypair"]["accuracy"]
    assert {lang: scores[lang] for lang in LANGUAGES} == pytest.approx(
        {lang: 100 * metrics[f"test/accuracy/{lang}"] for lang in LANGUAGES}, abs=1e-6
    )
    # The entry is gone with the block: the registry is the catalog's again.
    with pytest.raises(KeyError):
        make_plan(spec)


def _run_one_trial(plan, cell, data: Path, tmp_path: Path) -> tuple[TrackedRun, str]:
    """The cell's target trial, in this process (where the entry is registered), from a
    tiny model trained on the target's text, as a sweep's trial runs it."""
    texts = list(texts_of(load_split(TOYPAIR.train, str(data))))
    tiny = build_tiny_model(texts * 4, tmp_path / "tiny")
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri)
    experiment_id = client.create_experiment("toypair", artifact_location=(tmp_path / "artifacts").as_uri())
    holder = TrackedRun.start(client, experiment_id, "sweep", {})
    holder.log_artifacts(tiny, "pretrained/tiny")
    trial = TrialSpec(
        phase=TARGET, scale="tiny", task="toypair", learning_rate=1e-3, seed=cell.seed,
        encoder=f"runs:/{holder.run_id}/pretrained/tiny", encoder_revision="local",
        languages=plan.languages["toypair"], splits=("dev", "test"),
        run_name="tiny/none/toypair/0", tags=RunTags(phase=TARGET, sweep_run_id=holder.run_id).as_mlflow(),
        params={}, placement=Placement(workers=1, backend="gloo"), key=cell.key,
    )  # fmt: skip
    shared = SweepShared(holder.run_id, experiment_id, tracking_uri, str(data), str(tmp_path / "tune"))
    run = TrackedRun.start(client, experiment_id, trial.run_name, trial.tags)
    attempt = RunFence.claim(client, run.run_id).attempt
    train_stage({**trial_config(trial, shared), "run_id": run.run_id, "attempt": attempt})
    run.finish("FINISHED")
    return run, tracking_uri


def _write_labels(data: Path, out: Path) -> Path:
    family = family_of(TOYPAIR.family)
    for lang in LANGUAGES:
        rows = load_split(TOYPAIR.test[lang], str(data))
        write_labels("toypair", "test", lang, family.gold(rows, TOYPAIR), out, example_ids(rows, "toypair"))
    return out
