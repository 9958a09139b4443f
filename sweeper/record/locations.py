"""Where a sweep's records live, and the MLflow UI links that open on its answer.

No MLflow import here: the command line resolves a tracking URI and prints a link without
paying for the tracking library (``sweeper/record/tracking.py`` is the part that writes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlencode, urlparse

from sweeper.record.tags import tag_filter

# The phase of the runs that carry the answer (sweeper.plan.plan.TARGET; plan.py imports the tasks).
TARGET_PHASE = "target"
LOCAL_UI = "http://127.0.0.1:5000"
# The UI's sidebar for model training rather than GenAI, asked for in a link's query.
ML_WORKFLOW = {"workflowType": "machine_learning"}
# Seconds to reach a tracking server, a study storage or a Ray address before refusing.
DEFAULT_CONNECT_TIMEOUT_S = 10.0


def resolve_tracking_uri(uri: str | None) -> str:
    """The URI every trial will use: ``uri``, else $MLFLOW_TRACKING_URI, else MLflow's own
    SQLite default in the working directory, made absolute (trials run elsewhere)."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"
    if uri.startswith("sqlite:///"):
        path = uri.removeprefix("sqlite:///")
        return "sqlite:///" + str(Path(path).expanduser().resolve())
    if "://" not in uri:
        raise ValueError(f"tracking URI {uri!r} has no scheme; valid: sqlite:///PATH, http(s)://HOST, postgresql://...")
    return uri


def local_store_dir(tracking_uri: str) -> Path | None:
    """The folder holding a SQLite tracking database, where artifacts and studies go too."""
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri.removeprefix("sqlite:///")).parent
    return None


def artifact_location(tracking_uri: str, experiment_name: str) -> str | None:
    """Artifacts beside a SQLite database, by absolute path; a server chooses its own."""
    store = local_store_dir(tracking_uri)
    if store is None:
        return None
    return (store / "mlartifacts" / experiment_name).as_uri()


def ui_base(tracking_uri: str) -> str:
    """The MLflow UI of a store: the server itself, or a local `mlflow ui`."""
    parsed = urlparse(tracking_uri)
    return tracking_uri.rstrip("/") if parsed.scheme in ("http", "https") else LOCAL_UI


def runs_table_url(tracking_uri: str, experiment_id: str, search_filter: str = "", charts: bool = False) -> str:
    """The experiment's runs table (not MLflow 3's GenAI overview, nor its GenAI sidebar),
    filtered by ``search_filter`` and shown as charts where asked: the UI reads both from the
    URL (its ``searchFilter`` and ``compareRunsMode`` parameters)."""
    query = {}
    if search_filter:
        query["searchFilter"] = search_filter
    if charts:
        query["compareRunsMode"] = "CHART"
    return f"{ui_base(tracking_uri)}/#/experiments/{experiment_id}/runs?{urlencode({**query, **ML_WORKFLOW})}"


def artifact_url(tracking_uri: str, experiment_id: str, run_id: str, path: str) -> str:
    """The UI's page of one of a run's artifacts (an image shows on it), in the UI's
    machine-learning mode (MLflow 3 opens in its GenAI one)."""
    return (
        f"{ui_base(tracking_uri)}/#/experiments/{experiment_id}/runs/{run_id}/artifacts/{path}?{urlencode(ML_WORKFLOW)}"
    )


def target_runs_filter(sweep_run_id: str, scale: str = "") -> str:
    """The search filter of a sweep's target runs (of one scale, where given)."""
    return tag_filter(phase=TARGET_PHASE, sweep_run_id=sweep_run_id, scale=scale)


def answer_links(tracking_uri: str, experiment_id: str, sweep_run_id: str, scales: Sequence[str]) -> dict[str, str]:
    """Per label, a link that opens the sweep's target runs as charts: one for all of
    them, and one per scale where the sweep has several."""
    links = {"target runs": runs_table_url(tracking_uri, experiment_id, target_runs_filter(sweep_run_id), charts=True)}
    if len(scales) > 1:
        for scale in scales:
            search = target_runs_filter(sweep_run_id, scale)
            links[f"{scale} target runs"] = runs_table_url(tracking_uri, experiment_id, search, charts=True)
    return links


def ui_instructions(
    tracking_uri: str,
    experiment_id: str,
    sweep_run_id: str,
    scales: Sequence[str],
    views: Mapping[str, str] | None = None,
    figure: str = "",
) -> str:
    """How to open the sweep's answer in the MLflow UI, as lines to print: the links to its
    saved ``views`` (label -> link) and to its ``figure`` where given, and the target runs'
    filter; without views, the filter links per scale and how to group by hand."""
    lines = []
    if urlparse(tracking_uri).scheme not in ("http", "https"):
        lines.append(f"Open the MLflow UI: mlflow ui --backend-store-uri {tracking_uri}")
    lines += [f"{label}: {url}" for label, url in (views or {}).items()]
    if figure:
        lines.append(f"Δ against scale, the figure: {figure}")
    links = answer_links(tracking_uri, experiment_id, sweep_run_id, [] if views else scales)
    lines += [f"{label}: {url}" for label, url in links.items()]
    if not views:
        lines.append("(Group by the `scale` and `intermediate` tags, mean, to chart Δ per intermediate)")
    return "\n".join(lines)


def nearest_existing(path: Path) -> Path:
    """``path``, or its deepest ancestor that exists (what a launch would create it in)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
