"""The CLI's listings and its refusals: bad input exits non-zero and leaves MLflow as it was."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from sweeper.cli import main
from tests.conftest import run_xsweep

XNLI = "ar bg de el en es fr hi ru sw th tr ur vi zh".split()


def test_tasks_json_lists_every_task_with_its_languages() -> None:
    result = CliRunner().invoke(main, ["tasks", "--json"])
    assert result.exit_code == 0
    tasks = {entry["name"]: entry for entry in json.loads(result.output)}
    assert {"mnli", "qqp", "xnli", "pawsx", "udpos", "xquad", "tatoeba", "bucc2018"} <= set(tasks)
    for entry in tasks.values():
        assert {"name", "kind", "family", "metric", "train_source", "languages", "train"} <= set(entry)
    assert tasks["xnli"] | {"languages": XNLI} == tasks["xnli"]
    assert tasks["bucc2018"]["train"] == [] and len(tasks["xcopa"]["train"]) == 2
    assert tasks["xnli"]["kind"] == "target" and tasks["mnli"]["kind"] == "intermediate"
    assert tasks["xnli"]["train_source"] == "mnli" and tasks["xnli"]["metric"] == "accuracy"


def test_scales_json_names_the_hub_models() -> None:
    result = CliRunner().invoke(main, ["scales", "--json"])
    scales = {entry["name"]: entry for entry in json.loads(result.output)}
    assert list(scales) == ["tiny", "mini", "base", "large", "xl", "xxl"]
    assert scales["large"]["model"] == "FacebookAI/xlm-roberta-large"
    assert scales["xxl"]["model"] == "facebook/xlm-roberta-xxl"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--scales", "nope"], "--scales: unknown nope; valid: tiny, mini, base, large, xl, xxl"),
        (["--scales", "tiny", "--targets", "nope"], "--targets: unknown nope; valid: xnli, pawsx, xcopa, udpos"),
    ],
)
def test_bad_names_exit_non_zero_and_create_nothing(
    args: list[str], expected: str, tmp_path: Path, demo_data: Path
) -> None:
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = CliRunner().invoke(
        main, ["launch", *args, "--data", str(demo_data)], env={"MLFLOW_TRACKING_URI": tracking_uri}
    )
    assert result.exit_code != 0
    # One line naming what was wrong and what is valid.
    assert result.output.strip().startswith(f"Error: {expected}") and "\n" not in result.output.strip()
    assert not (tmp_path / "mlflow.db").exists()


def test_a_scale_needing_gpus_on_a_cpu_machine_is_refused(tmp_path: Path, demo_data: Path) -> None:
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ("launch", "--scales", "base", "--intermediate", "mnli", "--targets", "xnli", "--data", str(demo_data))
    result = run_xsweep(*args, tracking_uri=tracking_uri, cwd=tmp_path)
    assert result.returncode != 0
    # Found once Ray counts the GPUs, and still one line (after the plan's warning of the
    # languages the demo data lacks), without Ray's or MLflow's start-up lines.
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: --scales: base need GPUs and this machine has 0") and len(lines) <= 2, lines
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "mlflow.db").exists()


def test_report_of_an_unknown_sweep_is_a_clear_error(tmp_path: Path) -> None:
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_xsweep("report", "--name", "ghost", tracking_uri=tracking_uri, cwd=tmp_path)
    assert result.returncode != 0 and "no sweep named 'ghost'" in result.stderr


def test_compare_of_an_unknown_sweep_names_the_argument(tmp_path: Path) -> None:
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = CliRunner().invoke(main, ["compare", "ghost", "other", "--tracking-uri", tracking_uri])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == "Error: NAME_A: no sweep named 'ghost' in this tracking store"


# Seconds to import each: seqeval brings scikit-learn, `datasets` brings pandas.
HEAVY = ("torch", "transformers", "ray", "mlflow", "datasets", "pandas", "sklearn", "seqeval")


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["tasks"],
        ["scales"],
        ["plan", "--scales", "base,large,xl"],
        ["launch", "--dry-run", "--scales", "base,large,xl"],
        ["plan", "--scales", "tiny,mini", "--intermediate", "mnli", "--targets", "xnli", "--data", "DEMO"],
        ["plan", "--scales", "base", "--local-data", "LOCAL"],
    ],
)
def test_listing_and_planning_import_no_heavy_library(args: list[str], demo_data: Path, tmp_path: Path) -> None:
    """They answer at once: none of the libraries in HEAVY is imported (a fresh process, so
    that nothing this test session imported counts)."""
    local = tmp_path / "cosmos_qa" / "default"
    local.mkdir(parents=True)
    for split in ("train", "validation"):
        (local / f"{split}.jsonl").write_text('{"context": "c", "question": "q", "label": 0}\n', encoding="utf-8")
    args = [{"DEMO": str(demo_data), "LOCAL": str(tmp_path)}.get(arg, arg) for arg in args]
    probe = (
        "import sys; from click.testing import CliRunner; from sweeper.cli import main; "
        f"result = CliRunner().invoke(main, {args!r}); assert result.exit_code == 0, result.output; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300)
    assert found.stdout.strip().splitlines()[-1:] in ([], [""]), found.stdout


def test_version_is_the_projects() -> None:
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"xsweep, version {pyproject['project']['version']}\n"
