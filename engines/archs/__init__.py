"""Generator architectures shared by training (which trains them) and the torch backend (which
runs them from safetensors). Importing this package imports torch: only the torch backend and
training do.

``build_generator(card.arch)`` rebuilds a model from the ``arch`` field of its ModelCard:
``{"name": "srvgg", "params": {...}}``. Modules take float32 NCHW RGB in [0, 1] and return the
same; ``Uint8NHWC`` wraps one with the exported I/O convention (uint8 NHWC in and out).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ganstream.engines.archs.interp_fusion import FlowFusionNet
from ganstream.engines.archs.recurrent import RecurrentCompact
from ganstream.engines.archs.srvgg import RestoreCompact, SRVGGCompact
from ganstream.engines.archs.wrappers import Uint8NHWC

GENERATORS: dict[str, type[nn.Module]] = {
    "srvgg": SRVGGCompact,
    "restore": RestoreCompact,
    "recurrent": RecurrentCompact,
    "interp_fusion": FlowFusionNet,
}


def size_multiple(arch: dict[str, Any]) -> int:
    """What frame sizes must be a multiple of (card ``multiple_of``): the factor of the
    pixel-unshuffle the body sits behind (restore: 2), 1 where there is none."""
    if arch.get("name") == "restore":
        return 2
    return int(arch.get("params", {}).get("unshuffle", 1))


def build_generator(arch: dict[str, Any]) -> nn.Module:
    """The generator described by a card's ``arch`` field, with freshly initialised weights."""
    name = arch.get("name")
    if name not in GENERATORS:
        raise ValueError(f"build_generator: unknown architecture {name!r}, expected one of {', '.join(GENERATORS)}")
    return GENERATORS[name](**arch.get("params", {}))


__all__ = [
    "GENERATORS",
    "FlowFusionNet",
    "RecurrentCompact",
    "RestoreCompact",
    "SRVGGCompact",
    "Uint8NHWC",
    "build_generator",
    "size_multiple",
]
