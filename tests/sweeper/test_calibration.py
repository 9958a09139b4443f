"""The cost plan from measurements: the calibration file read and validated whole, and a
measured scale priced at its measured tokens/s (recomputed here by hand)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sweeper.cli import main
from sweeper.plan.plan import make_plan
from sweeper.plan.spec import SpecError, build_spec
from sweeper.resources.calibration import pick_gpu, read_calibration
from sweeper.resources.cost import Hardware, estimate

H200 = "NVIDIA H200"
ENTRIES = [
    {"scale": "base", "gpu": H200, "packing": 1, "tokens_per_s": 216042.0, "batch": 32, "seq": 256},
    {"scale": "large", "gpu": H200, "packing": 1, "tokens_per_s": 105618.0},
    {"scale": "base", "gpu": "NVIDIA A100", "packing": 1, "tokens_per_s": 90000},
]


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(document) if not isinstance(document, str) else document, encoding="utf-8")
    return path


def test_a_valid_file_reads_per_scale_gpu_and_packing(tmp_path: Path) -> None:
    calibration = read_calibration(_write(tmp_path, {"version": 1, "entries": ENTRIES}))
    assert calibration.gpus == (H200, "NVIDIA A100")
    assert calibration.tokens_per_s("base", H200) == 216042.0
    assert calibration.tokens_per_s("base", "NVIDIA A100") == 90000.0
    assert calibration.tokens_per_s("xl", H200) is None
    assert calibration.tokens_per_s("base", H200, packing=2) is None
    assert pick_gpu(calibration, H200) == H200
    with pytest.raises(SpecError, match="--gpu-model: .*measures several; valid: NVIDIA H200, NVIDIA A100"):
        pick_gpu(calibration, None)
    with pytest.raises(SpecError, match="--gpu-model: 'V100' is not in"):
        pick_gpu(calibration, "V100")


def _entry(**change: object) -> dict:
    return {**ENTRIES[0], **change}


@pytest.mark.parametrize(
    ("document", "names"),
    [
        ("{not json", "not JSON"),
        ([1, 2], "version is 'list'; valid: 1"),
        ({"version": 2, "entries": ENTRIES}, "version is 2; valid: 1"),
        ({"version": 1, "entries": []}, "entries is []; valid: a non-empty list"),
        ({"version": 1, "entries": ["base"]}, "entries[0] is 'base'"),
        ({"version": 1, "entries": [{"scale": "base", "gpu": H200}]}, "entries[0] lacks packing, tokens_per_s"),
        ({"version": 1, "entries": [_entry(scale="huge")]}, "entries[0].scale is 'huge'; valid: tiny, mini, base"),
        ({"version": 1, "entries": [_entry(gpu=" ")]}, "entries[0].gpu is ' '"),
        ({"version": 1, "entries": [_entry(packing=0)]}, "entries[0].packing is 0; valid: an integer ≥ 1"),
        ({"version": 1, "entries": [_entry(packing=1.5)]}, "entries[0].packing is 1.5"),
        ({"version": 1, "entries": [_entry(tokens_per_s=-3)]}, "entries[0].tokens_per_s is -3; valid: a number > 0"),
        ({"version": 1, "entries": [_entry(tokens_per_s="fast")]}, "entries[0].tokens_per_s is 'fast'"),
        ({"version": 1, "entries": [_entry(), _entry()]}, "entries[1] repeats ('base', 'NVIDIA H200', 1)"),
    ],
)
def test_a_bad_file_is_one_line_naming_what_is_wrong(tmp_path: Path, document: object, names: str) -> None:
    path = _write(tmp_path, document)
    with pytest.raises(SpecError) as error:
        read_calibration(path)
    message = str(error.value)
    assert message.startswith(f"--calibration: {path}: ") and names in message
    assert "\n" not in message


def test_a_missing_file_is_refused_through_the_command_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    result = CliRunner().invoke(main, ["plan", "--scales", "base", "--targets", "pawsx", "--calibration", str(missing)])
    assert result.exit_code != 0
    assert f"--calibration: {missing}: no such file" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_measured_scale_is_priced_at_its_tokens_per_second(tmp_path: Path) -> None:
    spec = build_spec(scales="base,xl", intermediate="mnli", targets_="pawsx", trials=1, seeds=1)
    plan, hardware = make_plan(spec), Hardware(peak_tflops=100.0, utilisation=0.5)
    calibration = read_calibration(_write(tmp_path, {"version": 1, "entries": ENTRIES}))
    measured = estimate(plan, hardware, calibration, H200)
    assumed = estimate(plan, hardware)
    base, xl = measured.scales
    # Training at the measured tokens/s (padding included), evaluation (2 of 6 FLOPs a token) a third.
    flops = assumed.scales[0].gpu_hours * 3600 * 100e12 * 0.5
    assert base.gpu_hours == pytest.approx(flops / (216042.0 * 6 * base.parameters) / 3600)
    assert base.throughput == f"measured 216,042 tokens/s on {H200}"
    assert (xl.gpu_hours, xl.throughput) == (assumed.scales[1].gpu_hours, "assumed")
    result = CliRunner().invoke(
        main,
        [
            "plan",
            "--scales",
            "base,xl",
            "--intermediate",
            "mnli",
            "--targets",
            "pawsx",
            "--trials",
            "1",
            "--seeds",
            "1",
            "--calibration",
            str(tmp_path / "calibration.json"),
            "--gpu-model",
            H200,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "measured 216,042 tokens/s on NVIDIA H200" in result.output
    assert "assumed: 35% of 312 TFLOP/s per GPU" in result.output  # xl, unmeasured


def test_a_measured_packing_replaces_the_assumed_gain(tmp_path: Path) -> None:
    from sweeper.resources.packing import packing_of

    spec = build_spec(scales="base", intermediate="mnli", targets_="pawsx", trials=1, seeds=1)
    plan, hardware = make_plan(spec), Hardware(gpu_memory_gib=141.0)
    trials = packing_of("base", 141.0, plan.longest_sequence).trials_per_gpu
    assert trials > 1
    alone_only = read_calibration(_write(tmp_path, {"version": 1, "entries": ENTRIES}))
    assumed = estimate(plan, hardware, alone_only, H200).scales[0]
    # Packed, each trial trains at 40 % of its speed alone: the GPU trains 0.4 × trials as much.
    packed_entry = {"scale": "base", "gpu": H200, "packing": trials, "tokens_per_s": 0.4 * 216042.0}
    both = read_calibration(_write(tmp_path, {"version": 1, "entries": [*ENTRIES, packed_entry]}))
    measured = estimate(plan, hardware, both, H200).scales[0]
    assert not assumed.packing.gain_measured and measured.packing.gain_measured
    assert measured.packing.throughput_gain == pytest.approx(0.4 * trials)
    assert measured.gpu_hours == pytest.approx(
        assumed.gpu_hours * assumed.packing.throughput_gain / measured.packing.throughput_gain
    )
    assert "as measured" in measured.packing.reason() and "assuming" not in measured.packing.reason()
