"""Randomly initialised models in the store format, for tests, parity checks and benchmarks.

A model made here has the real architecture, the exported I/O convention and a valid card, but
untrained weights: it measures speed and backend agreement, never quality. Needs torch, onnx and
safetensors (the ``train`` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganstream.engines.card import ModelCard, ShapeLimits, TensorSpec, sha256_file

TINY_SR2X_ARCH: dict[str, Any] = {"name": "srvgg", "params": {"scale": 2, "num_feat": 32, "num_conv": 8}}


def export_onnx(module: Any, path: Path, height: int = 64, width: int = 64, opset: int = 17) -> None:
    """Export a uint8-NHWC module to ONNX with dynamic batch, height and width."""
    import warnings

    import torch

    example = torch.randint(0, 256, (1, height, width, 3), dtype=torch.uint8)
    tmp = path.with_suffix(".onnx.tmp")
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated but gives a plain graph with dynamic H and W.
        warnings.simplefilter("ignore", DeprecationWarning)
        _export(module, example, tmp, opset)
    tmp.replace(path)


def _export(module: Any, example: Any, tmp: Path, opset: int) -> None:
    import torch

    torch.onnx.export(
        module,
        (example,),
        str(tmp),
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "N", 1: "H", 2: "W"}, "output": {0: "N", 1: "H2", 2: "W2"}},
        opset_version=opset,
        dynamo=False,
    )


def make_random_model(
    folder: Path,
    name: str = "tiny-sr2x",
    arch: dict[str, Any] | None = None,
    task: str = "sr",
    seed: int = 0,
    limits: ShapeLimits | None = None,
) -> ModelCard:
    """Write model.onnx, model.safetensors and card.json for a random generator into `folder`."""
    import torch
    from safetensors.torch import save_file

    from ganstream.engines.archs import Uint8NHWC, build_generator, size_multiple

    arch = arch or TINY_SR2X_ARCH
    torch.manual_seed(seed)
    net = build_generator(arch).eval()
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "model.safetensors"))
    with torch.no_grad():
        export_onnx(Uint8NHWC(net).eval(), folder / "model.onnx")
    scale = int(arch.get("params", {}).get("scale", 1)) if task == "sr" else 1
    card = ModelCard(
        name=name,
        task=task,
        scale=scale,
        inputs=[TensorSpec("input")],
        outputs=[TensorSpec("output")],
        limits=limits or ShapeLimits(multiple_of=size_multiple(arch)),
        artifacts={f: sha256_file(folder / f) for f in ("model.onnx", "model.safetensors")},
        arch=arch,
        description="randomly initialised weights: for tests and speed measurements only",
    )
    card.save(folder)
    return card
