"""A whole tiny sweep through Ray Tune, Optuna and MLflow, checked against the tracking contract."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import re
import shutil
import urllib.request
import zlib
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs

import mlflow
import optuna
import pytest
from mlflow.tracking import MlflowClient
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from sweeper.results.report import build_report
from tasks.demo import PAWSX_DEMO_LANGUAGES, XNLI_DEMO_LANGUAGES, write_demo_data
from tests.conftest import SWEEP_ARGS, FinishedSweep, run_xsweep, start_tracking_server

pytestmark = pytest.mark.slow

DEMO_LANGUAGES = {"xnli": XNLI_DEMO_LANGUAGES, "pawsx": PAWSX_DEMO_LANGUAGES}


def _runs(sweep: FinishedSweep, phase: str | None = None) -> list:
    client = MlflowClient(sweep.tracking_uri)
    experiment = client.get_experiment_by_name(sweep.name)
    query = f"tags.phase = '{phase}'" if phase else ""
    return client.search_runs([experiment.experiment_id], filter_string=query, max_results=5000)


def test_one_experiment_named_after_the_sweep(finished_sweep: FinishedSweep) -> None:
    names = {e.name for e in MlflowClient(finished_sweep.tracking_uri).search_experiments()}
    assert names == {"Default", "e2e"}


def test_every_run_ended_and_is_tagged_by_phase(finished_sweep: FinishedSweep) -> None:
    runs = _runs(finished_sweep)
    assert runs and all(run.info.status == "FINISHED" for run in runs)
    by_phase = Counter(run.data.tags["phase"] for run in runs)
    # 2 intermediates and 1 target, 2 trials per study; 3 intermediates (with none) × 2 seeds.
    assert by_phase == {"sweep": 1, "intermediate": 4, "target_search": 2, "target": 6}
    sweep_id = next(r.info.run_id for r in runs if r.data.tags["phase"] == "sweep")
    required = {
        "intermediate": {"scale", "model", "intermediate", "trial", "selected"},
        "target_search": {"scale", "model", "target", "intermediate", "trial"},
        "target": {"scale", "model", "intermediate", "target", "seed", "cell"},
    }
    for run in runs:
        tags = run.data.tags
        if tags["phase"] == "sweep":
            assert tags["sweep"] == "e2e"
            continue
        assert required[tags["phase"]] <= set(tags), tags
        # Top-level runs, lineage in tags: nesting would hide them from the UI's comparisons.
        assert "mlflow.parentRunId" not in tags and tags["sweep_run_id"] == sweep_id
        if tags["phase"] == "target_search":
            assert tags["intermediate"] == "none"


def test_one_target_run_per_cell_with_the_cell_in_its_name(finished_sweep: FinishedSweep) -> None:
    targets = _runs(finished_sweep, "target")
    cells = Counter(run.data.tags["cell"] for run in targets)
    assert len(cells) == 6 and set(cells.values()) == {1}
    combos = {(r.data.tags["intermediate"], r.data.tags["target"], r.data.tags["seed"]) for r in targets}
    assert combos == {(i, "xnli", s) for i in ("none", "mnli", "qqp") for s in ("0", "1")}
    for run in targets:
        tags = run.data.tags
        assert run.info.run_name == f"tiny/{tags['intermediate']}→{tags['target']}/s{tags['seed']}"
        for param in ("learning_rate", "batch_size", "epochs", "max_length", "seed", "version/transformers"):
            assert param in run.data.params


def test_target_runs_log_every_demo_language(finished_sweep: FinishedSweep) -> None:
    for run in _runs(finished_sweep, "target"):
        target = run.data.tags["target"]
        metrics = run.data.metrics
        for lang in DEMO_LANGUAGES[target]:
            assert f"dev/accuracy/{lang}" in metrics and f"test/accuracy/{lang}" in metrics
        non_en = [metrics[f"dev/accuracy/{lang}"] for lang in DEMO_LANGUAGES[target] if lang != "en"]
        assert metrics["dev/accuracy/avg_non_en"] == pytest.approx(sum(non_en) / len(non_en))
        assert set(run.data.tags["languages"].split(",")) == set(DEMO_LANGUAGES[target])


def test_target_runs_point_at_the_selected_intermediate(finished_sweep: FinishedSweep) -> None:
    intermediates = {run.info.run_id: run for run in _runs(finished_sweep, "intermediate")}
    for run in _runs(finished_sweep, "target"):
        tags = run.data.tags
        if tags["intermediate"] == "none":
            assert "intermediate_run_id" not in tags
            continue
        source = intermediates[tags["intermediate_run_id"]]
        assert source.data.tags["intermediate"] == tags["intermediate"]
        assert source.data.tags["selected"] == "true"
        assert tags["same_source"] == str(tags["intermediate"] == "mnli" and tags["target"] == "xnli").lower()


def test_one_selected_intermediate_per_task_and_its_checkpoint_loads(
    finished_sweep: FinishedSweep, tmp_path: Path
) -> None:
    runs = _runs(finished_sweep, "intermediate")
    selected = [r for r in runs if r.data.tags["selected"] == "true"]
    assert sorted(r.data.tags["intermediate"] for r in selected) == ["mnli", "qqp"]
    for run in selected:
        local = mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id,
            artifact_path="checkpoint",
            dst_path=str(tmp_path / run.info.run_id),
            tracking_uri=finished_sweep.tracking_uri,
        )
        model = AutoModelForSequenceClassification.from_pretrained(local, num_labels=3)
        tokenizer = AutoTokenizer.from_pretrained(local)
        logits = model(**tokenizer("Anna hat 3 Äpfel.", "Anna hat 3 Äpfel.", return_tensors="pt")).logits
        assert logits.shape == (1, 3)
    # Only the selected trial of each study keeps its checkpoint.
    client = MlflowClient(finished_sweep.tracking_uri)
    for run in runs:
        kept = [a.path for a in client.list_artifacts(run.info.run_id)]
        assert ("checkpoint" in kept) == (run.data.tags["selected"] == "true")


def test_every_target_run_with_an_intermediate_carries_its_paired_delta(finished_sweep: FinishedSweep) -> None:
    targets = _runs(finished_sweep, "target")
    assert len(targets) == 6 and not any("mlflow.parentRunId" in run.data.tags for run in targets)
    client = MlflowClient(finished_sweep.tracking_uri)
    baseline = {r.data.tags["seed"]: r.data.metrics for r in targets if r.data.tags["intermediate"] == "none"}
    for run in targets:
        tags, metrics = run.data.tags, run.data.metrics
        if tags["intermediate"] == "none":
            assert not any(key.startswith("delta/") for key in metrics)
            continue
        key = "test/accuracy/avg_non_en"
        assert metrics[f"delta/{key}"] == pytest.approx(metrics[key] - baseline[tags["seed"]][key])
        for lang in XNLI_DEMO_LANGUAGES:
            by_hand = metrics[f"test/accuracy/{lang}"] - baseline[tags["seed"]][f"test/accuracy/{lang}"]
            assert metrics[f"delta/test/accuracy/{lang}"] == pytest.approx(by_hand)
        assert len(client.get_metric_history(run.info.run_id, f"delta/{key}")) == 1


def test_runs_name_the_data_they_read(finished_sweep: FinishedSweep) -> None:
    for run in _runs(finished_sweep, "target"):
        read = {(i.dataset.name, i.tags[0].value) for i in run.inputs.dataset_inputs}
        assert {("mnli", "train"), ("xnli-de", "dev"), ("xnli-de", "test"), ("xnli-en", "test")} <= read


def test_training_runs_log_system_metrics(finished_sweep: FinishedSweep) -> None:
    runs = [r for r in _runs(finished_sweep) if r.data.tags["phase"] != "sweep"]
    sampled = [r for r in runs if "system/cpu_utilization_percentage" in r.data.metrics]
    # Sampled every 2 s: a trial shorter than that may end before its first point.
    assert sampled, "no trial logged system metrics"
    assert all("system/system_memory_usage_megabytes" in r.data.metrics for r in sampled)


def test_selected_encoders_are_registered_models_that_load(
    finished_sweep: FinishedSweep, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    selected = {
        r.data.tags["intermediate"]: r.info.run_id
        for r in _runs(finished_sweep, "intermediate")
        if r.data.tags["selected"] == "true"
    }
    client = MlflowClient(finished_sweep.tracking_uri)
    for intermediate, run_id in selected.items():
        (version,) = client.search_model_versions(f"name = 'e2e-tiny-{intermediate}'")
        assert version.run_id == run_id and str(version.version) == "1"
    # As the README shows: download the version, then from_pretrained. A models:/ URI is
    # resolved in the registry, which follows the tracking URI unless told otherwise.
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", finished_sweep.tracking_uri)
    local = mlflow.artifacts.download_artifacts(artifact_uri="models:/e2e-tiny-mnli/1", dst_path=str(tmp_path))
    model = AutoModelForSequenceClassification.from_pretrained(local, num_labels=3)
    assert model.config.hidden_size == 64


def test_optuna_trials_name_their_mlflow_runs(finished_sweep: FinishedSweep) -> None:
    storage = f"sqlite:///{finished_sweep.work_dir / 'optuna.db'}"
    runs = {r.info.run_id: r for r in _runs(finished_sweep) if r.data.tags["phase"] != "target"}
    for summary in optuna.get_all_study_summaries(storage):
        for trial in optuna.load_study(study_name=summary.study_name, storage=storage).trials:
            run = runs[trial.user_attrs["mlflow_run_id"]]
            assert run.data.tags["trial"] == str(trial.number)


def test_the_printed_link_filters_exactly_the_target_runs(finished_sweep: FinishedSweep, tmp_path: Path) -> None:
    """The filter in the link launch printed, sent to a real `mlflow server`'s REST API on the
    sweep's store, returns the sweep's target runs and nothing else."""
    link = re.search(r"target runs: (\S+)", finished_sweep.result.stdout).group(1)
    experiment_id = re.search(r"#/experiments/(\d+)/runs\?", link).group(1)
    query = parse_qs(link.partition("?")[2])
    assert query["compareRunsMode"] == ["CHART"]
    server = start_tracking_server(tmp_path / "server", "127.0.0.1", backend_store_uri=finished_sweep.tracking_uri)
    try:
        body = {"experiment_ids": [experiment_id], "filter": query["searchFilter"][0], "max_results": 1000}
        request = urllib.request.Request(
            f"{server.uri}/api/2.0/mlflow/runs/search",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            found = {run["info"]["run_id"] for run in json.load(response)["runs"]}
    finally:
        server.stop()
    assert found == {run.info.run_id for run in _runs(finished_sweep, "target")}


def test_target_runs_keep_predictions_not_checkpoints(finished_sweep: FinishedSweep) -> None:
    client = MlflowClient(finished_sweep.tracking_uri)
    for run in _runs(finished_sweep, "target"):
        assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["predictions"]


def test_learning_rates_come_from_optuna_studies_recipe_first(finished_sweep: FinishedSweep) -> None:
    storage = f"sqlite:///{finished_sweep.work_dir / 'optuna.db'}"
    studies = optuna.get_all_study_summaries(storage)
    assert len(studies) == 3
    for summary in studies:
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        assert len(study.trials) == 2
        assert study.trials[0].params["learning_rate"] == pytest.approx(1e-3)
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    # Every intermediate is trained once per learning rate, never once per target.
    intermediates = _runs(finished_sweep, "intermediate")
    per_task = Counter((r.data.tags["intermediate"], r.data.params["learning_rate"]) for r in intermediates)
    assert set(per_task.values()) == {1}


def test_tiny_model_learns_english_xnli(finished_sweep: FinishedSweep) -> None:
    xnli = [r for r in _runs(finished_sweep, "target") if r.data.tags["target"] == "xnli"]
    english = sum(r.data.metrics["dev/accuracy/en"] for r in xnli) / len(xnli)
    assert english >= 1 / 3 + 0.2


def test_report_matches_the_runs(finished_sweep: FinishedSweep) -> None:
    report = build_report(MlflowClient(finished_sweep.tracking_uri), "e2e")
    assert len(report.rows) == 3
    targets = _runs(finished_sweep, "target")

    def score(intermediate: str, target: str, seed: str, key: str) -> float:
        (run,) = [
            r
            for r in targets
            if (r.data.tags["intermediate"], r.data.tags["target"], r.data.tags["seed"]) == (intermediate, target, seed)
        ]
        return run.data.metrics[key]

    row = next(r for r in report.rows if (r.intermediate, r.target) == ("qqp", "xnli"))
    assert row.split == "test" and row.seeds == 2
    key = "test/accuracy/avg_non_en"
    by_hand = sum(score("qqp", "xnli", s, key) - score("none", "xnli", s, key) for s in ("0", "1")) / 2
    assert row.delta_non_english == pytest.approx(by_hand)
    assert next(r for r in report.rows if (r.intermediate, r.target) == ("mnli", "xnli")).same_source
    assert "evaluated on de en es fr ru" in finished_sweep.result.stdout
    assert "#/experiments/" in finished_sweep.result.stdout


def test_relaunching_a_finished_sweep_runs_nothing(finished_sweep: FinishedSweep) -> None:
    before = len(_runs(finished_sweep))
    result = run_xsweep(*finished_sweep.args, tracking_uri=finished_sweep.tracking_uri, cwd=finished_sweep.work_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "already finished" in result.stdout
    assert len(_runs(finished_sweep)) == before


def test_relaunching_a_name_with_another_spec_is_refused(finished_sweep: FinishedSweep) -> None:
    before = len(_runs(finished_sweep))
    args = ("launch", "--name", "e2e", *SWEEP_ARGS[:-1], "3", "--data", str(finished_sweep.data))
    result = run_xsweep(*args, tracking_uri=finished_sweep.tracking_uri, cwd=finished_sweep.work_dir)
    assert result.returncode != 0
    assert "exists with a different spec" in result.stderr
    assert len(_runs(finished_sweep)) == before


def test_report_writes_the_answer_and_its_numbers_follow_from_the_runs(
    finished_sweep: FinishedSweep, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    result = run_xsweep(
        "report", "--name", "e2e", "--out", str(out), tracking_uri=finished_sweep.tracking_uri,
        cwd=finished_sweep.work_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Δ non-en" in result.stdout and "mnli *" in result.stdout and "negative transfer" in result.stdout
    files = {"report.md", "report.csv", "delta_vs_scale.png", "delta_heatmap.png"}
    assert {p.name for p in out.iterdir()} == files
    sweep = _runs(finished_sweep, "sweep")[0]
    logged = MlflowClient(finished_sweep.tracking_uri).list_artifacts(sweep.info.run_id, "report")
    assert {Path(a.path).name for a in logged} == files

    # By hand: Δ per (intermediate, language, seed) from the target runs' test accuracies.
    by_seed: dict[tuple[str, str], dict[int, float]] = {}
    targets = _runs(finished_sweep, "target")
    for run in targets:
        tags = run.data.tags
        for key, value in run.data.metrics.items():
            if key.startswith("test/accuracy/") and not key.endswith(("avg", "avg_non_en")):
                by_seed.setdefault((tags["intermediate"], key.split("/")[-1]), {})[int(tags["seed"])] = value
    rows = list(csv.DictReader((out / "report.csv").open(encoding="utf-8")))
    assert len(rows) == 2 * len(XNLI_DEMO_LANGUAGES)  # mnli and qqp, every language
    negative = []
    for row in rows:
        assert row["scale"] == "tiny" and row["target"] == "xnli" and row["split"] == "test" and row["seeds"] == "2"
        scores, baseline = by_seed[(row["intermediate"], row["language"])], by_seed[("none", row["language"])]
        deltas = [100 * (scores[seed] - baseline[seed]) for seed in (0, 1)]
        assert float(row["mean_delta"]) == pytest.approx(sum(deltas) / 2, abs=1e-3)
        # A percentile bootstrap over two seeds stays within their two Δs.
        assert min(deltas) - 1e-3 <= float(row["ci_low"]) <= float(row["mean_delta"]) <= float(row["ci_high"])
        assert float(row["ci_high"]) <= max(deltas) + 1e-3
        if row["language"] != "en":
            negative.append(float(row["mean_delta"]) < 0)
    rate = f"{sum(negative) / len(negative):.0%}"
    assert f"| {rate} |" in (out / "report.md").read_text(encoding="utf-8")


def test_status_counts_every_planned_run_as_done(finished_sweep: FinishedSweep) -> None:
    from sweeper.results.status import read_status

    status = read_status(MlflowClient(finished_sweep.tracking_uri), "e2e")
    assert status.sweep_status == "FINISHED"
    # 2 intermediates + 1 target, 2 trials each; (2 intermediates + none) × 1 target × 2 seeds.
    planned = {(row.scale, row.kind): row.planned for row in status.rows}
    assert planned == {("tiny", "search trials"): 6, ("tiny", "cells"): 6}
    assert all(row.finished == row.planned and row.pending == row.running == row.failed == 0 for row in status.rows)
    sweep = finished_sweep
    result = run_xsweep("status", "--name", "e2e", tracking_uri=sweep.tracking_uri, cwd=sweep.work_dir)
    assert result.returncode == 0 and "6/6" in result.stdout, result.stderr[-2000:]
    assert "target runs: http://127.0.0.1:5000/#/experiments/" in result.stdout


def test_a_label_outside_the_task_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """A German test label outside XNLI's three is found when the launch reads its data, not
    in the target trials after GPU-hours (a trial failing on data that turned bad later is
    tests/sweeper/test_faults.py's)."""
    data = write_demo_data(tmp_path / "data")
    bad = {"premise": "Anna hat 3 Äpfel.", "hypothesis": "Anna hat 3 Äpfel.", "label": 7}
    (data / "xnli" / "de" / "test.jsonl").write_text(json.dumps(bad) + "\n", encoding="utf-8")
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ("launch", "--name", "broken", "--scales", "tiny", "--intermediate", "mnli", "--targets", "xnli")
    result = run_xsweep(
        *args, "--trials", "1", "--seeds", "1", "--data", str(data), tracking_uri=tracking_uri, cwd=tmp_path
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: --data: {data}/xnli/de/test.jsonl (xnli): row 1: label is 7; valid: an index 0..2 into "
        "entailment, neutral, contradiction (-1: unlabelled)"
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "mlflow.db").exists()


def test_unreadable_data_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    data = write_demo_data(tmp_path / "data")
    (data / "xnli" / "de" / "test.jsonl").write_text('{"premise": "kaputt", \n', encoding="utf-8")
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ("launch", "--name", "unreadable", "--scales", "tiny", "--intermediate", "mnli", "--targets", "xnli")
    result = run_xsweep(*args, "--data", str(data), tracking_uri=tracking_uri, cwd=tmp_path)
    assert result.returncode != 0
    assert (
        result.stderr.strip().splitlines()[-1].startswith(f"Error: --data: {data}/xnli/de/test.jsonl line 1: not JSON")
    )
    assert "xnli/de/test.jsonl" in result.stderr and "Traceback" not in result.stderr
    assert [e.name for e in MlflowClient(tracking_uri).search_experiments()] == ["Default"]


def _answer_link(output: str, server: str) -> str:
    """The saved view's link a command printed, pointed at ``server`` instead of `mlflow ui`'s port."""
    link = re.search(r"the answer, by scale and intermediate: (\S+)", output).group(1)
    return link.replace("http://127.0.0.1:5000", server)


def test_the_printed_view_groups_by_scale_and_intermediate_and_draws_every_target_run(
    finished_sweep: FinishedSweep, finished_sweep_ui
) -> None:
    """The view behind launch's link, read back through a real server's REST API and decoded as
    MLflow's UI decodes a shared view (an experiment tag `mlflow.sharedViewState.<key>`,
    deflated JSON headed `deflate;`): its filter finds exactly the target runs, grouped by the
    scale and intermediate tags, and the chart draws at least as many runs as there are."""
    link = _answer_link(finished_sweep.result.stdout, finished_sweep_ui.uri)
    route, _, query = link.partition("#")[2].partition("?")
    params = parse_qs(query)
    assert set(params) == {"viewStateShareKey", "compareRunsMode", "workflowType"}
    assert params["workflowType"] == ["machine_learning"]
    experiment_id = re.fullmatch(r"/experiments/(\d+)/runs", route).group(1)

    def rest(path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{finished_sweep_ui.uri}/api/2.0/mlflow/{path}", data=data, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    tags = {t["key"]: t["value"] for t in rest(f"experiments/get?experiment_id={experiment_id}")["experiment"]["tags"]}
    value = tags[f"mlflow.sharedViewState.{params['viewStateShareKey'][0]}"]
    assert hashlib.sha256(value.encode()).hexdigest() == params["viewStateShareKey"][0]
    state = json.loads(zlib.decompress(base64.b64decode(value.removeprefix("deflate;"))))

    targets = _runs(finished_sweep, "target")
    search = {"experiment_ids": [experiment_id], "filter": state["searchFilter"], "max_results": 1000}
    assert {run["info"]["run_id"] for run in rest("runs/search", search)["runs"]} == {r.info.run_id for r in targets}
    assert [(key["mode"], key["groupByData"]) for key in state["groupBy"]["groupByKeys"]] == [
        ("tag", "scale"),
        ("tag", "intermediate"),
    ]
    assert state["groupBy"]["aggregateFunction"] == "average" and state["runsHiddenMode"] == "SHOW_ALL"
    charted = {chart["metricKey"]: chart["runsCountToCompare"] for chart in state["compareRunCharts"]}
    assert charted["answer/delta_non_en"] >= len(targets)


def test_the_ui_grouped_mean_of_the_answer_is_the_report_s_headline(finished_sweep: FinishedSweep) -> None:
    """Every target run's `answer/delta_non_en` is its test non-English average minus its paired
    baseline's; the mean over the runs of each (scale, intermediate), as the UI's grouping
    shows it, is the report's headline number."""
    targets = _runs(finished_sweep, "target")
    key = "test/accuracy/avg_non_en"
    baseline = {r.data.tags["seed"]: r.data.metrics[key] for r in targets if r.data.tags["intermediate"] == "none"}
    grouped: dict[tuple[str, str], list[float]] = {}
    for run in targets:
        tags, metrics = run.data.tags, run.data.metrics
        assert metrics["answer/non_en"] == pytest.approx(metrics[key], abs=1e-12)
        if tags["intermediate"] == "none":
            assert "answer/delta_non_en" not in metrics
            continue
        assert metrics["answer/delta_non_en"] == pytest.approx(metrics[key] - baseline[tags["seed"]], abs=1e-12)
        grouped.setdefault((tags["scale"], tags["intermediate"]), []).append(metrics["answer/delta_non_en"])
    ui_means = {group: sum(values) / len(values) for group, values in grouped.items()}
    report = build_report(MlflowClient(finished_sweep.tracking_uri), "e2e")
    assert {(row.scale, row.intermediate): row.mean for row in report.headline} == pytest.approx(ui_means)
    assert len(ui_means) == 2


def test_launch_status_and_report_link_the_view_and_report_its_figure(
    finished_sweep: FinishedSweep, tmp_path: Path
) -> None:
    """`launch --no-table` (the demo's), `status` and `report` print the same saved view's link;
    `report` also links the figure it logged on the sweep run."""
    sweep = finished_sweep
    relaunch = run_xsweep(*sweep.args, "--no-table", tracking_uri=sweep.tracking_uri, cwd=sweep.work_dir)
    status = run_xsweep("status", "--name", "e2e", tracking_uri=sweep.tracking_uri, cwd=sweep.work_dir)
    report = run_xsweep(
        "report", "--name", "e2e", "--out", str(tmp_path), tracking_uri=sweep.tracking_uri, cwd=sweep.work_dir
    )
    for result in (relaunch, status, report):
        assert result.returncode == 0, result.stderr[-3000:]
    links = {_answer_link(r.stdout, "") for r in (sweep.result, relaunch, status, report)}
    assert len(links) == 1
    figure = re.search(r"Δ against scale, the figure: (\S+)", report.stdout).group(1)
    sweep_run = _runs(sweep, "sweep")[0]
    path = re.fullmatch(
        rf"http://127\.0\.0\.1:5000/#/experiments/\d+/runs/{sweep_run.info.run_id}/artifacts/(\S+)\?.*", figure
    )
    logged = {a.path for a in MlflowClient(sweep.tracking_uri).list_artifacts(sweep_run.info.run_id, "report")}
    assert path.group(1) in logged and path.group(1).endswith("delta_vs_scale.png")


BROWSER_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip
# The README's picture is this test's screenshot, kept only where asked (the suite writes no tracked file):
# XSWEEP_SCREENSHOT=docs/images/answer-view.png pytest tests/sweeper/test_e2e.py -k browser
SCREENSHOT_ENV = "XSWEEP_SCREENSHOT"


def test_the_answer_view_renders_grouped_with_every_target_run_in_a_browser(
    finished_sweep: FinishedSweep, finished_sweep_ui, tmp_path: Path
) -> None:
    """Launch's link opened in headless Chromium on the sweep's `mlflow server`: the page holds
    every target run, in one group per (scale, intermediate), and the answer's chart; its
    screenshot is the README's picture where $XSWEEP_SCREENSHOT names the file."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the test extra)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium on the PATH (Debian: apt-get install chromium)")
    targets = _runs(finished_sweep, "target")
    groups = {(r.data.tags["scale"], r.data.tags["intermediate"]) for r in targets}
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=BROWSER_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(_answer_link(finished_sweep.result.stdout, finished_sweep_ui.uri))
            page.get_by_text(f"{len(targets)} matching runs").wait_for(timeout=120_000)
            for run in targets:
                sync_api.expect(page.get_by_text(run.info.run_name, exact=True)).to_be_visible()
            for scale, intermediate in groups:
                group = page.get_by_text(f"Group: scale: {scale}, intermediate: {intermediate}", exact=True)
                sync_api.expect(group).to_have_count(1)
            sync_api.expect(page.get_by_text("answer/delta_non_en", exact=True)).to_have_count(1)
            close = page.get_by_role("button", name="Close")  # the assistant's side panel, for the picture
            if close.count() == 1:
                close.click()
            screenshot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "answer-view.png")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
            assert screenshot.stat().st_size > 0
        finally:
            browser.close()
