"""TensorRT backend (placeholder until the runtime lands)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from ganstream.engines.card import ModelCard


def unavailable_reason(card: ModelCard, folder: Path, options: dict[str, Any], for_auto: bool = False) -> str | None:
    if importlib.util.find_spec("tensorrt") is None:
        return "tensorrt is not installed"
    return "the TensorRT runtime is not implemented yet"
