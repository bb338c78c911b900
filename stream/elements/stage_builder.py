"""Element properties -> stages, through the same factory the CLI uses (no second implementation).

Pure Python (no GStreamer): the elements call these in their start step, never at import and
never in a property setter, so a plugin scan or a `gst-inspect-1.0` never loads an engine.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from ganstream.engines.input_choice import InputChoice
from ganstream.stream.errors import StageError
from ganstream.stream.stage_factory import (
    BACKENDS,
    CLASSICAL,
    NOT_SHIPPED,
    ChainRequest,
    build_stages,
    installed_models,
    known_models,
    task_of,
)
from ganstream.stream.stages.base import Stage

PRECISIONS = ("", "fp32", "fp16", "bf16", "int8")  # "" = the backend's best for this machine


class ElementSettingError(StageError):
    """A property value an element cannot run with; the message names the element and the value."""


def check_common(element: str, backend: str, precision: str) -> None:
    if backend not in BACKENDS:
        raise ElementSettingError(f"{element}: backend={backend!r} is not one of {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise ElementSettingError(
            f"{element}: precision={precision!r} is not one of {', '.join(p for p in PRECISIONS if p)} (or empty)"
        )


def model_task(element: str, model: str) -> str:
    """The stage a model serves (sr, restore, interp); a clear error for an unknown name."""
    installed = installed_models()
    task = task_of(model, installed)
    if task is None:
        text = f"{element}: model={model!r} is not installed; expected one of: {known_models(installed)}"
        if model in NOT_SHIPPED:
            text += f"; {NOT_SHIPPED[model]}"
        raise ElementSettingError(text)
    return task


def _one_stage(element: str, **wishes: Any) -> Stage:
    try:
        request = ChainRequest(**wishes)
        stages = build_stages(request)
    except StageError as exc:
        raise ElementSettingError(f"{element}: {exc}") from None
    if len(stages) != 1:  # the request names exactly one stage
        raise ElementSettingError(f"{element}: expected one stage, the settings gave {len(stages)}")
    return stages[0]


def _expect_task(element: str, model: str, task: str) -> None:
    if model and (found := model_task(element, model)) != task:
        raise ElementSettingError(f"{element}: model={model!r} is a {found} model; this element needs a {task} model")


def enhance_stage(element: str, task: str, model: str, scale: int, backend: str, precision: str, tile: int) -> Stage:
    """The sr or restore stage for these element properties (the model is loaded here)."""
    check_common(element, backend, precision)
    if scale not in (0, 2, 3, 4):
        raise ElementSettingError(f"{element}: scale={scale} is not one of 2, 3, 4 (or 0: the model's own)")
    if tile < 0:
        raise ElementSettingError(f"{element}: tile={tile} must be 0 (whole frames) or a tile size in pixels")
    _expect_task(element, model, task)
    sr: int | None = None
    if task == "sr":
        # Classical resamplers and the default model need a factor; a model's card has its own.
        sr = scale or (2 if not model or model in CLASSICAL else None)
    stage = _one_stage(
        element,
        restore=task == "restore",
        sr=sr,
        models=(model,) if model else (),
        backend=backend,
        precision=precision or None,
    )
    engine = getattr(stage, "engine", None)
    if tile > 0 and engine is not None:
        from ganstream.engines.tiling import TiledEngine

        if isinstance(engine, InputChoice):  # tile each model, keep the choice on whole frames
            engine.engines = {k: TiledEngine(e, tile=tile) for k, e in engine.engines.items()}
        else:
            stage.engine = TiledEngine(engine, tile=tile)  # type: ignore[attr-defined]
    return stage


def interpolate_stage(
    element: str, model: str, factor: int, fps: str, scene_cut: float, backend: str, precision: str
) -> Stage:
    """The interpolation stage: an integer `factor`, or a target `fps` ("60", "30000/1001")."""
    check_common(element, backend, precision)
    if not fps and not 2 <= factor <= 16:
        raise ElementSettingError(f"{element}: factor={factor} is not an integer in 2..16")
    if not 0 <= scene_cut <= 255:
        raise ElementSettingError(f"{element}: scene-cut={scene_cut:g} is not in 0..255")
    _expect_task(element, model, "interp")
    target: Fraction | None = None
    if fps:
        try:
            target = Fraction(fps)
        except (ValueError, ZeroDivisionError):
            raise ElementSettingError(f"{element}: fps={fps!r} is not a frame rate like 60 or 30000/1001") from None
        if target <= 0:
            raise ElementSettingError(f"{element}: fps={fps!r} must be positive")
    stage = _one_stage(
        element,
        interpolate=None if target is not None else factor,
        fps=target,
        models=(model,) if model else (),
        backend=backend,
        precision=precision or None,
    )
    stage.scene_cut = scene_cut  # type: ignore[attr-defined]
    return stage
