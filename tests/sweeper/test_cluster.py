"""cluster.yaml against the schema shipped in ray, the dry run that checks scales fit it, and
whole sweeps on multi-node clusters of Ray's fake provider on loopback: placement by scale,
and an autoscaling cluster growing to its maximum and back to zero."""

import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from sweeper.plan.spec import SpecError
from sweeper.rehearsal.fake_cluster import FakeCluster, fake_cluster_config, free_port, start_fake_cluster
from sweeper.resources.cluster import check_scales_fit, load_cluster, node_gpus
from tests.conftest import ROOT, run_xsweep, start_tracking_server

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
    from sweeper.launch.preflight import node_local_state_problem

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


@pytest.fixture
def fake_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FakeCluster]:
    """A fake-provider cluster of the config ``request.param`` builds from a GCS port."""
    cluster = start_fake_cluster(request.param(free_port()), tmp_path / "cluster", cwd=ROOT)
    try:
        yield cluster
    finally:
        cluster.stop()


def _rehearse(cluster: FakeCluster, tmp_path: Path, request: dict, timeout_s: float = 600) -> None:
    """The sweep's driver as a Ray job (`ray job submit --no-wait`: the submitter leaves at
    once, the driver runs on the head), waited for through the job server."""
    path = tmp_path / "rehearsal.json"
    path.write_text(json.dumps({"address": "auto", "storage_path": str(tmp_path / "tune"), **request}))
    job = cluster.submit([sys.executable, "-m", "sweeper.rehearsal.stand_in", str(path)])
    status = cluster.wait_for_job(job, timeout_s)
    assert status == "SUCCEEDED", f"job {status}: {cluster.job_logs(job)[-4000:]}"


def _fixed_nodes(gcs_port: int) -> dict:
    """A head advertising trial_driver (as in cluster.yaml: XL drivers run there) and two GPU
    workers started at once and kept (min = max = 1): a fixed cluster."""
    workers = {
        "gpu_1x": {"resources": {"CPU": 2, "GPU": 1}, "min_workers": 1, "max_workers": 1},
        "gpu_4x": {"resources": {"CPU": 2, "GPU": 4}, "min_workers": 1, "max_workers": 1},
    }
    return fake_cluster_config({"CPU": 3, "trial_driver": 4}, workers, 2, 60, gcs_port)


@pytest.mark.cluster
@pytest.mark.parametrize("fake_cluster", [_fixed_nodes], indirect=True)
def test_trials_are_placed_by_scale_on_a_multi_node_cluster(
    tmp_path: Path, demo_data: Path, fake_cluster: FakeCluster
) -> None:
    """A head (CPUs only) and two workers advertising 1 and 4 logical GPUs, a tracking server,
    all on loopback. A base/XL sweep runs through the real launch path and each trial's real
    placement (XL on 4 Ray Train workers in one gloo process group), sleeping instead of
    training. From Ray's node ids and the recorded times: XL never touches the 1-GPU node, XL
    drivers run on the head, and base cells do not wait for the XL studies (no stage barrier).
    `xsweep status`, from elsewhere with only the server's URL, sees the sweep finished."""
    from mlflow.tracking import MlflowClient

    from sweeper.rehearsal.stand_in import DRIVER_NODE, END, NODES, START

    nodes = _wait_for_nodes(fake_cluster, lambda nodes: len(nodes) == 3)
    assert [node["ip"] for node in nodes] == ["127.0.0.1"] * 3
    head = next(node["node_id"] for node in nodes if "node:__internal_head__" in node["resources"])
    capacity = {node["node_id"]: int(node["resources"].get("GPU", 0)) for node in nodes if node["node_id"] != head}
    server = start_tracking_server(tmp_path / "mlflow-server", "127.0.0.1")
    try:
        seconds = {f"{scale}/xnli": REHEARSAL_SECONDS[scale] for scale in ("base", "xl")}
        # The baseline alone: per scale one study and one cell, the fewest XL trials that show
        # placement and the missing barrier (each XL trial starts four Train workers).
        spec = {"scales": "base,xl", "intermediate": "", "targets_": "xnli", "trials": 1, "seeds": 1}
        _rehearse(fake_cluster, tmp_path, {
            "spec": {**spec, "data": str(demo_data), "name": "placed"}, "tracking_uri": server.uri,
            "study_storage": f"sqlite:///{tmp_path / 'optuna.db'}", "seconds": seconds,
        })  # fmt: skip
        client = MlflowClient(server.uri)
        experiment = client.get_experiment_by_name("placed")
        runs = client.search_runs([experiment.experiment_id], f"metrics.`{END}` > 0")
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        status = run_xsweep("status", "--name", "placed", tracking_uri=server.uri, cwd=elsewhere)
    finally:
        server.stop()
    assert status.returncode == 0, status.stderr
    assert "sweep placed: finished" in status.stdout and "1/1" in status.stdout, status.stdout

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
    assert len(trials) == 4  # per scale: a study trial and a cell
    for trial in trials:
        assert len(trial.nodes) == trial.gpus, trial  # one Train worker per GPU for XL
        if trial.gpus == 4:
            assert {capacity.get(node) for node in trial.nodes} == {4}, f"{trial.name} ran on {trial.nodes}"
            assert trial.tags[DRIVER_NODE] == head, f"{trial.name}'s driver ran off the head"
        else:
            assert trial.nodes[0] in capacity, f"{trial.name} ran on the head, which has no GPU"

    # No stage barrier, asserted as order, not seconds: a base cell needs only base studies,
    # so it starts before the XL study (longer, and handed out first) has ended.
    base_cells = [t.start for t in trials if t.gpus == 1 and t.tags["phase"] == "target"]
    xl_studies = [t.end for t in trials if t.gpus == 4 and t.tags["phase"] != "target"]
    assert min(base_cells) < max(xl_studies), "base cells waited for every XL study: a stage barrier"


