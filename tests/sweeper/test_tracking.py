from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from mlflow.tracking import MlflowClient

from sweeper.record.inputs import datasets_read
from sweeper.record.locations import answer_links, resolve_tracking_uri, runs_table_url
from sweeper.record.system_metrics import SYSTEM_PREFIX, SystemSampler
from sweeper.record.tags import RunTags
from sweeper.record.tracking import MAX_BATCH_METRICS, TrackedRun, log_datasets, register_encoder, with_averages
from sweeper.results.analysis import TargetRun, deltas_to_write, paired_deltas
from sweeper.results.runs import write_deltas
from tasks import get_task


def test_default_uri_is_sqlite_in_the_working_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve_tracking_uri(None) == f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///rel/x.db")
    assert resolve_tracking_uri(None) == f"sqlite:///{tmp_path / 'rel' / 'x.db'}"
    assert resolve_tracking_uri("http://tracker:5000") == "http://tracker:5000"
    with pytest.raises(ValueError, match="no scheme"):
        resolve_tracking_uri("just/a/path")


def test_averages_over_languages() -> None:
    metrics = with_averages({"dev/accuracy/en": 0.9, "dev/accuracy/de": 0.6, "dev/accuracy/fr": 0.4})
    assert metrics["dev/accuracy/avg"] == pytest.approx(19 / 30)
    assert metrics["dev/accuracy/avg_non_en"] == pytest.approx(0.5)
    assert "dev/accuracy/avg_non_en" not in with_averages({"dev/accuracy/en": 1.0})


def test_runs_table_link_skips_the_genai_overview() -> None:
    tail = "#/experiments/7/runs?workflowType=machine_learning"
    assert runs_table_url("sqlite:////x/mlflow.db", "7") == f"http://127.0.0.1:5000/{tail}"
    assert runs_table_url("https://mlflow.lab", "7") == f"https://mlflow.lab/{tail}"


def _search_filter(url: str) -> str:
    query = parse_qs(urlparse(url).fragment.partition("?")[2])
    assert query["compareRunsMode"] == ["CHART"]
    return query["searchFilter"][0]


def test_answer_links_open_target_runs_as_charts_per_scale_where_several() -> None:
    one = answer_links("sqlite:////x/mlflow.db", "7", "abc", ["tiny"])
    assert list(one) == ["target runs"]
    assert _search_filter(one["target runs"]) == "tags.phase = 'target' and tags.sweep_run_id = 'abc'"
    two = answer_links("http://mlflow:5000", "7", "abc", ["tiny", "mini"])
    assert list(two) == ["target runs", "tiny target runs", "mini target runs"]
    assert two["mini target runs"].startswith("http://mlflow:5000/#/experiments/7/runs?")
    assert _search_filter(two["mini target runs"]).endswith(" and tags.scale = 'mini'")


CPU_KEY = "system/cpu_utilization_percentage"


