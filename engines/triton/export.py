"""Write a Triton model repository entry for an installed model.

Layout::

    REPO/NAME/config.pbtxt      platform onnxruntime_onnx, max_batch_size, dynamic_batching, I/O
    REPO/NAME/VERSION/model.onnx
    REPO/NAME/card.json         the ModelCard (Triton ignores it; clients and humans read it)

Shapes come from the card: the batch axis N is Triton's (max_batch_size > 0), named axes
("H", "W") become -1, fixed ones stay. uint8 frames map to TYPE_UINT8, float32 to TYPE_FP32.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ganstream.engines import artifacts
from ganstream.engines.card import ModelCard, TensorSpec
from ganstream.engines.errors import ModelCardError
from ganstream.engines.store import resolve_model

DTYPES = {"uint8": "TYPE_UINT8", "float32": "TYPE_FP32", "float16": "TYPE_FP16", "int64": "TYPE_INT64"}


def _dims(spec: TensorSpec, card: ModelCard) -> list[int]:
    shape = list(spec.shape)
    if not shape or shape[0] not in ("N", -1):
        raise ModelCardError(f"model '{card.name}': tensor {spec.name!r} has no leading batch axis N: {spec.shape}")
    return [d if isinstance(d, int) else -1 for d in shape[1:]]


def _tensor(spec: TensorSpec, card: ModelCard) -> str:
    if spec.dtype not in DTYPES:
        raise ModelCardError(
            f"model '{card.name}': tensor {spec.name!r} has dtype {spec.dtype!r}, not one Triton takes"
        )
    dims = ", ".join(str(d) for d in _dims(spec, card))
    return f'  {{\n    name: "{spec.name}"\n    data_type: {DTYPES[spec.dtype]}\n    dims: [ {dims} ]\n  }}'


def render_config(
    card: ModelCard, max_batch: int = 8, queue_delay_us: int = 2000, instances: int = 1, kind: str = "KIND_GPU"
) -> str:
    """config.pbtxt text for `card` (protobuf text format)."""
    if max_batch < 1:
        raise ModelCardError(f"max_batch must be >= 1, got {max_batch}")
    preferred = sorted({b for b in (max_batch // 2, max_batch) if b >= 1})
    inputs = ",\n".join(_tensor(s, card) for s in card.inputs)
    outputs = ",\n".join(_tensor(s, card) for s in card.outputs)
    return (
        f'name: "{card.name}"\n'
        'platform: "onnxruntime_onnx"\n'
        f"max_batch_size: {max_batch}\n"
        f"input [\n{inputs}\n]\n"
        f"output [\n{outputs}\n]\n"
        "dynamic_batching {\n"
        f"  preferred_batch_size: [ {', '.join(str(b) for b in preferred)} ]\n"
        f"  max_queue_delay_microseconds: {queue_delay_us}\n"
        "}\n"
        f"instance_group [\n  {{\n    kind: {kind}\n    count: {instances}\n  }}\n]\n"
    )


def export_model_repository(
    name_or_path: str,
    repo: Path,
    version: int = 1,
    max_batch: int = 8,
    queue_delay_us: int = 2000,
    kind: str = "KIND_GPU",
) -> Path:
    """Write (or overwrite) REPO/NAME for the model; returns the model's folder in the repository."""
    folder = resolve_model(name_or_path)
    card = ModelCard.load(folder)
    if version < 1:
        raise ModelCardError(f"Triton model versions start at 1, got {version}")
    onnx = artifacts.require(card, folder, "onnx")
    target = Path(repo) / card.name
    (target / str(version)).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx, target / str(version) / "model.onnx")
    (target / "config.pbtxt").write_text(render_config(card, max_batch, queue_delay_us, kind=kind))
    shutil.copyfile(folder / "card.json", target / "card.json")
    return target
