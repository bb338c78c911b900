"""ModelCard: the JSON description beside every model artifact.

A model lives in a folder holding its artifacts (``model.onnx``, ``model.safetensors``,
``*.plan``) and one ``card.json``. The card says what the model does (task, scale, temporal
window), how to feed it (tensor names, dtype, layout, value range, shape limits), how it was
made (architecture, training recipe, data manifest hash, quality figures) and, for a built
TensorRT engine, what it was built for. Loading verifies every artifact's sha256 and refuses a
mismatch with one clear line.

Tensor convention of exported graphs: uint8 NHWC RGB in, uint8 NHWC RGB out; normalisation
lives inside the graph. Interpolation graphs take ``frame0``, ``frame1`` and a float32
timestep ``t`` of shape (N, 1) in (0, 1).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ganstream.engines.errors import ModelCardError

CARD_FILENAME = "card.json"
CARD_SCHEMA_VERSION = 1

Task = Literal["sr", "restore", "interp"]
TASKS: tuple[str, ...] = ("sr", "restore", "interp")
PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "bf16", "int8")
ARTIFACT_FORMATS: dict[str, str] = {
    ".onnx": "onnx",
    ".safetensors": "safetensors",
    ".plan": "plan",
    ".xml": "openvino",  # an OpenVINO IR (the int8 graph), with its weights in the .bin beside it
    ".bin": "openvino-weights",
}


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output. `shape` uses strings for dynamic axes ("N", "H", "W")."""

    name: str
    dtype: str = "uint8"
    shape: tuple[int | str, ...] = ("N", "H", "W", 3)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TensorSpec:
        return cls(
            name=str(d["name"]), dtype=str(d.get("dtype", "uint8")), shape=tuple(d.get("shape", ("N", "H", "W", 3)))
        )


@dataclass(frozen=True)
class ShapeLimits:
    """Frame sizes the model accepts: input height/width within [min, max], multiples of `multiple_of`."""

    min_height: int = 16
    min_width: int = 16
    max_height: int = 4320
    max_width: int = 7680
    multiple_of: int = 1

    def check(self, height: int, width: int) -> str | None:
        """None if (height, width) fits, else a sentence saying why not."""
        if not (self.min_height <= height <= self.max_height and self.min_width <= width <= self.max_width):
            return (
                f"frame {width}x{height} is outside the limits "
                f"{self.min_width}x{self.min_height}..{self.max_width}x{self.max_height}"
            )
        if height % self.multiple_of or width % self.multiple_of:
            return f"frame {width}x{height} is not a multiple of {self.multiple_of}"
        return None


