"""Engines shared by every camera of the service, and the per-camera chain built on them.

One engine per (model, backend, precision), loaded on first use and kept until the service
stops; cameras reach it through a `BatchingEngine` (frames of several cameras in one call) or,
with batching off, a `SerialEngine` (one call per frame, one at a time).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ganstream.engines.input_choice import choice_members
from ganstream.stream.batching import BatchingEngine, FrameEngine, SerialEngine, SharedEnhanceStage
from ganstream.stream.errors import StageError
from ganstream.stream.service.choice_stage import SharedChoiceStage
from ganstream.stream.service.config import BatchingSettings, CameraSettings, EngineSettings
from ganstream.stream.stage_factory import (
    ChainRequest,
    auto_members,
    build_stages,
    card_of,
    default_restore_model,
    default_sr_model,
    installed_models,
    task_of,
    unknown_model_message,
)
from ganstream.stream.stages.base import Stage
from ganstream.stream.stages.classical import RESAMPLE_METHODS, NlmeansStage, ResampleStage
from ganstream.stream.uri import parse_source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineKey:
    model: str
    backend: str
    precision: str


class EnginePool:
    def __init__(self, engine: EngineSettings, batching: BatchingSettings) -> None:
        self.engine_settings = engine
        self.batching = batching
        self._engines: dict[EngineKey, BatchingEngine | SerialEngine] = {}
        self._lock = threading.Lock()

    def get(self, model: str, backend: str = "") -> FrameEngine:
        s = self.engine_settings
        key = EngineKey(model, backend or s.backend, s.precision)
        with self._lock:
            shared = self._engines.get(key)
            if shared is None:
                shared = self._engines[key] = self._open(key)
            return shared

    def _open(self, key: EngineKey) -> BatchingEngine | SerialEngine:
        from ganstream.engines import load_engine

        s = self.engine_settings
        options: dict[str, Any] = {}
        if s.threads:
            options["threads"] = s.threads
        if s.device != "cpu" or key.backend in ("torch", "trt"):
            options["device"] = s.device
        if key.backend == "triton":
            options["url"] = s.triton_url
        engine = load_engine(key.model, backend=key.backend, precision=key.precision or None, **options)
        name = f"{key.model}/{engine.backend}/{engine.precision}"
        b = self.batching
        if not b.enabled or b.max_batch == 1:
            return SerialEngine(engine, name=name)
        timeout = b.push_timeout_ms / 1000.0 if b.push_timeout_ms > 0 else None
        return BatchingEngine(engine, b.max_batch, push_timeout_s=timeout, timeout_frames=b.timeout_frames, name=name)

    def engines(self) -> list[BatchingEngine | SerialEngine]:
        with self._lock:
            return list(self._engines.values())

    def close(self) -> None:
        with self._lock:
            shared = list(self._engines.values())
            self._engines.clear()
        for e in shared:
            e.close()
            e.engine.close()


def unknown_model(name: str, installed: dict[str, Any]) -> str:
    """Why `serve` cannot run model `name` (the camera and the file name themselves in front)."""
    members = choice_members(name)
    if members:  # a per-stream choice needs both of its models
        missing = " and ".join(repr(m) for m in members if m not in installed)
        both = f"{members[0]!r} and {members[1]!r}"
        return f"chain.models: {name!r} chooses between {both} per camera; {missing} not installed"
    return f"chain.models: {unknown_model_message(name, installed)}"


def build_camera_stages(cam: CameraSettings, pool: EnginePool) -> list[Stage]:
    """restore -> sr -> interpolate for one camera; model-backed restore/sr use the shared engines."""
    c = cam.chain
    installed = installed_models()
    chosen: dict[str, str] = {}
    for name in c.models:
        task = task_of(name, installed)
        if task is None:
            raise StageError(f"camera '{cam.name}': {unknown_model(name, installed)}")
        chosen[task] = name
    fps = cam.fps
    stages: list[Stage] = []
    if c.restore or "restore" in chosen:
        name = chosen.get("restore") or default_restore_model(installed)
        stages.append(NlmeansStage() if name == "nlmeans" else _shared(cam, pool, name, "restore", fps))
    if c.sr:
        name = chosen.get("sr") or default_sr_model(c.sr, installed)
        members = auto_members(name, installed)
        if name in RESAMPLE_METHODS:
            stages.append(ResampleStage(c.sr, name))
        else:
            card = card_of(name, installed)
            assert card is not None  # checked with the chain's models above, or the installed default
            if int(card.scale) != c.sr:
                raise StageError(f"camera '{cam.name}': model {name!r} upscales x{card.scale}, not x{c.sr}")
            if members:
                clean, compressed = (_shared(cam, pool, m, "sr", fps, depth=1) for m in members)
                label = f"{name} {clean.label.split(' ', 1)[1]}"
                stages.append(SharedChoiceStage(clean, compressed, label))
            else:
                stages.append(_shared(cam, pool, name, "sr", fps))
    if c.interpolate or "interp" in chosen:
        models = [chosen["interp"]] if "interp" in chosen else []
        req = ChainRequest(interpolate=c.interpolate or 2, models=models, backend=c.backend or "auto")
        stages.extend(build_stages(req))
    return stages


def _shared(
    cam: CameraSettings, pool: EnginePool, model: str, task: str, fps: float, depth: int = 0
) -> SharedEnhanceStage:
    realtime = cam.realtime if cam.realtime is not None else parse_source(cam.source).is_live
    # Files keep two frames in the engine so batches fill while the previous one runs (a
    # per-camera choice keeps one: it must see a frame's model before the next frame goes).
    return SharedEnhanceStage(
        pool.get(model, cam.chain.backend),
        cam.name,
        fps=fps,
        name=task,
        depth=depth or (1 if realtime else 2),
        residual_gain=cam.chain.residual_gain,
        temporal_blend=cam.chain.temporal_blend,
    )


def camera_fps(cam: CameraSettings) -> Fraction:
    return Fraction(cam.fps).limit_denominator(1001) if cam.fps > 0 else Fraction(0)
