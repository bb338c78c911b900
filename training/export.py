"""Export a trained generator as a model folder: ONNX (uint8 NHWC I/O) + safetensors + card.json.

The ONNX graph carries the normalisation (``Uint8NHWC``), so engines feed decoder bytes
directly. Every export is checked against torch on fresh random frames of a size the graph was
not traced with; the largest absolute difference (in uint8 levels) is printed, stored in the
card and must stay within ``tolerance``.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from safetensors.torch import save_file
from torch import nn

from ganstream.engines.archs import Uint8NHWC, size_multiple
from ganstream.engines.card import ModelCard, ShapeLimits, TensorSpec, sha256_file
from ganstream.training.errors import ExportError

log = logging.getLogger(__name__)

ONNX_FILENAME = "model.onnx"
WEIGHTS_FILENAME = "model.safetensors"
DEFAULT_OPSET = 18  # onnxruntime 1.2x and OpenVINO both run opset 18
EXAMPLE_BATCH = 2  # > 1 so the exporter keeps the batch axis dynamic
EXAMPLE_HW = (48, 64)
PARITY_HW = (38, 54)  # deliberately not the traced size


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    card: ModelCard
    max_abs_diff: float


def frame_specs(window: int = 1) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """Input/output tensor specs of an enhancement graph (window 1) or an interpolation graph (window 2)."""
    if window == 1:
        return [TensorSpec("input")], [TensorSpec("output")]
    return (
        [TensorSpec("frame0"), TensorSpec("frame1"), TensorSpec("t", dtype="float32", shape=("N", 1))],
        [TensorSpec("output")],
    )


def _random_inputs(
    specs: Sequence[TensorSpec], hw: tuple[int, int], batch: int, rng: np.random.Generator
) -> list[npt.NDArray[Any]]:
    dims = {"N": batch, "H": hw[0], "W": hw[1]}
    out: list[npt.NDArray[Any]] = []
    for spec in specs:
        shape = tuple(dims[d] if isinstance(d, str) else d for d in spec.shape)
        if spec.dtype == "uint8":
            out.append(rng.integers(0, 256, size=shape, dtype=np.uint8))
        elif spec.dtype == "float32":
            out.append(rng.uniform(0.05, 0.95, size=shape).astype(np.float32))
        else:
            raise ExportError(f"export: input {spec.name!r} has dtype {spec.dtype!r}, expected uint8 or float32")
    return out


def _dynamic_shapes(specs: Sequence[TensorSpec], limits: ShapeLimits) -> tuple[dict[int, Any], ...]:
    bounds = {
        "N": (1, 256),
        "H": (limits.min_height, limits.max_height),
        "W": (limits.min_width, limits.max_width),
    }
    dims: dict[str, Any] = {}
    for name, (lo, hi) in bounds.items():
        if limits.multiple_of > 1 and name != "N":
            # H = multiple_of * k keeps pixel-unshuffle shapes provable for the exporter.
            base = torch.export.Dim(f"{name}_k", min=max(1, lo // limits.multiple_of), max=hi // limits.multiple_of)
            dims[name] = limits.multiple_of * base
        else:
            dims[name] = torch.export.Dim(name, min=lo, max=hi)
    return tuple({i: dims[d] for i, d in enumerate(spec.shape) if isinstance(d, str)} for spec in specs)


def strip_source_metadata(model: Any) -> None:
    """Drop the exporter's per-node metadata (Python stack traces with the exporting machine's
    file paths): shipped graphs must not carry where they were built."""
    for node in model.graph.node:
        del node.metadata_props[:]


def _name_output_axes(path: Path, outputs: Sequence[TensorSpec], scale: int) -> None:
    """Give the output's symbolic axes readable names (the exporter writes expressions) and
    strip the exporter's source metadata."""
    import onnx

    model = onnx.load(str(path))
    strip_source_metadata(model)
    names = {0: "N", 1: "H" if scale == 1 else f"H*{scale}", 2: "W" if scale == 1 else f"W*{scale}"}
    for out in model.graph.output:
        if out.name not in {o.name for o in outputs}:
            continue
        for i, dim in enumerate(out.type.tensor_type.shape.dim):
            if i in names and not dim.HasField("dim_value"):
                dim.dim_param = names[i]
    onnx.save(model, str(path))


