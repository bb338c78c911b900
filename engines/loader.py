"""`load_engine`: find a model, check its card, pick a backend and open it."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ganstream.engines.backends import AUTO_ORDER, BACKENDS, backend_module
from ganstream.engines.backends.base import BackendEngine
from ganstream.engines.card import PRECISIONS, ModelCard
from ganstream.engines.errors import BackendUnavailableError, OptionError
from ganstream.engines.store import resolve_model
from ganstream.engines.tiling import TiledEngine

log = logging.getLogger(__name__)


def backend_unavailable_reason(
    name: str, card: ModelCard, folder: Path, options: dict[str, Any], for_auto: bool = False
) -> str | None:
    """None when backend `name` can run this model here, else why not (one phrase)."""
    mod = backend_module(name)
    precision = options.get("precision")
    if precision is not None and precision not in mod.PRECISIONS:
        return f"runs {', '.join(mod.PRECISIONS)}, not {precision}"
    reason: str | None = mod.unavailable_reason(card, folder, options, for_auto=for_auto)
    return reason


def choose_backend(card: ModelCard, folder: Path, options: dict[str, Any]) -> str:
    """The first backend of AUTO_ORDER that can run this model here."""
    why: list[str] = []
    for name in AUTO_ORDER:
        reason = backend_unavailable_reason(name, card, folder, options, for_auto=True)
        if reason is None:
            return name
        why.append(f"{name}: {reason}")
        log.debug("auto backend: skipping %s (%s)", name, reason)
    raise BackendUnavailableError(f"no backend can run model '{card.name}' here ({'; '.join(why)})")


def load_engine(
    name_or_path: str | os.PathLike[str],
    backend: str = "auto",
    precision: str | None = None,
    **options: Any,
) -> BackendEngine | TiledEngine:
    """Open a model for inference.

    `name_or_path`: a store name (see ``ganstream engines list``), a model folder, its card.json
    or one of its artifacts. `backend`: auto, trt, torch, openvino or ort. `precision`: fp32,
    fp16, bf16 or int8; None picks the backend's best for this machine. Options: ``device``
    ("cpu", "cuda", "cuda:1"), ``threads`` (CPU backends), ``tile`` (int or (h, w) input tile size,
    or "auto" to tile only frames beyond the model's limits) and ``tile_overlap`` (input pixels,
    default 16), ``shapes`` (list of (h, w) a TensorRT plan is built for).
    """
    if backend != "auto" and backend not in BACKENDS:
        raise BackendUnavailableError(f"unknown backend {backend!r}, expected auto or one of {', '.join(BACKENDS)}")
    if precision is not None and precision not in PRECISIONS:
        raise OptionError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    folder = resolve_model(name_or_path)
    card = ModelCard.load(folder)
    tile = options.pop("tile", None)
    overlap = int(options.pop("tile_overlap", 16))
    asked = {**options, "precision": precision}
    if backend == "auto":
        name = choose_backend(card, folder, asked)
        if name in ("torch", "trt"):
            options.setdefault("device", "cuda")
    else:
        name = backend
        reason = backend_unavailable_reason(name, card, folder, asked)
        if reason is not None:
            raise BackendUnavailableError(f"backend {name} cannot run model '{card.name}': {reason}")
    mod = backend_module(name)
    reason = ""
    if precision is None and hasattr(mod, "precision_choice"):  # measured per machine
        choice = mod.precision_choice(card, folder)
        precision, reason = choice.precision, choice.reason
    engine: BackendEngine = mod.create(
        card, folder, precision or mod.default_precision(card, folder, options), **options
    )
    engine.precision_reason = reason
    log.info("%s", engine.summary())
    if tile is None:
        return engine
    return TiledEngine(engine, tile=tile, overlap=overlap)