def _wait_for_nodes(cluster: FakeCluster, done: Callable[[list[dict]], bool], timeout_s: float = 180) -> list[dict]:
    """The cluster's alive nodes once ``done(nodes)``, or as they are at the timeout."""
    deadline = time.monotonic() + timeout_s
    nodes = cluster.alive_nodes()
    while not done(nodes) and time.monotonic() < deadline:
        time.sleep(1)
        nodes = cluster.alive_nodes()
    return nodes


def _gpu_nodes(nodes: list[dict]) -> list[dict]:
    return [node for node in nodes if node["resources"].get("GPU", 0) > 0]


# The cluster of issue 18: a 2-CPU head and one-GPU workers from none up to four.
MOST_GPU_NODES = 4


def _autoscaling(gcs_port: int) -> dict:
    workers = {"gpu_1x": {"resources": {"CPU": 1, "GPU": 1}, "min_workers": 0, "max_workers": MOST_GPU_NODES}}
    # Idle nodes go after 6 s, so that the test sees the cluster back at zero soon after.
    return fake_cluster_config({"CPU": 2}, workers, MOST_GPU_NODES, 0.1, gcs_port)


def _peak(intervals: list[tuple[float, float]]) -> int:
    """The most intervals that contain one instant."""
    return max(sum(1 for start, end in intervals if start <= instant < end) for instant, _ in intervals)


