"""GPU check: a few training steps of randomly initialised XLM-R base-, large- (and XL-)
shaped classifiers in bf16 on one CUDA GPU; prints tokens/s and model FLOPs utilisation (MFU).

Imports only torch and transformers, so it runs on a bare GPU machine:

    python benchmarks/gpu_check.py                      # base and large, batch 32 × 256 tokens
    python benchmarks/gpu_check.py --shapes xl --batch 8   # XL with gradient checkpointing (~80 GiB)
    python benchmarks/gpu_check.py --device cpu --shapes base --steps 2 --batch 2 --seq 32   # smoke run
    python benchmarks/gpu_check.py --calibration-out calibration.json   # for `xsweep plan --calibration`

FLOPs per token follow the usual estimate for a transformer trained with backpropagation:
6 · non-embedding parameters + 12 · layers · hidden · sequence (attention scores).
It checks one GPU only: the data-parallel, sharded path of XL and XXL needs several (XL's
full copy with AdamW state fits one 141 GB GPU, which is what the xl shape measures).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from transformers import (
    PretrainedConfig,
    PreTrainedModel,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
    XLMRobertaXLConfig,
    XLMRobertaXLForSequenceClassification,
)

# The published models' shapes; XL is pre-LayerNorm (its own model class) and, as in
# xsweep's scale registry, trains with gradient checkpointing.
SHAPES = {
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
    "large": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096},
    "xl": {"hidden_size": 2560, "num_hidden_layers": 36, "num_attention_heads": 32, "intermediate_size": 10240},
}
GRADIENT_CHECKPOINTING = {"base": False, "large": False, "xl": True}


def build(shape: str, device: torch.device) -> tuple[PretrainedConfig, PreTrainedModel]:
    """A randomly initialised classifier of that shape, created straight on the device."""
    if shape == "xl":
        config = XLMRobertaXLConfig(vocab_size=250_880, num_labels=3, **SHAPES[shape])
        model_class = XLMRobertaXLForSequenceClassification
    else:
        config = XLMRobertaConfig(vocab_size=250_002, max_position_embeddings=514, num_labels=3, **SHAPES[shape])
        model_class = XLMRobertaForSequenceClassification
    with device:
        model = model_class(config)
    if GRADIENT_CHECKPOINTING[shape]:
        model.gradient_checkpointing_enable()
    return config, model


# Dense bf16 peaks from the vendors' data sheets (SXM parts); pass --peak-tflops for others.
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}


def peak_tflops(device: torch.device, given: float | None) -> float | None:
    if given is not None or device.type != "cuda":
        return given
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_TFLOPS.items() if key in name), None)


def measure(shape: str, args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    config, model = build(shape, device)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=device.type == "cuda")
    embedding = sum(p.numel() for n, p in model.named_parameters() if "embeddings" in n)
    non_embedding = sum(p.numel() for p in model.parameters()) - embedding
    flops_per_token = 6 * non_embedding + 12 * config.num_hidden_layers * config.hidden_size * args.seq
    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()

    def step() -> None:
        input_ids = torch.randint(5, config.vocab_size, (args.batch, args.seq), device=device)
        labels = torch.randint(0, 3, (args.batch,), device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            loss = model(input_ids=input_ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    tokens_per_second = args.batch * args.seq * args.steps / seconds
    achieved = tokens_per_second * flops_per_token / 1e12
    peak = peak_tflops(device, args.peak_tflops)
    memory = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    return {
        "parameters (M)": (embedding + non_embedding) / 1e6,
        "tokens/s": tokens_per_second,
        "TFLOP/s": achieved,
        "MFU %": 100 * achieved / peak if peak else float("nan"),
        "peak memory GiB": memory,
        "precision": "bf16" if use_bf16 else "fp32",
        "checkpointing": "yes" if GRADIENT_CHECKPOINTING[shape] else "no",
    }


def calibration(rows: dict[str, dict], gpu: str, args: argparse.Namespace) -> dict:
    """The measured tokens/s as the calibration file ``xsweep plan --calibration`` reads
    (``sweeper/resources/calibration.py``): one trial per GPU (packing 1), full batches of --seq tokens."""
    measured = {"packing": 1, "batch": args.batch, "seq": args.seq}
    entries = [{"scale": shape, "gpu": gpu, **measured, "tokens_per_s": row["tokens/s"]} for shape, row in rows.items()]
    return {"version": 1, "source": "benchmarks/gpu_check.py", "entries": entries}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--shapes", default="base,large")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak")
    parser.add_argument("--calibration-out", default=None, help="write the measured tokens/s here (JSON)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here; valid: --device cpu for a smoke run")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}; batch {args.batch} × {args.seq} tokens, {args.steps} timed steps")
    rows = {}
    for shape in args.shapes.split(","):
        rows[shape] = measure(shape, args, device)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    columns = list(next(iter(rows.values())))
    print(f"{'shape':<8}" + "".join(f"{c:>18}" for c in columns))
    for shape, row in rows.items():
        cells = [f"{v:>18.1f}" if isinstance(v, float) else f"{v:>18}" for v in row.values()]
        print(f"{shape:<8}" + "".join(cells))
    if args.calibration_out:
        Path(args.calibration_out).write_text(json.dumps(calibration(rows, name, args), indent=2) + "\n")
        print(f"calibration written to {args.calibration_out}")


if __name__ == "__main__":
    main()
