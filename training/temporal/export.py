"""Export a recurrent run (``ganstream train recurrent``) as a model folder: ONNX + safetensors + card.

Graph I/O: ``input`` uint8 (N, h, w, 3), the frame; ``previous`` uint8 (N, h, w, 3 * scale**2 +
3 * neighbours), the previous output warped to this frame and folded onto its grid, then the
warped previous input frames (the runtime computes it: ``ganstream.engines.recurrence``);
output uint8 (N, h * scale, w * scale, 3). The card's
``recurrent`` field names the state input and the flow the network was trained with. The
export is checked against torch with onnxruntime on random inputs of a size it was not traced
with. A ``--single-frame`` run exports as the single-frame model it trained (its --init's
architecture and I/O).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_file
from torch import nn

from ganstream.engines.archs.recurrent import RecurrentCompact, RecurrentUint8NHWC
from ganstream.engines.card import ModelCard, TensorSpec
from ganstream.engines.recurrence import STATE_INPUT, RecurrenceSpec, aligned
from ganstream.training.errors import CheckpointError
from ganstream.training.export import ExportResult, export_generator

RECIPE_KEYS = (
    "batch", "crop", "length", "lr", "first_lr_mult", "clip_prob", "subpixel_share", "max_frames", "degrade",
    "neighbours", "filtered_input", "filtered_share", "single_frame", "aligned",
)  # fmt: skip
PARITY_TOLERANCE = 1  # uint8 levels: rounding of values sitting on .5


def input_specs(spec: RecurrenceSpec) -> list[TensorSpec]:
    return [TensorSpec("input"), TensorSpec(STATE_INPUT, shape=("N", "H", "W", spec.state_channels))]


def load_run_model(run: Path) -> tuple[nn.Module, dict[str, Any], ModelCard]:
    """The best network of a recurrent run (a single-frame one for --single-frame), the run's config
    and the card of the model it started from."""
    from ganstream.training.temporal.train import load_init, load_single

    try:
        cfg = json.loads((run / "config.json").read_text())
        weights = load_file(str(run / "best.safetensors"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{run}: not a recurrent run (config.json, best.safetensors: {exc})") from None
    model: nn.Module
    if cfg.get("single_frame"):
        model, init_card = load_single(Path(cfg["init"]))
    else:
        model, init_card = load_init(Path(cfg["init"]), int(cfg.get("neighbours", 0)))
    model.load_state_dict(weights)
    return model.eval(), cfg, init_card


def export_model(
    model: RecurrentCompact,
    models_dir: Path,
    name: str,
    init_card: ModelCard,
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    fine: bool = False,
) -> ExportResult:
    """``models_dir/name``: the shared export (``training.export.export_generator``) with the state input;
    `fine`: the state aligned as ``engines.recurrence.aligned`` does (the run's `--aligned`)."""
    scale = model.scale
    spec = RecurrenceSpec(scale=scale, neighbours=model.neighbours)
    spec = aligned(spec) if fine else spec
    params = {"scale": scale, "num_feat": model.num_feat, "num_conv": model.num_conv}
    if model.neighbours:
        params["neighbours"] = model.neighbours
    what = f"x{scale} super-resolution" if scale > 1 else "denoising / compression-artifact removal"
    return export_generator(
        model,
        {"name": "recurrent", "params": params},
        models_dir,
        name,
        task=init_card.task,
        scale=scale,
        wrapped=RecurrentUint8NHWC(model),
        limits=init_card.limits,  # same body, same constraints (restore: even sizes)
        inputs=input_specs(spec),
        recurrent=spec.to_card(),
        training=training,
        metrics=metrics,
        description=init_card.description
        if init_card.recurrent and RecurrenceSpec.from_card(init_card) == spec
        else (
            f"Recurrent {what} for video: each frame with the previous output, warped by DIS flow and "
            f"folded onto the frame's grid{_with_neighbours(spec)} (started from '{init_card.name}')."
        ),
        tolerance=PARITY_TOLERANCE,
    )


def _with_neighbours(spec: RecurrenceSpec) -> str:
    if not spec.neighbours:
        return ""
    frames = "the previous input frame" if spec.neighbours == 1 else f"the {spec.neighbours} previous input frames"
    return f", with {frames} warped along the same flow"


def export_run(run: Path, models_dir: Path, name: str, note: str = "") -> ExportResult:
    model, cfg, init_card = load_run_model(run)
    state = json.loads((run / "state.json").read_text()) if (run / "state.json").exists() else {}
    training = {
        "command": f"ganstream train recurrent --init {cfg['init']} --out {run} --minutes {cfg['minutes']:g} "
        f"--crop {cfg['crop']} --batch {cfg['batch']} --length {cfg['length']} --lr {cfg['lr']:g} "
        f"--first-lr-mult {cfg.get('first_lr_mult', 1.0):g}"
        + (f" --neighbours {cfg['neighbours']}" if cfg.get("neighbours") else "")
        + (" --filtered-input" if cfg.get("filtered_input") else "")
        + (f" --filtered-share {cfg['filtered_share']:g}" if cfg.get("filtered_share", 1.0) != 1.0 else "")
        + (" --single-frame" if cfg.get("single_frame") else "")
        + (" --aligned" if cfg.get("aligned") else ""),
        "init_from": {"name": init_card.name, "model_onnx_sha256": init_card.artifacts.get("model.onnx", "")},
        "steps": state.get("best_step"),
        "seconds": round(float(state.get("seconds", 0.0)), 1),
        "machine": "2-vCPU x86-64 (no GPU)",
        "recipe": {k: cfg[k] for k in RECIPE_KEYS if k in cfg},
        "selection_psnr_y_db": state.get("best_psnr"),
        **({"note": note} if note else {}),
    }
    if init_card.recurrent or cfg.get("single_frame"):  # continued: keep the lineage of the model it started from
        training["selection_init_psnr_y_db"] = state.get("single_frame_psnr")
        training["continues"] = init_card.training
    else:
        training["selection_single_frame_psnr_y_db"] = state.get("single_frame_psnr")
    if not isinstance(model, RecurrentCompact):  # --single-frame: the model it started as, retrained
        return export_generator(
            model, init_card.arch, models_dir, name, task=init_card.task, scale=init_card.scale,
            limits=init_card.limits, training=training, description=init_card.description,
        )  # fmt: skip
    return export_model(model, models_dir, name, init_card, training=training, fine=bool(cfg.get("aligned")))
