"""The Ray cluster-launcher config, read to check that every scale's GPU need fits a node."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import jsonschema
import yaml

from sweeper.scales import SCALES
from sweeper.spec import SpecError


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
