"""cluster.yaml against the schema shipped in ray, and the dry run that checks scales fit it."""

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from sweeper.cluster import check_scales_fit, load_cluster, node_gpus
from sweeper.spec import SpecError
from tests.conftest import ROOT, run_xsweep

CLUSTER = ROOT / "cluster.yaml"


def test_cluster_yaml_is_valid_for_the_installed_ray() -> None:
    config = load_cluster(CLUSTER)
    gpus = node_gpus(config)
    assert gpus[config["head_node_type"]] == 0
    # Multi-GPU trials' drivers are pinned to the on-demand head by a resource only it has.
    resources = {name: node.get("resources", {}) for name, node in config["available_node_types"].items()}
    assert [name for name, r in resources.items() if r.get("trial_driver")] == [config["head_node_type"]]
    assert max(gpus.values()) >= 8 and 1 in gpus.values()
    check_scales_fit(("base", "large", "xl", "xxl"), config, CLUSTER)
    # Single-GPU workers may be spot; the head never is.
    head = config["available_node_types"][config["head_node_type"]]
    assert "InstanceMarketOptions" not in head["node_config"]


def test_schema_violations_are_one_line(tmp_path: Path) -> None:
    config = yaml.safe_load(CLUSTER.read_text())
    config["max_workers"] = "many"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    with pytest.raises(SpecError, match="not a valid Ray cluster config at max_workers") as error:
        load_cluster(bad)
    assert "\n" not in str(error.value)
    bad.write_text("cluster_name: [unclosed")
    with pytest.raises(SpecError, match="cannot read"):
        load_cluster(bad)


def test_a_scale_no_node_fits_is_refused(tmp_path: Path) -> None:
    config = yaml.safe_load(CLUSTER.read_text())
    del config["available_node_types"]["gpu_8x"]
    with pytest.raises(SpecError, match="xl needs 4; the largest has 1"):
        check_scales_fit(("base", "xl"), config, "small.yaml")


def test_dry_run_prints_the_cost_offline_and_writes_nothing(tmp_path: Path) -> None:
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ("launch", "--scales", "base,large,xl", "--dry-run", "--cluster", str(CLUSTER))
    result = run_xsweep(*args, tracking_uri=tracking_uri, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "GPU-hours" in result.stdout and "xl" in result.stdout
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / ".xsweep").exists()


