"""The links `launch`, `status` and `report` print: the views that open on the sweep's answer
(saved in its experiment, see ``sweeper/record/answer_view.py``), its figure, its target runs."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from sweeper.record.answer_view import SavedView, answer_view, save_views
from sweeper.record.locations import artifact_url, target_runs_filter, ui_base, ui_instructions
from sweeper.record.tracking import retrying

log = logging.getLogger(__name__)

# Where `xsweep report` logs the answer's figure on the sweep run.
FIGURE = "report/delta_vs_scale.png"


def answer_views(
    client: MlflowClient, experiment_id: str, sweep_run_id: str, scales: Sequence[str]
) -> dict[str, SavedView]:
    """Per label, a view of the sweep's target runs (all of them, and each scale's where the
    sweep has several) that draws every run the sweep plans."""
    sweep = retrying(lambda: client.get_run(sweep_run_id))
    planned = int(sweep.data.params.get("planned/cells", 0))
    views = {
        "the answer, by scale and intermediate": answer_view(experiment_id, target_runs_filter(sweep_run_id), planned)
    }
    if len(scales) > 1:
        for scale in scales:
            views[f"the answer at {scale}"] = answer_view(
                experiment_id, target_runs_filter(sweep_run_id, scale), planned
            )
    return views


def answer_lines(
    client: MlflowClient, tracking_uri: str, experiment_id: str, sweep_run_id: str, scales: Sequence[str]
) -> str:
    """Save the answer's views in the experiment and say how to open them, with the figure
    where `xsweep report` logged it. A store that refuses the tag gets the plain links."""
    views = answer_views(client, experiment_id, sweep_run_id, scales)
    try:
        save_views(client, list(views.values()))
    except MlflowException as error:
        log.warning("could not save the answer's view in experiment %s: %s", experiment_id, error)
        views = {}
    logged = {artifact.path for artifact in retrying(lambda: client.list_artifacts(sweep_run_id, "report"))}
    figure = artifact_url(tracking_uri, experiment_id, sweep_run_id, FIGURE) if FIGURE in logged else ""
    base = ui_base(tracking_uri)
    links = {label: view.url(base) for label, view in views.items()}
    return ui_instructions(tracking_uri, experiment_id, sweep_run_id, scales, links, figure)
