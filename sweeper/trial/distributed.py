"""Running a trial's stage where its placement says: inside the Tune trial, or on Ray Train
workers joined in one process group (the placement itself is data: ``sweeper/resources/placement.py``)."""

from __future__ import annotations

from collections.abc import Callable

from sweeper.resources.placement import Placement

# What a stage returns, from rank 0: at least the trial's objective.
StageResult = dict[str, float | str]


def run_placed(
    stage: Callable[[dict], StageResult],
    config: dict,
    placement: Placement,
    storage_path: str,
    name: str,
    reports_to_tune: bool = False,
) -> StageResult:
    """Run ``stage(config)`` where ``placement`` says and return rank 0's result.

    Distributed, every worker runs the stage (the Trainer finds the process group Ray set
    up) and rank 0 puts its result on a queue (Train V2 returns metrics only with a
    checkpoint, and a stage's checkpoint goes to MLflow, not to Train's storage). With
    ``reports_to_tune``, what the workers report (``ray.train.report``, every rank at once)
    reaches the Tune trial running this as its own report, while the workers run: Ray's
    ``TuneReportCallback`` puts rank 0's metrics on the trial's session queue, which Tune's
    function trainable reads between its own results (ray/tune/integration/ray_train.py and
    ray/train/_internal/session.py in Ray 2.60; https://docs.ray.io/en/latest/train/api/doc/
    ray.tune.integration.ray_train.TuneReportCallback.html). So a study's pruner sees a
    multi-GPU trial's epochs too, and a stop ends the trial's actor, which owns the Train
    controller and so its workers."""
    if not placement.distributed:
        return stage(config)
    from ray import train
    from ray.train.torch import TorchConfig, TorchTrainer
    from ray.tune.integration.ray_train import TuneReportCallback
    from ray.util.queue import Queue

    # An actor that holds no CPU, so it never waits behind the trials it serves.
    results = Queue(maxsize=1, actor_options={"num_cpus": 0})

    def per_worker(worker_config: dict) -> None:
        result = stage(worker_config)
        if train.get_context().get_world_rank() == 0:
            results.put(result)

    trainer = TorchTrainer(
        per_worker,
        train_loop_config=config,
        scaling_config=train.ScalingConfig(
            num_workers=placement.workers,
            use_gpu=placement.gpus_per_worker > 0,
            resources_per_worker={"GPU": placement.gpus_per_worker} if placement.gpus_per_worker else None,
            placement_strategy="STRICT_PACK",
        ),
        torch_config=TorchConfig(backend=placement.backend),
        run_config=train.RunConfig(
            name=name, storage_path=storage_path, callbacks=[TuneReportCallback()] if reports_to_tune else None
        ),
    )
    try:
        trainer.fit()  # raises if any worker failed
        return results.get(timeout=60)
    finally:
        results.shutdown()