@pytest.mark.cluster
@pytest.mark.parametrize("fake_cluster", [_autoscaling], indirect=True)
def test_an_autoscaling_cluster_grows_to_its_maximum_and_back_to_zero(
    tmp_path: Path, demo_data: Path, fake_cluster: FakeCluster
) -> None:
    """Ray's autoscaler on loopback, cluster.yaml's shape in small: at launch only the 2-CPU head
    is up. A base sweep (two studies of two trials: four search trials ready at once, then
    two cells) submitted as a Ray job with the cluster's config. GPU nodes start from none;
    four search trials hold a GPU at once, each on its own node (the old cap, the head's
    CPUs, allowed two: each search trial holds its GPU until four have been placed, so the
    peak is a count, not a race); the sweep finishes; and the idle nodes go."""
    from mlflow.tracking import MlflowClient

    from sweeper.rehearsal.stand_in import END, NODES

    (head,) = fake_cluster.alive_nodes()  # no GPU node yet
    assert head["ip"] == "127.0.0.1" and not _gpu_nodes([head])
    marks = tmp_path / "placed"
    marks.mkdir()
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    spec = {"scales": "base", "intermediate": "mnli", "targets_": "xnli", "trials": 2, "seeds": 1}
    _rehearse(fake_cluster, tmp_path, {
        "spec": {**spec, "data": str(demo_data), "name": "autoscaled"}, "tracking_uri": tracking_uri,
        "study_storage": f"sqlite:///{tmp_path / 'optuna.db'}", "cluster": str(fake_cluster.config_path),
        "seconds": {"base/mnli": 1.0, "base/xnli": 1.0},
        "hold": {"dir": str(marks), "trials": MOST_GPU_NODES, "at_most_s": 120},
    })  # fmt: skip
    left = _gpu_nodes(_wait_for_nodes(fake_cluster, lambda nodes: not _gpu_nodes(nodes)))

    client = MlflowClient(tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("autoscaled").experiment_id])
    assert {run.info.status for run in runs} == {"FINISHED"}
    trials = {run.info.run_name: run for run in runs if END in run.data.metrics}
    assert len(trials) == 6  # four search trials, two cells (none, mnli)
    placed = [json.loads(path.read_text()) for path in marks.glob("*.json")]
    held = [(mark["placed"], trials[mark["run_name"]].data.metrics[END]) for mark in placed]
    assert len(held) == 4 and _peak(held) == MOST_GPU_NODES
    search_nodes = {trials[mark["run_name"]].data.tags[NODES] for mark in placed}
    assert len(search_nodes) == MOST_GPU_NODES and head["node_id"] not in search_nodes
    assert not left, f"{len(left)} GPU nodes were left after the sweep and the idle timeout"


@pytest.mark.cluster
def test_four_packed_base_trials_share_one_gpu_and_no_more(tmp_path: Path, demo_data: Path) -> None:
    """One node on loopback with one logical GPU and CPUs to spare (8), a base sweep packed for
    a 141 GiB GPU (base's measured 6.5 GiB a trial: four to a GPU) through the real launch
    path, sleeping instead of training. Three studies make six search trials ready at once;
    each holds its share until four have been placed (then how many ran at once is a count,
    not a race). Four ran at once on the one GPU, never a fifth, though CPUs allowed eight."""
    import ray
    from mlflow.tracking import MlflowClient

    from sweeper.rehearsal.stand_in import END, NODES, rehearse
    from sweeper.resources.packing import packing_of

    packing = packing_of("base", 141, 256)
    assert packing.trials_per_gpu == 4
    marks = tmp_path / "placed"
    marks.mkdir()
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    spec = {"scales": "base", "intermediate": "mnli,qqp", "targets_": "xnli", "trials": 2, "seeds": 1}
    ray.init(address="local", num_cpus=8, num_gpus=1, include_dashboard=False, log_to_driver=False)
    try:
        (node,) = [node["NodeID"] for node in ray.nodes() if node["Alive"]]
        rehearse({
            "spec": {**spec, "data": str(demo_data), "name": "packed"}, "tracking_uri": tracking_uri,
            "study_storage": f"sqlite:///{tmp_path / 'optuna.db'}", "address": None,
            "storage_path": str(tmp_path / "tune"), "gpu_memory_gib": 141,
            "seconds": {"base/mnli": 0.5, "base/qqp": 0.5, "base/xnli": 0.5},
            "hold": {"dir": str(marks), "trials": packing.trials_per_gpu, "at_most_s": 60},
        })  # fmt: skip
    finally:
        ray.shutdown()
    client = MlflowClient(tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("packed").experiment_id])
    trials = {run.info.run_name: run for run in runs if END in run.data.metrics}
    assert len(trials) == 9  # six search trials, three cells (none, mnli, qqp)
    assert {run.data.tags[NODES] for run in trials.values()} == {node}
    placed = [json.loads(path.read_text()) for path in marks.glob("*.json")]
    held = [(mark["placed"], trials[mark["run_name"]].data.metrics[END]) for mark in placed]
    assert len(held) == 6 and _peak(held) == packing.trials_per_gpu
