"""The view of the MLflow UI that opens on a sweep's answer, saved in its experiment.

The UI's own "Share" button stores the experiment page's state (its search facets and UI
state, one JSON object) as the experiment tag ``mlflow.sharedViewState.<key>``: the value is
the JSON deflated, base64-encoded and headed ``deflate;``; the key is the SHA-256 (hex) of that
value; a link with ``viewStateShareKey=<key>`` opens the page on it. xsweep writes such a tag
itself, so that a printed link opens grouped, charted and unclipped. Format as read in MLflow's
UI source (github.com/mlflow/mlflow, under mlflow/server/js/src/):

- writer: experiment-tracking/components/experiment-page/components/header/ExperimentGetShareLinkModal.tsx
  at 08d303b655a28c0b01b5310e5b17b9abcbab60af (tag name, SHA-256 key, link parameters);
- encoding: common/utils/StringUtils.ts at 3f7ba8b32124ca2e3e9ca56d913448ce67f393f7 (textCompressDeflate);
- reader: experiment-tracking/components/experiment-page/hooks/useSharedExperimentViewState.ts at
  3e3a725b6674ea632510dccbac479a9924507b4a (the state split into search facets and UI state);
- fields: experiment-page/models/ExperimentPageUIState.tsx at 0d2cf4e3ab1cb5952df42b8fff18dea9be49b2e6,
  models/ExperimentPageSearchFacetsState.tsx at 1f418788c7e81d25025260c56e9d10d4e4995d7b,
  utils/experimentPage.group-row-utils.ts at 5f381b0dd21f5ba345a1cf295a90cf7f5b07752f (RunsGroupByConfig),
  runs-charts/runs-charts.types.ts at 030bdc57d063e9e4582554c377fbec0afc8d25d6 (bar chart cards).

Checked against the UI that MLflow 3.18.0 ships: its reader ignores the shared state when the
link carries a search facet (``searchFilter`` and the like), so the filter lives in the state
and the link carries only the key, the view mode and ``workflowType``. No MLflow import: what
writes the tag is handed a client.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

from sweeper.record.locations import ML_WORKFLOW

# The answer as every target run carries it (sweeper/results/analysis.py writes them): its
# non-English average on its target's reported split, and that minus its paired baseline's.
ANSWER_NON_EN = "answer/non_en"
ANSWER_DELTA = "answer/delta_non_en"

SHARED_VIEW_TAG_PREFIX = "mlflow.sharedViewState."
_DEFLATE_HEADER = "deflate;"
# The tags the answer is grouped by, outermost first.
GROUPED_BY = ("scale", "intermediate")
# The UI's default columns (source, models, dataset), kept beside the answer's.
_DEFAULT_COLUMNS = ("attributes.`Source`", "attributes.`Models`", "attributes.`Dataset`")
_SECTION = "xsweep-answer"


def _column(kind: str, key: str) -> str:
    """A column's id as the UI spells it (its ``makeCanonicalSortKey``)."""
    return f"{kind}.`{key}`"


def _bar_chart(metric: str, runs: int) -> dict[str, Any]:
    return {
        "uuid": f"xsweep-{metric}",
        "type": "BAR",
        "metricKey": metric,
        "metricSectionId": _SECTION,
        # The UI charts its first 10 runs (or groups) unless told more.
        "runsCountToCompare": runs,
        "deleted": False,
        "isGenerated": False,
    }


def answer_view_state(search_filter: str, runs: int) -> dict[str, Any]:
    """The experiment page's state that shows the answer: the runs ``search_filter`` finds,
    grouped by scale and intermediate (mean), the headline Δ as a column and a bar chart,
    and every run of the ``runs`` expected drawn, not the UI's first 10."""
    sections = [
        {"uuid": _SECTION, "name": "answer", "display": True, "isReordered": False, "deleted": False},
        # The UI keeps its two standard sections last and files every other metric's chart
        # into sections of its own beside these.
        *(
            {"uuid": f"xsweep-{name}", "name": name, "display": True, "isReordered": False, "deleted": False}
            for name in ("Model metrics", "System metrics")
        ),
    ]
    return {
        # Search facets.
        "searchFilter": search_filter,
        "orderByKey": "attributes.start_time",
        "orderByAsc": False,
        "startTime": "ALL",
        "lifecycleFilter": "Active",
        "datasetsFilter": [],
        "modelVersionFilter": "All Runs",
        # UI state.
        "selectedColumns": [
            *_DEFAULT_COLUMNS,
            _column("metrics", ANSWER_DELTA),
            _column("metrics", ANSWER_NON_EN),
            *(_column("tags", tag) for tag in ("scale", "intermediate", "target", "seed")),
        ],
        "columnOrder": [],
        "columnWidths": {},
        "runsHiddenMode": "SHOW_ALL",
        "groupBy": {
            "aggregateFunction": "average",
            "groupByKeys": [{"mode": "tag", "groupByData": tag} for tag in GROUPED_BY],
        },
        "groupsExpanded": {},
        "useGroupedValuesInCharts": True,
        "hideEmptyCharts": True,
        "compareRunCharts": [_bar_chart(ANSWER_DELTA, runs), _bar_chart(ANSWER_NON_EN, runs)],
        "compareRunSections": sections,
        "isAccordionReordered": False,
        "viewMaximized": False,
        "runListHidden": False,
    }


def encode_state(state: dict[str, Any]) -> str:
    """The tag value the UI writes for ``state`` (its ``textCompressDeflate`` of the JSON)."""
    text = json.dumps(state, separators=(",", ":"), sort_keys=True)
    return _DEFLATE_HEADER + base64.b64encode(zlib.compress(text.encode("utf-8"))).decode("ascii")


def decode_state(value: str) -> dict[str, Any]:
    """A shared view's tag value read back (compressed, or plain JSON as older UIs wrote)."""
    if value.startswith(_DEFLATE_HEADER):
        value = zlib.decompress(base64.b64decode(value.removeprefix(_DEFLATE_HEADER))).decode("utf-8")
    return json.loads(value)


@dataclass(frozen=True)
class SavedView:
    """One shared view: its key, the experiment tag that holds it, and the link to it."""

    experiment_id: str
    value: str

    @property
    def key(self) -> str:
        return hashlib.sha256(self.value.encode("utf-8")).hexdigest()

    @property
    def tag(self) -> str:
        return SHARED_VIEW_TAG_PREFIX + self.key

    def url(self, ui_base: str) -> str:
        query = {"viewStateShareKey": self.key, "compareRunsMode": "CHART", **ML_WORKFLOW}
        return f"{ui_base}/#/experiments/{self.experiment_id}/runs?{urlencode(query)}"


def answer_view(experiment_id: str, search_filter: str, runs: int) -> SavedView:
    return SavedView(experiment_id, encode_state(answer_view_state(search_filter, runs)))


class _TagWriter(Protocol):
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None: ...


def save_views(client: _TagWriter, views: Sequence[SavedView]) -> None:
    """Store each view as its experiment tag (the same view again rewrites the same tag)."""
    from sweeper.record.tracking import retrying

    for view in views:
        retrying(lambda view=view: client.set_experiment_tag(view.experiment_id, view.tag, view.value))
