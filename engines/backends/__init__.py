"""The backend registry: an explicit table of module names, imported only when chosen.

Each backend module provides ``unavailable_reason(card, folder, options) -> str | None`` (None
when it can run this model here), ``default_precision() -> str`` and an engine class named in
``ENGINE_CLASSES``. Nothing heavy (torch, tensorrt, openvino) is imported until a backend is picked.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ganstream.engines.errors import BackendUnavailableError

BACKENDS: dict[str, str] = {
    "trt": "ganstream.engines.backends.trt_engine",
    "torch": "ganstream.engines.backends.torch_engine",
    "openvino": "ganstream.engines.backends.openvino_engine",
    "ort": "ganstream.engines.backends.ort_engine",
    "triton": "ganstream.engines.triton.backend",  # remote: never picked by `auto`
}
# `auto` tries these in order: the fastest GPU path first, the portable reference last.
AUTO_ORDER: tuple[str, ...] = ("trt", "torch", "openvino", "ort")


def backend_module(name: str) -> ModuleType:
    if name not in BACKENDS:
        raise BackendUnavailableError(f"unknown backend {name!r}, expected auto or one of {', '.join(BACKENDS)}")
    return importlib.import_module(BACKENDS[name])
