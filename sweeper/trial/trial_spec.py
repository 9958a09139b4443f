"""What each trial is told: what the trial is (``TrialSpec``: its run's name and tags, its
encoder, learning rate and languages) and what every trial of its sweep shares
(``SweepShared``), as the plain dicts Tune passes to a trainable; built here from the plan
and the DAG's choices, so the searcher only decides which."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from sweeper.resources.placement import Placement
from sweeper.train.resume import DEFAULT_CHECKPOINT_EVERY_S
from tasks.batching import DEFAULT_BATCH_ORDER

RUNS_PREFIX = "runs:/"
# What a study trial reports to Tune after each epoch but the last, beside its objective.
EPOCH_SCORE = "epoch_score"


@dataclass(frozen=True)
class SweepShared:
    """Where every trial of a sweep reads its data and writes its run and checkpoints."""

    sweep_run_id: str
    experiment_id: str
    tracking_uri: str
    data: str
    # Tune's storage; a distributed trial's Ray Train run writes beside it, and resume
    # checkpoints go under it.
    storage_path: str
    checkpoint_every_s: float = DEFAULT_CHECKPOINT_EVERY_S
    # The sweep's alternatives for intermediate runs (absolute paths), or None.
    translated_data: str | None = None
    mlm_text: str | None = None
    batch_order: str = DEFAULT_BATCH_ORDER
    # Where the local-only splits are read from (``--local-data``), or None: from ``data``.
    local_data: str | None = None

    @classmethod
    def from_config(cls, config: Mapping) -> SweepShared:
        return cls(**config["sweep"])


@dataclass(frozen=True)
class TrialSpec:
    phase: str
    scale: str
    task: str  # the task this trial trains on
    learning_rate: float
    seed: int
    # runs:/<run id>/<path> (an artifact in the tracking store), or a hub id.
    encoder: str
    encoder_revision: str
    languages: tuple[str, ...]
    splits: tuple[str, ...]
    run_name: str
    # The run's tags as MLflow stores them (``sweeper.record.tags.RunTags.as_mlflow``).
    tags: Mapping[str, str]
    params: Mapping[str, str]
    placement: Placement
    # What identifies the trial across relaunches (the cell key, or study and Optuna trial
    # number): a relaunch finds the trial's run by it and continues that run.
    key: str
    # A target run keeps its fine-tuned model (head included) only when asked: at scale
    # they would outweigh everything else the sweep stores.
    keep_checkpoint: bool = False

    @classmethod
    def from_config(cls, config: Mapping) -> TrialSpec:
        fields = dict(config["trial"])
        fields["languages"] = tuple(fields["languages"])
        fields["splits"] = tuple(fields["splits"])
        fields["placement"] = Placement(**fields["placement"])
        return cls(**fields)


def trial_config(trial: TrialSpec, shared: SweepShared) -> dict:
    """A trial's Tune config."""
    return {"trial": asdict(trial), "sweep": asdict(shared)}
