"""Picking and verifying the artifact a backend loads (fp32 or int8 ONNX, safetensors, plan).

Only ONNX graphs, safetensors weights and TensorRT plans are ever loaded; no pickled objects.
An int8 variant of a model is an ONNX graph with quantize/dequantize nodes whose file name ends
in ``.int8.onnx`` (for onnxruntime) and an OpenVINO IR ending in ``.int8.xml`` with its ``.bin``
(for OpenVINO); both sit in the model folder.
"""

from __future__ import annotations

from pathlib import Path

from ganstream.engines.card import ModelCard
from ganstream.engines.errors import ModelNotFoundError

INT8_SUFFIX = ".int8.onnx"
INT8_IR_SUFFIX = ".int8.xml"


def onnx_name(card: ModelCard, int8: bool = False) -> str | None:
    """The card's fp32 ONNX file name, or its int8 variant's; None if the card lists none."""
    for fname in card.artifacts:
        if fname.endswith(".onnx") and fname.endswith(INT8_SUFFIX) == int8:
            return fname
    return None


def openvino_int8(card: ModelCard, folder: Path) -> Path | None:
    """Verified path of the OpenVINO int8 IR (its .bin verified too), or None if the card lists none."""
    for fname in card.artifacts:
        if fname.endswith(INT8_IR_SUFFIX):
            weights = fname.removesuffix(".xml") + ".bin"
            if weights in card.artifacts:
                card.verify_artifact(folder, weights)
            return card.verify_artifact(folder, fname)
    return None


def require(card: ModelCard, folder: Path, fmt: str, int8: bool = False) -> Path:
    """Verified path of the artifact of format `fmt` ('onnx', 'safetensors', 'plan')."""
    fname = onnx_name(card, int8) if fmt == "onnx" else card.artifact(fmt)
    if fname is None:
        what = "no int8 ONNX graph" if int8 else f"no {fmt} artifact"
        hint = f" (build one: ganstream engines build {card.name} --precision int8)" if int8 else ""
        raise ModelNotFoundError(f"model '{card.name}' in {folder} has {what}{hint}")
    return card.verify_artifact(folder, fname)
