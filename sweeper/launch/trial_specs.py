"""What the launch tells each trial: the sweep's context (``SweepContext``) and the builders of
a study trial's and a cell's ``TrialSpec`` from the plan and the DAG's choices, so the searcher
only decides which."""

from __future__ import annotations

from dataclasses import dataclass, field

from sweeper.plan.dag import Outcome, study_label, trial_key
from sweeper.plan.plan import INTERMEDIATE, NONE, TARGET, TARGET_SEARCH, Cell, Plan, StudyKey
from sweeper.plan.scales import SCALES
from sweeper.record.tags import PROVENANCE_PREFIX, RunTags
from sweeper.resources.placement import Placement, placement_of
from sweeper.train.resume import DEFAULT_CHECKPOINT_EVERY_S
from sweeper.trial.trial_spec import RUNS_PREFIX, SweepShared, TrialSpec
from tasks import get_task


@dataclass(frozen=True)
class SweepContext:
    """Where the sweep's trials write, and what they start from."""

    name: str
    experiment_id: str
    sweep_run_id: str
    tracking_uri: str
    study_storage: str
    # Per scale: the pretrained encoder (runs:/... or a hub id) and its revision.
    encoders: dict[str, tuple[str, str]]
    # Tune's storage (absolute, or object storage): distributed trials' Train runs go there.
    storage_path: str = ""
    # The process-group backend of multi-GPU trials' workers.
    collective_backend: str = "nccl"
    # Where multi-GPU trials' drivers must run: a custom resource, or "" for anywhere.
    driver_resource: str = ""
    # GPUs of every node an autoscaling cluster may start (see sweeper/resources/capacity.py), or ()
    # to read the nodes alive now.
    node_gpus: tuple[int, ...] = ()
    # Per packed scale, the share of a GPU each of its trials asks for (``sweeper/resources/packing.py``);
    # a scale not named takes whole GPUs.
    gpu_fractions: dict[str, float] = field(default_factory=dict)
    checkpoint_every_s: float = DEFAULT_CHECKPOINT_EVERY_S
    keep_target_checkpoints: bool = False
    # The xsweep commit the driver launched from (trials on other nodes may have no .git).
    source_commit: str = "unknown"
    # With --data hub: ``repo@revision`` → the commit the hub served at the launch's check, as
    # JSON (``sweeper/launch/hub_data.py``): two runs of one cell on different data differ here.
    data_commits: str = ""

    def placement(self, scale: str) -> Placement:
        """Where the scale's trials train, and what each reserves."""
        fraction = self.gpu_fractions.get(scale, 1.0)
        return placement_of(SCALES[scale], self.collective_backend, self.driver_resource, fraction)


def sweep_shared(context: SweepContext, plan: Plan) -> SweepShared:
    spec = plan.spec
    return SweepShared(
        sweep_run_id=context.sweep_run_id,
        experiment_id=context.experiment_id,
        tracking_uri=context.tracking_uri,
        data=spec.data,
        storage_path=context.storage_path,
        checkpoint_every_s=context.checkpoint_every_s,
        translated_data=spec.translated_data,
        mlm_text=spec.mlm_text,
        batch_order=spec.batch_order,
        local_data=spec.local_data,
    )


def _encoder(context: SweepContext, scale: str) -> dict:
    encoder, revision = context.encoders[scale]
    placement = context.placement(scale)
    return {"scale": scale, "encoder": encoder, "encoder_revision": revision, "placement": placement}


def _tags(context: SweepContext, plan: Plan, phase: str, scale: str, **fields: object) -> RunTags:
    provenance = {"xsweep_commit": context.source_commit, "sampler": plan.spec.sampler}
    if context.data_commits:
        provenance["data_commits"] = context.data_commits
    return RunTags(
        phase=phase,
        sweep=context.name,
        sweep_run_id=context.sweep_run_id,
        scale=scale,
        model=SCALES[scale].model,
        provenance={f"{PROVENANCE_PREFIX}{name}": value for name, value in provenance.items()},
        **fields,
    )


def study_trial_spec(context: SweepContext, plan: Plan, key: StudyKey, number: int, learning_rate: float) -> TrialSpec:
    """The trial of Optuna trial ``number`` of ``key``'s study (its key, across relaunches)."""
    if key.phase == INTERMEDIATE:
        name = f"{key.scale}/{key.task}/t{number}"
        tags = _tags(context, plan, INTERMEDIATE, key.scale, intermediate=key.task, trial=number)
    else:
        name = f"{key.scale}/none→{key.task}/t{number}"
        tags = _tags(context, plan, TARGET_SEARCH, key.scale, target=key.task, intermediate=NONE, trial=number)
    return TrialSpec(
        **_encoder(context, key.scale),
        phase=key.phase,
        task=key.task,
        learning_rate=learning_rate,
        seed=0,
        languages=("en",),
        splits=("dev",),
        run_name=name,
        tags=tags.as_mlflow(),
        params={"study": study_label(key)},
        key=trial_key(key, number),
    )


def cell_spec(
    context: SweepContext, plan: Plan, cell: Cell, target_lr: Outcome | None, chosen: Outcome | None
) -> TrialSpec:
    """A ready cell's target run: from the ``chosen`` intermediate's checkpoint (the
    pretrained encoder for the baseline), at the learning rate of ``target_lr``'s trial (none
    where the target is evaluated straight from the encoder)."""
    params = {"target_learning_rate_from": target_lr.run_id if target_lr else "none: the target does not train"}
    encoder = _encoder(context, cell.scale)
    lineage = {}
    if chosen is not None:
        encoder["encoder"] = f"{RUNS_PREFIX}{chosen.run_id}/checkpoint"
        same = get_task(cell.intermediate).train_source == get_task(cell.target).train_source
        lineage = {"intermediate_run_id": chosen.run_id, "same_source": same}
    languages = plan.languages[cell.target]
    fields = {"intermediate": cell.intermediate, "target": cell.target, "seed": cell.seed, "cell": cell.key}
    tags = _tags(context, plan, TARGET, cell.scale, **fields, languages=languages, **lineage)
    return TrialSpec(
        **encoder,
        phase=TARGET,
        task=cell.target,
        learning_rate=target_lr.learning_rate if target_lr else 0.0,
        seed=cell.seed,
        languages=languages,
        splits=("dev", "test"),
        run_name=f"{cell.scale}/{cell.intermediate}→{cell.target}/s{cell.seed}",
        tags=tags.as_mlflow(),
        params=params,
        key=cell.key,
        keep_checkpoint=context.keep_target_checkpoints,
    )
