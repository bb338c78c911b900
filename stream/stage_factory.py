"""Turns the user's wishes (--restore, --sr N, --interpolate N / --fps F, --model NAME...) into
stages, in the fixed order restore -> sr -> interpolate.

Model names are either classical baselines (bicubic, lanczos, nlmeans, blend, ...) or installed
models from ``ganstream.engines`` whose card says which stage they serve. Without --model, a
stage uses the shipped default model when it is installed and the classical baseline otherwise
(restore: the single-frame restore, see `default_restore_model`; sr: the
per-stream choice between the clean-input and the compressed-input model, `default_sr_model`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ganstream.engines.input_choice import AUTO_SUFFIX, InputChoice, choice_members
from ganstream.stream.errors import StageError
from ganstream.stream.stages.base import Stage
from ganstream.stream.stages.classical import RESAMPLE_METHODS, NlmeansStage, ResampleStage
from ganstream.stream.stages.enhance import EnhanceStage

CLASSICAL: dict[str, str] = {
    **dict.fromkeys(RESAMPLE_METHODS, "sr"),
    "nlmeans": "restore",
    "blend": "interp",
    "flow": "interp",
    "flow-refined": "interp",
    "flow-large": "interp",
}
BACKENDS = ("auto", "openvino", "ort", "torch", "trt")


@dataclass
class ChainRequest:
    restore: bool = False
    sr: int | None = None
    interpolate: int | None = None
    fps: Fraction | None = None
    models: Sequence[str] = field(default_factory=tuple)
    backend: str = "auto"
    precision: str | None = None
    residual_gain: bool = True  # the stream-measured strength (engines.strength)
    temporal_blend: bool = True  # restore input averaged along the flow before the model (engines.temporal_blend)

    def __post_init__(self) -> None:
        if self.sr is not None and self.sr not in (2, 3, 4):
            raise StageError(f"--sr must be 2, 3 or 4, got {self.sr}")
        if self.interpolate is not None and not 2 <= self.interpolate <= 16:
            raise StageError(f"--interpolate must be an integer factor 2..16, got {self.interpolate}")
        if self.interpolate is not None and self.fps is not None:
            raise StageError("--interpolate and --fps are alternatives; give one")
        if self.backend not in BACKENDS:
            raise StageError(f"--backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")

    @property
    def empty(self) -> bool:
        return not (self.restore or self.sr or self.interpolate or self.fps or self.models)


def installed_models() -> dict[str, Any]:
    """name -> ModelCard of every installed model; empty when the engines store is unavailable."""
    try:
        from ganstream.engines import list_models
    except ImportError:
        return {}
    return {m.name: m.card for m in list_models() if m.card is not None}


def default_restore_model(installed: dict[str, Any]) -> str:
    """What `--restore` runs when no model is named: restore (with the stage's temporal filter in
    front on noisy input), else the nlmeans baseline. Since restore was retrained on the frames
    that filter gives it, it beats the recurrent vrestore on the selection split, as 6-frame items
    and as whole 48-frame streams, at 0.86x its cost (docs/temporal.md); vrestore runs when named."""
    return "restore" if "restore" in installed else "nlmeans"


def auto_members(name: str, installed: dict[str, Any]) -> tuple[str, str] | None:
    """(clean model, compressed model) behind a per-stream choice `NAME-auto` (sr2x-auto: sr2x or
    sr2x-clean per stream, engines/input_choice.py) when both are installed; None otherwise."""
    members = choice_members(name)
    return members if members and all(m in installed for m in members) else None


def card_of(name: str, installed: dict[str, Any]) -> Any | None:
    """The card that says what model `name` does (a choice's: its compressed-input model's)."""
    members = auto_members(name, installed)
    return installed.get(members[1] if members else name)


def default_sr_model(scale: int, installed: dict[str, Any]) -> str:
    """What `--sr N` runs when no model is named: the per-stream choice between the clean and the
    compressed-input model where both are installed, else the shipped model, else bicubic."""
    base = f"sr{scale}x"
    if auto_members(base + AUTO_SUFFIX, installed):
        return base + AUTO_SUFFIX
    return base if base in installed else "bicubic"


def _load_engine(name: str, backend: str, precision: str | None) -> Any:
    try:
        from ganstream.engines import load_engine
    except ImportError:
        raise StageError(f"unknown model {name!r}: no model store is available in this installation") from None
    return load_engine(name, backend=backend, precision=precision)


def task_of(name: str, installed: dict[str, Any]) -> str | None:
    """The stage a classical method, an installed model or a per-stream choice serves; None if unknown."""
    if name in CLASSICAL:
        return CLASSICAL[name]
    card = card_of(name, installed)
    return str(card.task) if card is not None else None


def known_models(installed: dict[str, Any]) -> str:
    """Every name a stage accepts, for error messages: classical methods, models, choices."""
    autos = [n + AUTO_SUFFIX for n in installed if auto_members(n + AUTO_SUFFIX, installed)]
    return ", ".join(sorted({*CLASSICAL, *installed, *autos}))


# Models that the project can make but does not ship (they did not beat the shipped default on
# the selection split): how to make one, for the error a user gets when asking for it.
NOT_SHIPPED = {
    "vsr2x": "train it with `ganstream train recurrent --init engines/models/sr2x-clean`, then "
    "`ganstream export RUN --name vsr2x` (docs/temporal.md)",
    "interp": "train it with `ganstream train interp --data data --val data`, then "
    "`ganstream export RUN --name interp` (docs/interpolation.md)",
}


def unknown_model_message(name: str, installed: dict[str, Any]) -> str:
    """Why `name` cannot run: what is known instead, and how to make a model that is not shipped."""
    text = f"unknown model {name!r}; expected one of: {known_models(installed)}"
    if name in NOT_SHIPPED:
        text += f". {name!r} is not installed: {NOT_SHIPPED[name]}"
    return text


def _task_of(name: str, installed: dict[str, Any]) -> str:
    task = task_of(name, installed)
    if task is None:
        raise StageError(unknown_model_message(name, installed))
    return task


def build_stages(req: ChainRequest) -> list[Stage]:
    installed = installed_models()
    chosen: dict[str, str] = {}
    for name in req.models:
        task = _task_of(name, installed)
        if task in chosen:
            raise StageError(f"models {chosen[task]!r} and {name!r} both serve the {task} stage; give one")
        chosen[task] = name
    restore = req.restore or "restore" in chosen
    interp = req.interpolate or req.fps or "interp" in chosen
    sr_scale = req.sr
    if "sr" in chosen and sr_scale is None:
        card = card_of(chosen["sr"], installed)
        sr_scale = int(card.scale) if card is not None else 2

    stages: list[Stage] = []
    if restore:
        name = chosen.get("restore") or default_restore_model(installed)
        stages.append(_enhance_or_classical(name, "restore", None, req, installed))
    if sr_scale:
        name = chosen.get("sr") or default_sr_model(sr_scale, installed)
        stages.append(_enhance_or_classical(name, "sr", sr_scale, req, installed))
    if interp:
        stages.append(_interpolate_stage(chosen.get("interp"), req, installed))
    return stages


def _enhance_or_classical(
    name: str, task: str, scale: int | None, req: ChainRequest, installed: dict[str, Any]
) -> Stage:
    if name in RESAMPLE_METHODS:
        return ResampleStage(scale or 2, name)
    if name == "nlmeans":
        return NlmeansStage()
    card = card_of(name, installed)
    if card is None:  # names reach here checked by _task_of or as installed defaults
        raise StageError(f"unknown model {name!r}")
    if task == "sr" and scale is not None and int(card.scale) != scale:
        raise StageError(f"model {name!r} upscales x{card.scale}, but --sr {scale} was asked for")
    members = auto_members(name, installed)
    if members:
        clean, compressed = (_load_engine(m, req.backend, req.precision) for m in members)
        choice = InputChoice(clean, compressed)
        stage = EnhanceStage(choice, name=task, residual_gain=req.residual_gain)
        stage.label = f"{name} {choice.backend} {choice.precision}"
        return stage
    return EnhanceStage(
        _load_engine(name, req.backend, req.precision),
        name=task,
        residual_gain=req.residual_gain,
        temporal_blend=req.temporal_blend,
    )


def _interpolate_stage(name: str | None, req: ChainRequest, installed: dict[str, Any]) -> Stage:
    try:
        import ganstream.stream.stages.interpolate as interp_mod
    except ImportError:
        raise StageError("frame interpolation is not available in this installation") from None
    factor = req.interpolate if req.fps is None else None
    if factor is None and req.fps is None:
        factor = 2
    if name is None:
        name = "interp" if "interp" in installed else "flow"
    synth: Any
    if name == "blend":
        synth = interp_mod.BlendSynth()
    elif name in interp_mod.CLASSICAL_FLOW_SYNTHS:
        synth = interp_mod.classical_flow_synth(name)
    else:
        synth = interp_mod.synth_for_engine(_load_engine(name, req.backend, req.precision))
    stage: Stage = interp_mod.InterpolateStage(synth, factor=factor, target_fps=req.fps)
    return stage