def export_onnx(
    wrapped: nn.Module,
    path: Path,
    inputs: Sequence[TensorSpec],
    outputs: Sequence[TensorSpec],
    limits: ShapeLimits,
    scale: int = 1,
    opset: int = DEFAULT_OPSET,
) -> None:
    """Trace `wrapped` (uint8 NHWC in/out) to a single-file ONNX graph with dynamic N/H/W."""
    rng = np.random.default_rng(0)
    hw = (
        EXAMPLE_HW[0] - EXAMPLE_HW[0] % limits.multiple_of,
        EXAMPLE_HW[1] - EXAMPLE_HW[1] % limits.multiple_of,
    )
    example = tuple(torch.from_numpy(a) for a in _random_inputs(inputs, hw, EXAMPLE_BATCH, rng))
    try:
        torch.onnx.export(
            wrapped,
            example,
            str(path),
            input_names=[s.name for s in inputs],
            output_names=[s.name for s in outputs],
            opset_version=opset,
            dynamo=True,
            external_data=False,
            dynamic_shapes=_dynamic_shapes(inputs, limits),
        )
    except Exception as exc:  # the exporter raises many unrelated types; report one line
        first_line = (str(exc).splitlines() or [""])[0]
        raise ExportError(f"export: ONNX export to {path} failed: {type(exc).__name__}: {first_line}") from None
    if not path.is_file():
        raise ExportError(f"export: the exporter wrote no file at {path}")
    _name_output_axes(path, outputs, scale)


def parity_check(
    wrapped: nn.Module,
    onnx_path: Path,
    inputs: Sequence[TensorSpec],
    limits: ShapeLimits,
    seed: int = 1234,
    trials: int = 2,
) -> float:
    """Largest |onnxruntime - torch| over fresh random frames (uint8 levels)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    hw = (PARITY_HW[0] - PARITY_HW[0] % limits.multiple_of, PARITY_HW[1] - PARITY_HW[1] % limits.multiple_of)
    worst = 0.0
    for trial in range(trials):
        arrays = _random_inputs(inputs, hw, 1 + trial, rng)
        got = session.run(None, {s.name: a for s, a in zip(inputs, arrays, strict=True)})[0]
        with torch.no_grad():
            ref = wrapped(*(torch.from_numpy(a) for a in arrays)).numpy()
        if got.shape != ref.shape:
            raise ExportError(f"export: {onnx_path} returns shape {got.shape}, torch returns {ref.shape}")
        worst = max(worst, float(np.abs(got.astype(np.float64) - ref.astype(np.float64)).max()))
    return worst


def export_generator(
    model: nn.Module,
    arch: dict[str, Any],
    out_root: Path,
    name: str,
    *,
    task: str,
    scale: int = 1,
    window: int = 1,
    wrapped: nn.Module | None = None,
    limits: ShapeLimits | None = None,
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    description: str = "",
    tolerance: float = 2.0,
    opset: int = DEFAULT_OPSET,
    inputs: Sequence[TensorSpec] | None = None,
    recurrent: dict[str, Any] | None = None,
) -> ExportResult:
    """Write ``out_root/name/{model.onnx, model.safetensors, card.json}`` and return the card.

    `model` is the float NCHW [0, 1] generator (its state dict goes to safetensors, loadable
    with ``build_generator(arch)``); `wrapped` is what goes to ONNX, by default
    ``Uint8NHWC(model)``. `inputs` overrides the frame inputs of `window` (a recurrent model
    also takes its state; `recurrent` is then its card field). The folder is written to a
    temporary sibling and moved into place, so a failed export never leaves a half-written model.
    """
    if limits is None:
        limits = ShapeLimits(multiple_of=2 if task == "restore" else size_multiple(arch))
    model = model.float().eval().to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    wrapped = (wrapped if wrapped is not None else Uint8NHWC(model)).eval()
    frames, outputs = frame_specs(window)
    inputs = list(inputs) if inputs is not None else frames
    out_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out_root))
    try:
        onnx_path = tmp / ONNX_FILENAME
        export_onnx(wrapped, onnx_path, inputs, outputs, limits, scale=scale, opset=opset)
        diff = parity_check(wrapped, onnx_path, inputs, limits)
        print(f"export {name}: onnxruntime vs torch max abs diff = {diff:g} (uint8 levels, tolerance {tolerance:g})")
        if diff > tolerance:
            raise ExportError(f"export {name}: onnxruntime differs from torch by {diff:g} > {tolerance:g} uint8 levels")
        state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_FILENAME), metadata={"arch": json.dumps(arch, sort_keys=True)})
        card = ModelCard(
            name=name,
            task=task,
            scale=scale,
            window=window,
            inputs=inputs,
            outputs=outputs,
            limits=limits,
            precision="fp32",
            artifacts={f: sha256_file(tmp / f) for f in (ONNX_FILENAME, WEIGHTS_FILENAME)},
            arch=arch,
            training=dict(training or {}),
            metrics={**(metrics or {}), "export_max_abs_diff": diff},
            description=description,
            recurrent=dict(recurrent or {}),
        )
        card.save(tmp)
        # mkdtemp makes a private folder; a model folder is meant to be shared and shipped
        tmp.chmod(0o755)
        for f in tmp.iterdir():
            f.chmod(0o644)
        final = out_root / name
        if final.exists():
            shutil.rmtree(final)
        tmp.replace(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("exported %s to %s", name, final)
    return ExportResult(folder=final, card=card, max_abs_diff=diff)