def test_dry_run_refuses_a_malformed_cluster(tmp_path: Path) -> None:
    (tmp_path / "cluster.yaml").write_text("available_node_types: 3\n")
    result = run_xsweep("plan", "--scales", "base", tracking_uri="sqlite:///x.db", cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().startswith("Error: --cluster:") and "Traceback" not in result.stderr


def test_a_cluster_across_machines_refuses_node_local_state() -> None:
    """Nodes on two machines: a SQLite tracking file, a loopback server or a local Tune folder
    would be a different one on each machine, so the launch is refused (it asks before writing
    anything). Nodes sharing one address are one machine, where all of these are shared."""
    from sweeper.preflight import node_local_state_problem

    two_machines = ["10.0.0.1", "10.0.0.2"]
    problem = node_local_state_problem("sqlite:////tmp/x/mlflow.db", ".xsweep/tune", two_machines)
    assert problem is not None and "is a file on a 2-node cluster" in problem
    problem = node_local_state_problem("http://127.0.0.1:9", ".xsweep/tune", two_machines)
    assert problem is not None and "each node's own loopback address" in problem
    problem = node_local_state_problem("http://tracker.invalid:5000", ".xsweep/tune", two_machines)
    assert problem == (
        "--storage-path: .xsweep/tune is a folder on one node of a 2-node cluster; valid: object storage every "
        "node reaches (s3://..., gs://...), or file:///PATH on a mount they share"
    )
    assert node_local_state_problem("http://tracker.invalid:5000", "s3://bucket/tune", two_machines) is None
    one_machine = ["127.0.0.1", "127.0.0.1", "127.0.0.1"]
    assert node_local_state_problem("sqlite:////tmp/x/mlflow.db", ".xsweep/tune", one_machine) is None
    assert node_local_state_problem("http://127.0.0.1:5000", ".xsweep/tune", one_machine) is None


# Seconds of one sleeping trial per scale.
REHEARSAL_SECONDS = {"base": 2.0, "xl": 4.0}


@dataclass(frozen=True)
class Placed:
    """One trial as the rehearsal recorded it: what it was, where its GPU work ran, and when
    its driver started (its resources are held from then) and its GPU work ended."""

    name: str
    tags: dict
    nodes: tuple[str, ...]
    gpus: int
    start: float
    end: float


@pytest.mark.cluster
def test_trials_are_placed_by_scale_on_a_multi_node_cluster(
    tmp_path: Path, demo_data: Path, tracking_server_on_host_ip: str
) -> None:
    """A head (CPUs only) and two workers advertising 1 and 4 logical GPUs. A base/XL sweep runs
    through the real launch path and each trial's real placement (XL on 4 Ray Train workers in
    one gloo process group), sleeping instead of training. From Ray's node ids and the recorded
    times: XL never touches the 1-GPU node, XL drivers run on the head, and base cells do not
    wait for the XL studies (no stage barrier)."""
    import ray
    from mlflow.tracking import MlflowClient
    from ray.cluster_utils import Cluster

    from sweeper.launch import LaunchOptions, launch
    from sweeper.rehearsal import DRIVER_NODE, END, NODES, START, sleeping_trial
    from sweeper.spec import build_spec

    small = {"object_store_memory": 80 * 2**20}
    # The head advertises trial_driver, as in cluster.yaml: XL drivers must run there.
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 3, "resources": {"trial_driver": 4}, **small})
    try:
        one_gpu = cluster.add_node(num_cpus=2, num_gpus=1, **small)
        four_gpus = cluster.add_node(num_cpus=2, num_gpus=4, **small)
        cluster.wait_for_nodes()
        capacity = {one_gpu.node_id: 1, four_gpus.node_id: 4}
        head = cluster.head_node.node_id
        spec = build_spec(
            scales="base,xl",
            intermediate="mnli",
            targets_="xnli",
            trials=1,
            seeds=1,
            data=str(demo_data),
            name="placed",
        )
        seconds = {f"{scale}/{task}": REHEARSAL_SECONDS[scale] for scale in spec.scales for task in ("mnli", "xnli")}

        def trainable(config: dict) -> None:
            sleeping_trial({**config, "seconds": seconds})

        options = LaunchOptions(
            tracking_server_on_host_ip,
            address=cluster.address,
            study_storage=f"sqlite:///{tmp_path / 'optuna.db'}",
            storage_path=(tmp_path / "tune").as_uri(),
            trainable=trainable,
            collective_backend="gloo",
        )
        result = launch(spec, options)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert result.ok, result

    runs = MlflowClient(tracking_server_on_host_ip).search_runs([result.experiment_id], f"metrics.`{END}` > 0")
    assert all(run.data.metrics[START] >= run.info.start_time / 1000 for run in runs)
    trials = [
        Placed(
            name=run.info.run_name,
            tags=run.data.tags,
            nodes=tuple(run.data.tags[NODES].split(",")),
            gpus=4 if run.data.tags["scale"] == "xl" else 1,
            start=run.info.start_time / 1000,
            end=run.data.metrics[END],
        )
        for run in runs
    ]
    assert len(trials) == 8  # per scale: two study trials and two cells (none, mnli)
    for trial in trials:
        assert len(trial.nodes) == trial.gpus, trial  # one Train worker per GPU for XL
        if trial.gpus == 4:
            assert set(trial.nodes) == {four_gpus.node_id}, f"{trial.name} ran on {trial.nodes}"
            assert trial.tags[DRIVER_NODE] == head, f"{trial.name}'s driver ran off the head"
        else:
            assert trial.nodes[0] in capacity, f"{trial.name} ran on the head, which has no GPU"

    # No stage barrier, asserted as order, not seconds: a base cell needs only base studies,
    # so one starts before the XL studies (longer, and handed out first) have all ended.
    base_cells = [t.start for t in trials if t.gpus == 1 and t.tags["phase"] == "target"]
    xl_studies = [t.end for t in trials if t.gpus == 4 and t.tags["phase"] != "target"]
    assert min(base_cells) < max(xl_studies), "base cells waited for every XL study: a stage barrier"