@pytest.fixture
def client(tmp_path: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")


def test_queued_points_go_out_in_batches_of_at_most_a_thousand(client: MlflowClient) -> None:
    """One call's 2,500 points are queued before the sender starts: three requests, not 2,500."""
    run = TrackedRun.start(client, client.create_experiment("batches"), "trial", {})
    sizes = []
    log_batch = client.log_batch

    def counted(run_id: str, metrics=(), **kwargs):
        sizes.append(len(metrics))
        return log_batch(run_id, metrics=metrics, **kwargs)

    client.log_batch = counted
    run.log_metrics({f"train/m{i}": float(i) for i in range(2500)}, step=1)
    run.finish()
    assert sizes == [MAX_BATCH_METRICS, MAX_BATCH_METRICS, 500]
    assert len(client.get_run(run.run_id).data.metrics) == 2500


def test_system_metrics_continue_after_the_steps_a_reopened_run_holds(client: MlflowClient) -> None:
    """A sampler takes its last sample at finish (a trial shorter than the interval has one);
    a resumed trial's sampler starts past the steps the run holds, so no step comes twice."""
    run = TrackedRun.start(client, client.create_experiment("system"), "trial", {})
    first = SystemSampler(run, interval_s=0.05).start()
    while run.next_step(SYSTEM_PREFIX) == 0 and not client.get_metric_history(run.run_id, CPU_KEY):
        run.flush()
    first.finish()
    run.finish("KILLED")
    held = [point.step for point in client.get_metric_history(run.run_id, CPU_KEY)]
    assert len(held) >= 2 and sorted(held) == list(range(len(held)))
    again = TrackedRun.reopen(client, run.run_id)
    assert again.next_step(SYSTEM_PREFIX) == len(held)
    SystemSampler(again, interval_s=3600).start().finish()
    again.finish()
    steps = [point.step for point in client.get_metric_history(run.run_id, CPU_KEY)]
    assert sorted(steps) == list(range(len(held) + 1))
    assert "system/disk_usage_percentage" in client.get_run(run.run_id).data.metrics


def test_paired_deltas_cover_every_shared_score_and_no_training_curve() -> None:
    run = {"test/accuracy/de": 0.5, "test/accuracy/avg_non_en": 0.5, "train/loss": 1.0, "dev/accuracy/fr": 0.2}
    baseline = {"test/accuracy/de": 0.75, "test/accuracy/avg_non_en": 0.75, "train/loss": 2.0}
    assert paired_deltas(run, baseline) == {"delta/test/accuracy/de": -0.25, "delta/test/accuracy/avg_non_en": -0.25}


def test_deltas_go_to_runs_with_a_finished_pair_and_only_once() -> None:
    def run(run_id: str, intermediate: str, seed: int, metrics: dict) -> TargetRun:
        return TargetRun(run_id, "tiny", intermediate, "xnli", seed, metrics, "accuracy")

    runs = [
        run("none0", "none", 0, {"test/accuracy/de": 0.5}),
        run("mnli0", "mnli", 0, {"test/accuracy/de": 0.625}),
        run("mnli1", "mnli", 1, {"test/accuracy/de": 0.7}),  # its baseline has not finished
        run("qqp0", "qqp", 0, {"test/accuracy/de": 0.25, "delta/test/accuracy/de": -0.25}),  # written already
    ]
    assert deltas_to_write(runs) == {"mnli0": {"delta/test/accuracy/de": 0.125}}


def _target_run(client: MlflowClient, experiment_id: str, intermediate: str, metrics: dict) -> str:
    tags = RunTags(
        phase="target", sweep_run_id="sweep1", scale="tiny", intermediate=intermediate, target="xnli", seed=0
    )
    run = TrackedRun.start(client, experiment_id, intermediate, tags.as_mlflow())
    run.log_metrics(with_averages(metrics))
    run.finish()
    return run.run_id


def test_deltas_written_twice_are_stored_once(client: MlflowClient) -> None:
    """What a relaunch (or `xsweep report` after the sweep) does again adds no point."""
    experiment_id = client.create_experiment("deltas")
    mnli = _target_run(client, experiment_id, "mnli", {"test/accuracy/en": 0.8, "test/accuracy/de": 0.6})
    assert write_deltas(client, experiment_id, "sweep1") == 1  # no baseline yet: answer/non_en alone
    _target_run(client, experiment_id, "none", {"test/accuracy/en": 0.7, "test/accuracy/de": 0.65})
    # Δ of en, de, avg, avg_non_en and answer/delta_non_en on mnli, answer/non_en on none: the
    # cell named, as a finishing cell asks.
    assert write_deltas(client, experiment_id, "sweep1", scale="tiny", target="xnli", seed=0) == 6
    assert write_deltas(client, experiment_id, "sweep1") == 0
    metrics = client.get_run(mnli).data.metrics
    assert metrics["delta/test/accuracy/avg_non_en"] == pytest.approx(0.6 - 0.65)
    assert metrics["answer/delta_non_en"] == pytest.approx(0.6 - 0.65) and metrics["answer/non_en"] == 0.6
    assert metrics["delta/test/accuracy/en"] == pytest.approx(0.8 - 0.7)
    assert len(client.get_metric_history(mnli, "delta/test/accuracy/de")) == 1


def test_a_run_names_the_data_it_read(client: MlflowClient, demo_data: Path) -> None:
    run = TrackedRun.start(client, client.create_experiment("inputs"), "trial", {})
    reads = datasets_read(get_task("xnli"), str(demo_data), ("en", "de"), ("dev", "test"))
    log_datasets(client, run.run_id, reads)
    log_datasets(client, run.run_id, reads)  # a resumed trial logs them again: nothing is added
    inputs = client.get_run(run.run_id).inputs.dataset_inputs
    named = sorted((i.dataset.name, i.tags[0].value) for i in inputs)
    assert named == [
        ("mnli", "train"),
        ("xnli-de", "dev"),
        ("xnli-de", "test"),
        ("xnli-en", "dev"),
        ("xnli-en", "test"),
    ]
    german_test = next(i.dataset for i in inputs if i.dataset.name == "xnli-de" and i.tags[0].value == "test")
    assert german_test.source_type == "local" and "xnli/de/test.jsonl" in german_test.source


def test_an_encoder_registered_twice_is_one_version(client: MlflowClient, tmp_path: Path) -> None:
    experiment_id = client.create_experiment("registry", artifact_location=(tmp_path / "artifacts").as_uri())
    run = TrackedRun.start(client, experiment_id, "tiny/mnli/t0", {})
    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint" / "config.json").write_text("{}")
    run.log_artifacts(tmp_path / "checkpoint", "checkpoint")
    assert register_encoder(client, "demo-tiny-mnli", run.run_id) == "1"
    assert register_encoder(client, "demo-tiny-mnli", run.run_id) == "1"
    (version,) = client.search_model_versions("name = 'demo-tiny-mnli'")
    assert version.run_id == run.run_id and version.source.endswith("/checkpoint")
