"""cluster.yaml against the schema shipped in ray, and the dry run that checks scales fit it."""

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


@pytest.mark.cluster
def test_a_multi_node_cluster_refuses_node_local_state(tmp_path: Path, demo_data: Path) -> None:
    """A real two-node Ray cluster on loopback: a SQLite tracking file or a local Tune folder
    would be a different copy on each node, so the launch is refused before writing anything."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 80 * 2**20})
    try:
        cluster.add_node(num_cpus=1, object_store_memory=80 * 2**20)
        cluster.wait_for_nodes()
        base = ("launch", "--scales", "tiny", "--targets", "xnli", "--data", str(demo_data))
        base += ("--address", cluster.address)
        sqlite_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
        result = run_xsweep(*base, tracking_uri=sqlite_uri, cwd=tmp_path)
        assert result.returncode != 0
        assert "is a file on a 2-node cluster" in result.stderr
        result = run_xsweep(*base, tracking_uri="http://127.0.0.1:9", cwd=tmp_path)
        assert result.returncode != 0
        assert "each node's own loopback address" in result.stderr
        result = run_xsweep(*base, tracking_uri="http://tracker.invalid:5000", cwd=tmp_path)
        assert result.returncode != 0
        assert "--storage-path: .xsweep/tune is a folder on one node of a 2-node cluster" in result.stderr
        assert not (tmp_path / ".xsweep").exists()
    finally:
        cluster.shutdown()