@dataclass
class ModelCard:
    """Everything a loader needs to know about one model; serialised as card.json."""

    name: str
    task: str
    scale: int = 1
    window: int = 1
    inputs: list[TensorSpec] = field(default_factory=lambda: [TensorSpec("input")])
    outputs: list[TensorSpec] = field(default_factory=lambda: [TensorSpec("output")])
    layout: str = "NHWC"
    color: str = "RGB"
    value_range: tuple[float, float] = (0.0, 255.0)
    limits: ShapeLimits = field(default_factory=ShapeLimits)
    precision: str = "fp32"
    # artifact file name (relative to the card's folder) -> sha256 hex digest
    artifacts: dict[str, str] = field(default_factory=dict)
    # architecture to rebuild from safetensors: {"name": "srvgg", "params": {...}}
    arch: dict[str, Any] = field(default_factory=dict)
    # a recurrent video model (vsr2x, vrestore): {"state_input": "previous", "flow": {...}, "fold": scale};
    # the runtime feeds its previous output back (``ganstream.engines.recurrence``)
    recurrent: dict[str, Any] = field(default_factory=dict)
    # for a built TensorRT plan: tensorrt_version, cuda_version, gpu_name, compute_capability, shapes
    build: dict[str, Any] = field(default_factory=dict)
    # how it was trained: preset, steps, seconds, machine, data_manifest_sha256, command
    training: dict[str, Any] = field(default_factory=dict)
    # validation figures, e.g. {"psnr_y_db": 31.2, "psnr_y_bicubic_db": 29.4}
    metrics: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    license: str = "Apache-2.0"
    schema_version: int = CARD_SCHEMA_VERSION

    def __post_init__(self) -> None:
        problems = self.validate()
        if problems:
            raise ModelCardError(f"model card '{self.name}': {problems[0]}")

    def validate(self) -> list[str]:
        """Sentences describing what is wrong; empty when the card is consistent."""
        out: list[str] = []
        if not self.name or "/" in self.name:
            out.append(f"name must be a plain non-empty name, got {self.name!r}")
        if self.task not in TASKS:
            out.append(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.scale not in (1, 2, 3, 4, 8):
            out.append(f"scale must be 1, 2, 3, 4 or 8, got {self.scale!r}")
        if self.task != "sr" and self.scale != 1:
            out.append(f"task {self.task!r} must have scale 1, got {self.scale}")
        if self.window < 1:
            out.append(f"window must be >= 1, got {self.window}")
        if self.task == "interp" and self.window != 2:
            out.append(f"an interp model takes a window of 2 frames, got {self.window}")
        if self.recurrent:
            state = self.recurrent.get("state_input", "previous")
            if self.task not in ("sr", "restore"):
                out.append(f"only sr and restore models can be recurrent, not {self.task!r}")
            if state not in {t.name for t in self.inputs}:
                out.append(f"the recurrent state input {state!r} is not among the inputs")
        if self.precision not in PRECISIONS:
            out.append(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.layout != "NHWC":
            out.append(f"layout must be NHWC, got {self.layout!r}")
        if not self.inputs or not self.outputs:
            out.append("inputs and outputs must each name at least one tensor")
        for fname in self.artifacts:
            if Path(fname).suffix not in ARTIFACT_FORMATS:
                out.append(f"artifact {fname!r} is not one of {', '.join(ARTIFACT_FORMATS)}")
            if Path(fname).name != fname:
                out.append(f"artifact {fname!r} must be a file name in the card's folder")
        return out

    # -- artifacts -----------------------------------------------------------------------
    def artifact(self, fmt: str) -> str | None:
        """The artifact file name of one format ('onnx', 'safetensors', 'plan'), if any."""
        for fname in self.artifacts:
            if ARTIFACT_FORMATS.get(Path(fname).suffix) == fmt:
                return fname
        return None

    def verify_artifact(self, folder: Path, fname: str) -> Path:
        """Path of `fname` after checking it exists and its sha256 matches the card."""
        path = folder / fname
        expected = self.artifacts.get(fname)
        if expected is None:
            raise ModelCardError(f"model '{self.name}': {fname} is not listed in {folder / CARD_FILENAME}")
        if not path.is_file():
            raise ModelCardError(f"model '{self.name}': artifact {path} is missing")
        actual = sha256_file(path)
        if actual != expected:
            raise ModelCardError(
                f"model '{self.name}': {path} has sha256 {actual[:12]}..., the card says {expected[:12]}... "
                "(file corrupt or replaced; re-export or re-download the model)"
            )
        return path

    # -- (de)serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["inputs"] = [asdict(t) for t in self.inputs]
        d["outputs"] = [asdict(t) for t in self.outputs]
        d["value_range"] = list(self.value_range)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], origin: str = "card") -> ModelCard:
        if not isinstance(d, dict):
            raise ModelCardError(f"{origin}: expected a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ModelCardError(f"{origin}: unknown field(s) {', '.join(unknown)}")
        for req in ("name", "task"):
            if req not in d:
                raise ModelCardError(f"{origin}: missing required field {req!r}")
        if int(d.get("schema_version", CARD_SCHEMA_VERSION)) > CARD_SCHEMA_VERSION:
            raise ModelCardError(
                f"{origin}: schema_version {d['schema_version']} is newer than this ganstream supports "
                f"({CARD_SCHEMA_VERSION}); upgrade ganstream"
            )
        try:
            kw = dict(d)
            kw["inputs"] = [TensorSpec.from_dict(t) for t in d.get("inputs", [{"name": "input"}])]
            kw["outputs"] = [TensorSpec.from_dict(t) for t in d.get("outputs", [{"name": "output"}])]
            kw["value_range"] = tuple(d.get("value_range", (0.0, 255.0)))
            kw["limits"] = ShapeLimits(**d.get("limits", {}))
            return cls(**kw)
        except ModelCardError:
            raise
        except (TypeError, KeyError, ValueError) as exc:
            raise ModelCardError(f"{origin}: {exc}") from None

    def save(self, folder: Path) -> Path:
        """Write card.json atomically into `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / CARD_FILENAME
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, folder: Path) -> ModelCard:
        path = folder / CARD_FILENAME
        if not path.is_file():
            raise ModelCardError(f"{path}: no model card (expected {CARD_FILENAME} beside the model files)")
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelCardError(f"{path}: not a valid JSON card ({exc})") from None
        return cls.from_dict(data, origin=str(path))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
