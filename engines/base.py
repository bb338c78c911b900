"""The `Engine` protocol every backend implements.

An engine runs one model on batches of frames: ``infer`` takes uint8 NHWC arrays named after
the card's inputs and returns uint8 NHWC arrays. Backends (openvino, ort, torch, trt) live in
``ganstream.engines.backends`` and are listed in an explicit registry, never discovered by
scanning imports.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ganstream.engines.card import ModelCard

Batch = npt.NDArray[np.uint8]


@runtime_checkable
class Engine(Protocol):
    """A loaded model ready to run."""

    card: ModelCard
    backend: str  # "openvino", "ort", "torch", "trt", ...
    precision: str  # what it actually runs at: "fp32", "bf16", "fp16", "int8"

    def infer(self, *inputs: npt.NDArray[np.generic]) -> Batch:
        """Run one batch. Frames: uint8 (N, H, W, 3); interp also takes t: float32 (N, 1)."""
        ...

    def close(self) -> None:
        """Free sessions and device memory; the engine is unusable afterwards."""
        ...
