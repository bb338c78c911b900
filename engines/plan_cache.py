"""The cache of built TensorRT plans, and the compatibility check of a plan's card.

A plan only runs on the TensorRT version and GPU model it was built for, so its cache key holds
the source model's sha256, the shapes and batch it was built for, the precision, the TensorRT
version and the GPU's name and compute capability (as vs-mlrt keys its engines). Each entry is a
folder ``<model>-<precision>-<key>/`` with ``model.plan`` and a card describing it; entries are
written into a temporary folder and renamed into place, so a crash never leaves a half-written
plan that a later run would load.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ganstream.engines.card import CARD_FILENAME, ModelCard, sha256_file
from ganstream.engines.errors import IncompatibleEngineError

PLAN_FILENAME = "model.plan"


def cache_root() -> Path:
    """``$GANSTREAM_CACHE``, else ``$XDG_CACHE_HOME/ganstream/engines`` (default ~/.cache/...)."""
    if os.environ.get("GANSTREAM_CACHE"):
        return Path(os.environ["GANSTREAM_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ganstream" / "engines"


@dataclass(frozen=True)
class Target:
    """What a plan is built for: the runtime and the GPU model."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "9.0"
    cuda_version: str = ""

    def as_build(self) -> dict[str, str]:
        return {
            "tensorrt_version": self.tensorrt_version,
            "gpu_name": self.gpu_name,
            "compute_capability": self.compute_capability,
            "cuda_version": self.cuda_version,
        }


@dataclass(frozen=True)
class PlanRequest:
    """A plan to find or build: source model, precision, frame shapes (h, w) and largest batch."""

    model_sha256: str
    precision: str
    shapes: tuple[tuple[int, int], ...]
    max_batch: int = 1

    def key(self, target: Target) -> str:
        blob = json.dumps(
            {
                "model_sha256": self.model_sha256,
                "precision": self.precision,
                "shapes": [list(s) for s in sorted(self.shapes)],
                "max_batch": self.max_batch,
                "tensorrt": target.tensorrt_version,
                "gpu": target.gpu_name,
                "cc": target.compute_capability,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:20]


def source_sha256(card: ModelCard, int8_graph: bool = False) -> str:
    """The sha256 of the ONNX graph a plan is built from, as the card records it."""
    from ganstream.engines.artifacts import onnx_name

    name = onnx_name(card, int8=int8_graph)
    return card.artifacts[name] if name else ""


def entry_folder(card: ModelCard, request: PlanRequest, target: Target, root: Path | None = None) -> Path:
    return (root or cache_root()) / f"{card.name}-{request.precision}-{request.key(target)}"


def find_plan(card: ModelCard, request: PlanRequest, target: Target, root: Path | None = None) -> Path | None:
    """The cache folder holding a plan for exactly this request and target, if one was built."""
    folder = entry_folder(card, request, target, root)
    return folder if (folder / CARD_FILENAME).is_file() and (folder / PLAN_FILENAME).is_file() else None


def write_entry(
    card: ModelCard,
    request: PlanRequest,
    target: Target,
    write_plan: Callable[[Path], None],
    root: Path | None = None,
) -> Path:
    """Build a cache entry atomically: `write_plan(path)` writes the plan, then the card is added."""
    final = entry_folder(card, request, target, root)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=final.parent))
    try:
        write_plan(tmp / PLAN_FILENAME)
        plan_card = ModelCard.from_dict(card.to_dict(), origin=f"card of {card.name}")
        plan_card.precision = request.precision if request.precision != "int8" else "int8"
        plan_card.artifacts = {PLAN_FILENAME: sha256_file(tmp / PLAN_FILENAME)}
        plan_card.build = {
            **target.as_build(),
            "shapes": [list(s) for s in request.shapes],
            "max_batch": request.max_batch,
            "source_sha256": request.model_sha256,
        }
        plan_card.save(tmp)
        if final.exists():  # another process built the same plan meanwhile; keep the first
            shutil.rmtree(tmp)
        else:
            os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def check_compatible(card: ModelCard, target: Target) -> None:
    """Refuse a plan built for another TensorRT version or GPU, saying how to rebuild it."""
    build = card.build
    wanted = (build.get("tensorrt_version"), build.get("gpu_name"), str(build.get("compute_capability")))
    have = (target.tensorrt_version, target.gpu_name, target.compute_capability)
    if wanted == have:
        return
    shapes = " ".join(f"--shape {w}x{h}" for h, w in build.get("shapes", [])) or "--shape WxH"
    raise IncompatibleEngineError(
        f"plan for '{card.name}' was built for TensorRT {wanted[0]} on {wanted[1]} (sm {wanted[2]}), "
        f"this machine has TensorRT {have[0]} on {have[1]} (sm {have[2]}); rebuild it: "
        f"ganstream engines build {card.name} --precision {card.precision} {shapes}"
    )
