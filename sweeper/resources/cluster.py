"""The Ray cluster-launcher config, read to check that every scale's GPU need fits a node and
to size a sweep's concurrency by what its autoscaler may start; and the GPUs of the nodes a
running sweep places its trials on."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import jsonschema
import yaml

from sweeper.plan.scales import SCALES
from sweeper.plan.spec import SpecError
from sweeper.resources.capacity import ClusterSize, autoscaling_size, config_mismatch, fixed_size


def load_cluster(path: str | Path) -> dict:
    """Parse ``path`` and validate it against the schema shipped in the installed ray."""
    try:
        config = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise SpecError(f"--cluster: cannot read {path}: {str(error).splitlines()[0]}") from None
    # Found, not imported: importing ray takes seconds, and `xsweep plan` should answer at once.
    schema_path = Path(find_spec("ray").submodule_search_locations[0]) / "autoscaler" / "ray-schema.json"
    try:
        jsonschema.validate(config, json.loads(schema_path.read_text()))
    except jsonschema.ValidationError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "top level"
        raise SpecError(f"--cluster: {path} is not a valid Ray cluster config at {where}: {error.message}") from None
    node_types = config.get("available_node_types") or {}
    if config.get("head_node_type") not in node_types:
        raise SpecError(f"--cluster: {path}: head_node_type must name one of available_node_types")
    return config


def node_gpus(config: dict) -> dict[str, int]:
    """GPUs per node type, as its `resources` advertise them to Ray."""
    return {name: int(node.get("resources", {}).get("GPU", 0)) for name, node in config["available_node_types"].items()}


def check_scales_fit(scales: tuple[str, ...], config: dict, path: str | Path) -> None:
    largest = max(node_gpus(config).values(), default=0)
    short = [name for name in scales if SCALES[name].gpus > largest]
    if short:
        needs = ", ".join(f"{name} needs {SCALES[name].gpus}" for name in short)
        raise SpecError(f"--cluster: no node type in {path} has enough GPUs ({needs}; the largest has {largest})")


def cluster_size(config: dict | None, path: str | Path | None = None, local: bool = False) -> ClusterSize:
    """The size a launch plans its concurrency for: the largest the autoscaler may build, where
    ``config`` is the one it runs with, else the live cluster's nodes (a ``local`` Ray is all
    there is; a cluster without its config may grow, see ``fixed_size``).

    Why the config file: Ray's OSS autoscaler keeps its node types' max_workers to itself.
    Its GCS `ClusterConfig` (`ray._private.state.state.get_cluster_config()`, which Ray Train
    and Ray Data read) is None under `ray start --autoscaling-config` (Ray 2.60, checked on the
    fake multi-node provider; ray-project/ray#63012, which would report it, was closed), and
    `ray.autoscaler.v2.sdk.get_cluster_status` and the v1 monitor's status report nodes and
    demands, never limits. The config is what `ray up` starts the autoscaler with, and it is
    beside the driver (cluster.yaml in the project `ray up` synced to every node).
    Refused in one line where the config does not describe the running cluster."""
    import ray  # a launch's: `xsweep plan` reads configs without importing Ray

    alive = [node["Resources"] for node in ray.nodes() if node["Alive"]]
    if config is None:
        return fixed_size(alive, limits_known=local)
    problem = config_mismatch(config, alive)
    if problem:
        raise SpecError(
            f"--cluster: {path} is not the config of the cluster at this address: {problem}; "
            "valid: the config the cluster was started with (ray up CONFIG)"
        )
    return autoscaling_size(config)


def live_node_gpus(planned: tuple[int, ...] = ()) -> list[int] | None:
    """GPUs per node that trials are placed on: ``planned`` (every node an autoscaling cluster
    may start, see ``capacity.node_gpus``) where given, else the alive nodes'; None where this
    process is connected to no Ray cluster."""
    import ray  # a launch's, as in ``cluster_size``

    if not ray.is_initialized():
        return None
    if planned:
        return list(planned)
    return [int(node["Resources"].get("GPU", 0)) for node in ray.nodes() if node["Alive"]]
