"""Export a trained synthesis network as the ``interp`` model folder: ONNX + safetensors + card.

Graph I/O (see ``engines/archs/interp_fusion.py``): ``frame0``, ``frame1`` uint8 NHWC (the two
source frames), ``warped0``, ``warped1`` uint8 NHWC (both frames warped to t by the runtime's
classical flow), ``t`` float32 (N, 1), ``flow_t0``, ``flow_t1`` float32 NHWC (N, H, W, 2);
output uint8 NHWC. The export is checked against torch
with onnxruntime on random inputs of a size it was not traced with.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ganstream.engines.archs.interp_fusion import INPUTS, FlowFusionNet, InterpUint8NHWC
from ganstream.engines.card import ModelCard, ShapeLimits, TensorSpec, sha256_file
from ganstream.engines.flow import FlowOptions
from ganstream.training.errors import CheckpointError, ExportError
from ganstream.training.interp.train import TrainConfig

log = logging.getLogger(__name__)

OPSET = 18
TRACE_HW = (64, 96)
PARITY_HW = (48, 80)  # not the traced size; both multiples of 16 (two coarse levels)
PARITY_TOLERANCE = 1  # uint8 levels: rounding of values sitting on .5


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    card: ModelCard
    max_abs_diff: int


def input_specs() -> list[TensorSpec]:
    flow_shape: tuple[int | str, ...] = ("N", "H", "W", 2)
    specs = {
        "t": TensorSpec("t", dtype="float32", shape=("N", 1)),
        "flow_t0": TensorSpec("flow_t0", dtype="float32", shape=flow_shape),
        "flow_t1": TensorSpec("flow_t1", dtype="float32", shape=flow_shape),
    }
    return [specs.get(name, TensorSpec(name)) for name in INPUTS]


def random_inputs(batch: int, hw: tuple[int, int], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    h, w = hw
    out: list[np.ndarray] = []
    for name in INPUTS:
        if name == "t":
            out.append(rng.uniform(0.1, 0.9, (batch, 1)).astype(np.float32))
        elif name.startswith("flow"):
            out.append(rng.normal(0, 4, (batch, h, w, 2)).astype(np.float32))
        else:
            out.append(rng.integers(0, 256, (batch, h, w, 3), dtype=np.uint8))
    return out


def load_run_model(run: Path) -> tuple[FlowFusionNet, dict[str, Any]]:
    """The best network of a training run and the run's config."""
    try:
        cfg = json.loads((run / "config.json").read_text())
        weights = load_file(str(run / "best.safetensors"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{run}: not a finished interp run (config.json, best.safetensors: {exc})") from None
    model = FlowFusionNet(
        num_feat=int(cfg["num_feat"]),
        num_conv=int(cfg["num_conv"]),
        coarse=int(cfg.get("coarse", 0)),
        fallback=TrainConfig.from_dict(cfg).fallback(),  # the base the run trained on
    )
    model.load_state_dict(weights)
    return model.eval(), cfg


def export_model(
    model: FlowFusionNet,
    out: Path,
    name: str = "interp",
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    flow: dict[str, Any] | None = None,
    warp: str = "cubic",
) -> ExportResult:
    import onnxruntime as ort

    wrapper = InterpUint8NHWC(model).eval()
    dyn = {k: {0: "N", 1: "H", 2: "W"} for k in (*INPUTS, "output") if k != "t"}
    dyn["t"] = {0: "N"}
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        example = tuple(torch.from_numpy(a) for a in random_inputs(2, TRACE_HW, seed=0))
        try:
            with warnings.catch_warnings():
                # The TorchScript exporter: plain opset-18 graphs with dynamic N, H, W; its
                # deprecation notices are not for the user.
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    wrapper, example, str(stage / "model.onnx"), input_names=list(INPUTS), output_names=["output"],
                    opset_version=OPSET, dynamic_axes=dyn, dynamo=False,
                )  # fmt: skip
        except Exception as exc:  # the exporter raises many types; the user gets one line
            raise ExportError(f"export of model '{name}' to ONNX failed: {exc}") from None
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(stage / "model.safetensors"))
        inputs = random_inputs(1, PARITY_HW, seed=1)
        with torch.no_grad():
            ref = wrapper(*(torch.from_numpy(a) for a in inputs)).numpy()
        sess = ort.InferenceSession(str(stage / "model.onnx"), providers=["CPUExecutionProvider"])
        got = sess.run(None, dict(zip(INPUTS, inputs, strict=True)))[0]
        diff = int(np.abs(got.astype(np.int16) - ref.astype(np.int16)).max())
        log.info("export parity (onnxruntime vs torch, %dx%d): max |diff| %d", PARITY_HW[1], PARITY_HW[0], diff)
        if diff > PARITY_TOLERANCE:
            raise ExportError(f"export of model '{name}': onnxruntime differs from torch by {diff} levels")
        card = ModelCard(
            name=name,
            task="interp",
            window=2,
            inputs=input_specs(),
            outputs=[TensorSpec("output")],
            limits=ShapeLimits(min_height=16, min_width=16, multiple_of=model.multiple),
            artifacts={f: sha256_file(stage / f) for f in ("model.onnx", "model.safetensors")},
            arch={
                "name": "interp_fusion",
                "params": {
                    "num_feat": model.num_feat,
                    "num_conv": model.num_conv,
                    "coarse": model.coarse,
                    # `flow`'s fallback inside the graph (None: the network starts from the average)
                    "fallback": model.fallback,
                },
                # the flow the network was trained on: the runtime must compute the same
                "flow": flow or asdict(FlowOptions()),
                # and warp both frames with the same kernel (NetSynth reads it; older cards: bilinear)
                "warp": warp,
            },
            training={**(training or {}), "export_parity_max_abs_diff": diff},
            metrics=metrics or {},
            description=(
                "Frame interpolation for CPUs: classical DIS flow + Super SloMo intermediate flows + "
                "backward warping (done by the runtime), then this network's flow correction, per-pixel "
                "fusion of the two warps and the cross-fade, and residual refinement."
            ),
        )
        card.save(stage)
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(stage, out)
    return ExportResult(out, card, diff)


def export_run(run: Path, out: Path, name: str = "interp", metrics: dict[str, Any] | None = None) -> ExportResult:
    model, cfg = load_run_model(run)
    state = json.loads((run / "state.json").read_text()) if (run / "state.json").exists() else {}
    training = {
        "preset": cfg.get("preset"),
        "steps": state.get("best_step"),
        "seconds": round(float(state.get("seconds", 0.0)), 1),
        "machine": cfg.get("machine") or "2-vCPU x86-64 (no GPU)",
        "recipe": {
            k: cfg[k]
            for k in (
                "batch",
                "crop",
                "crops_per_sample",
                "lr",
                "adv_weight",
                "adv_start",
                "num_feat",
                "num_conv",
                "coarse",
                "base",
                "init",
            )
            if k in cfg
        },
        "val_psnr_y_db": state.get("best_psnr"),
        "val_classical_base_psnr_y_db": state.get("baseline_psnr"),
    }
    warp = "cubic" if cfg.get("cubic_warp", False) else "bilinear"  # runs from before the field warped bilinearly
    # runs from before the field trained on FlowOptions()'s flow, export_model's default
    flow = cfg.get("flow")
    return export_model(model, out, name=name, training=training, metrics=metrics, flow=flow, warp=warp)
