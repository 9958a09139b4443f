"""Orchestration: what runs where and what is recorded.

spec (what was asked) → plan (studies and cells) → search (one Tuner, Optuna behind a
DAG-aware searcher) → trial (fine-tune, evaluate, track) → report.
`sweeper.launch` runs a sweep; it is not imported here because it pulls in Ray Tune, torch
and transformers, which listing, planning and reporting do not need.
"""

from sweeper.plan import Cell, Plan, StudyKey, make_plan
from sweeper.report import Report, build_report
from sweeper.scales import SCALES, Scale
from sweeper.spec import SpecError, SweepSpec, build_spec

__all__ = [
    "SCALES",
    "Cell",
    "Plan",
    "Report",
    "Scale",
    "SpecError",
    "StudyKey",
    "SweepSpec",
    "build_report",
    "build_spec",
    "make_plan",
]
