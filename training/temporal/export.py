"""Export a recurrent run (``ganstream train recurrent``) as a model folder: ONNX + safetensors + card.

Graph I/O: ``input`` uint8 (N, h, w, 3), the frame; ``previous`` uint8 (N, h, w, 3 * scale**2),
the previous output warped to this frame and folded onto its grid (the runtime computes it:
``ganstream.engines.recurrence``); output uint8 (N, h * scale, w * scale, 3). The card's
``recurrent`` field names the state input and the flow the network was trained with. The
export is checked against torch with onnxruntime on random inputs of a size it was not traced
with.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ganstream.engines.archs.recurrent import RecurrentCompact, RecurrentUint8NHWC
from ganstream.engines.card import ModelCard, TensorSpec, sha256_file
from ganstream.engines.recurrence import STATE_INPUT, RecurrenceSpec
from ganstream.training.errors import CheckpointError, ExportError
from ganstream.training.export import ExportResult

log = logging.getLogger(__name__)

OPSET = 18
PARITY_HW = (38, 54)  # not the traced size
RECIPE_KEYS = ("batch", "crop", "length", "lr", "first_lr_mult", "clip_prob", "max_frames")
PARITY_TOLERANCE = 1  # uint8 levels: rounding of values sitting on .5


def input_specs(scale: int) -> list[TensorSpec]:
    return [TensorSpec("input"), TensorSpec(STATE_INPUT, shape=("N", "H", "W", 3 * scale * scale))]


def random_inputs(batch: int, hw: tuple[int, int], scale: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    h, w = hw
    return [
        rng.integers(0, 256, (batch, h, w, 3), dtype=np.uint8),
        rng.integers(0, 256, (batch, h, w, 3 * scale * scale), dtype=np.uint8),
    ]


def load_run_model(run: Path) -> tuple[RecurrentCompact, dict[str, Any], ModelCard]:
    """The best network of a recurrent run, the run's config and the card of the model it started from."""
    from ganstream.training.temporal.train import load_init

    try:
        cfg = json.loads((run / "config.json").read_text())
        weights = load_file(str(run / "best.safetensors"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{run}: not a recurrent run (config.json, best.safetensors: {exc})") from None
    model, init_card = load_init(Path(cfg["init"]))
    model.load_state_dict(weights)
    return model.eval(), cfg, init_card


def export_model(
    model: RecurrentCompact,
    out: Path,
    name: str,
    init_card: ModelCard,
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> ExportResult:
    import onnxruntime as ort

    scale = model.scale
    names = ["input", STATE_INPUT]
    wrapper = RecurrentUint8NHWC(model).eval()
    dyn = {k: {0: "N", 1: "H", 2: "W"} for k in (*names, "output")}
    spec = RecurrenceSpec(scale=scale)
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        example = tuple(torch.from_numpy(a) for a in random_inputs(2, (48, 64), scale, seed=0))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
                torch.onnx.export(
                    wrapper, example, str(stage / "model.onnx"), input_names=names, output_names=["output"],
                    opset_version=OPSET, dynamic_axes=dyn, dynamo=False,
                )  # fmt: skip
        except Exception as exc:  # the exporter raises many types; the user gets one line
            raise ExportError(f"export of model '{name}' to ONNX failed: {exc}") from None
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(stage / "model.safetensors"))
        inputs = random_inputs(1, PARITY_HW, scale, seed=1)
        with torch.no_grad():
            ref = wrapper(*(torch.from_numpy(a) for a in inputs)).numpy()
        sess = ort.InferenceSession(str(stage / "model.onnx"), providers=["CPUExecutionProvider"])
        got = sess.run(None, dict(zip(names, inputs, strict=True)))[0]
        diff = int(np.abs(got.astype(np.int16) - ref.astype(np.int16)).max())
        log.info("export parity (onnxruntime vs torch): max |diff| %d", diff)
        if diff > PARITY_TOLERANCE:
            raise ExportError(f"export of model '{name}': onnxruntime differs from torch by {diff} levels")
        what = f"x{scale} super-resolution" if scale > 1 else "denoising / compression-artifact removal"
        card = ModelCard(
            name=name,
            task=init_card.task,
            scale=scale,
            inputs=input_specs(scale),
            outputs=[TensorSpec("output")],
            limits=init_card.limits,  # same body, same constraints (restore: even sizes)
            artifacts={f: sha256_file(stage / f) for f in ("model.onnx", "model.safetensors")},
            arch={
                "name": "recurrent",
                "params": {"scale": scale, "num_feat": model.num_feat, "num_conv": model.num_conv},
            },
            recurrent=spec.to_card(),
            training={**(training or {}), "export_parity_max_abs_diff": diff},
            metrics=metrics or {},
            description=(
                f"Recurrent {what} for video: each frame with the previous output, warped by DIS flow and "
                f"folded onto the frame's grid (started from '{init_card.name}')."
            ),
        )
        card.save(stage)
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(stage, out)
    return ExportResult(out, card, diff)


def export_run(run: Path, out: Path, name: str, note: str = "") -> ExportResult:
    model, cfg, init_card = load_run_model(run)
    state = json.loads((run / "state.json").read_text()) if (run / "state.json").exists() else {}
    training = {
        "command": f"ganstream train recurrent --init {cfg['init']} --out {run} --minutes {cfg['minutes']:g} "
        f"--crop {cfg['crop']} --batch {cfg['batch']} --length {cfg['length']} --lr {cfg['lr']:g} "
        f"--first-lr-mult {cfg.get('first_lr_mult', 1.0):g}",
        "init_from": {"name": init_card.name, "model_onnx_sha256": init_card.artifacts.get("model.onnx", "")},
        "steps": state.get("best_step"),
        "seconds": round(float(state.get("seconds", 0.0)), 1),
        "machine": "2-vCPU x86-64 (no GPU)",
        "recipe": {k: cfg[k] for k in RECIPE_KEYS if k in cfg},
        "selection_psnr_y_db": state.get("best_psnr"),
        "selection_single_frame_psnr_y_db": state.get("single_frame_psnr"),
        **({"note": note} if note else {}),
    }
    return export_model(model, out, name, init_card, training=training)
