"""The answer's saved view: the MLflow UI's shared view state, built and read back through MLflow."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from mlflow.tracking import MlflowClient

from sweeper.record.answer_view import ANSWER_DELTA, answer_view, decode_state, save_views
from sweeper.record.locations import target_runs_filter


def test_the_view_is_the_ui_s_deflated_json_under_its_sha256() -> None:
    view = answer_view("7", target_runs_filter("abc"), runs=24)
    # As the UI's textCompressDeflate writes it: a header, then base64 of zlib's deflate stream.
    header, _, payload = view.value.partition(";")
    assert header == "deflate"
    state = json.loads(zlib.decompress(base64.b64decode(payload)))
    assert state == decode_state(view.value)
    assert view.key == hashlib.sha256(view.value.encode()).hexdigest()
    assert view.tag == f"mlflow.sharedViewState.{view.key}"
    # The same view again is the same tag: saving it twice writes one view.
    assert answer_view("7", target_runs_filter("abc"), runs=24).tag == view.tag


def test_the_view_filters_groups_and_draws_every_run() -> None:
    state = decode_state(answer_view("7", target_runs_filter("abc"), runs=24).value)
    assert state["searchFilter"] == "tags.phase = 'target' and tags.sweep_run_id = 'abc'"
    assert state["groupBy"] == {
        "aggregateFunction": "average",
        "groupByKeys": [{"mode": "tag", "groupByData": "scale"}, {"mode": "tag", "groupByData": "intermediate"}],
    }
    assert state["runsHiddenMode"] == "SHOW_ALL"
    charts = {chart["metricKey"]: chart for chart in state["compareRunCharts"]}
    assert charts[ANSWER_DELTA]["type"] == "BAR" and charts[ANSWER_DELTA]["runsCountToCompare"] == 24
    assert f"metrics.`{ANSWER_DELTA}`" in state["selectedColumns"]


def test_the_link_carries_the_key_and_no_search_facet() -> None:
    """The UI (3.18) skips a shared view whose link also carries a facet such as searchFilter."""
    view = answer_view("7", target_runs_filter("abc"), runs=24)
    url = urlparse(view.url("http://127.0.0.1:5000"))
    route, _, query = url.fragment.partition("?")
    assert route == "/experiments/7/runs"
    assert parse_qs(query) == {
        "viewStateShareKey": [view.key],
        "compareRunsMode": ["CHART"],
        "workflowType": ["machine_learning"],
    }


def test_a_saved_view_reads_back_from_the_experiment(tmp_path: Path) -> None:
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = client.create_experiment("views")
    view = answer_view(experiment_id, target_runs_filter("abc"), runs=6)
    save_views(client, [view, view])
    tags = client.get_experiment(experiment_id).tags
    shared = {key: value for key, value in tags.items() if key.startswith("mlflow.sharedViewState.")}
    assert shared == {view.tag: view.value}
    assert decode_state(shared[view.tag])["compareRunCharts"][0]["runsCountToCompare"] == 6
