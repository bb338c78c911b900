"""Tiling with overlap: run frames larger than an engine's limits (4K on a 1080p plan) in tiles.

Tiles overlap by at least ``2 * overlap`` input pixels; each output pixel is taken from the tile
in which it lies farthest from an edge (the cut between two neighbours sits in the middle of
their overlap). With an overlap larger than the network's receptive field the result equals the
untiled output up to rounding, so there are no seams to see.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import numpy.typing as npt

from ganstream.engines.backends.base import BackendEngine
from ganstream.engines.card import ModelCard
from ganstream.engines.errors import OptionError, ShapeError
from ganstream.engines.feed import is_frame_input, is_spatial_input


def tile_spans(length: int, tile: int, overlap: int, align: int = 1) -> list[tuple[int, int, int, int]]:
    """Along one axis: (tile_start, tile_end, keep_start, keep_end) in input pixels.

    The kept spans partition [0, length); each lies at least `overlap` from its tile's inner edges.
    With `length` and `tile` multiples of `align`, every tile starts at a multiple of it too (a body
    behind a pixel-unshuffle must see the frame at its own phase).
    """
    if length % align or tile % align:
        raise ShapeError(f"length {length} and tile {tile} must be multiples of {align}")
    if length <= tile:
        return [(0, length, 0, length)]
    step = (tile - 2 * overlap) // align * align
    if step < 1:
        raise ShapeError(f"tile {tile} is too small for an overlap of {overlap} on each side")
    starts = [*range(0, length - tile, step), length - tile]
    cuts = [0, *((starts[i + 1] + starts[i] + tile) // 2 for i in range(len(starts) - 1)), length]
    return [(s, s + tile, cuts[i], cuts[i + 1]) for i, s in enumerate(starts)]


class TiledEngine:
    """Wraps an engine; splits frames larger than the tile size into overlapping tiles."""

    def __init__(self, engine: BackendEngine, tile: int | tuple[int, int] | str = "auto", overlap: int = 16) -> None:
        self.engine = engine
        lim = engine.card.limits
        if tile == "auto":
            th, tw = lim.max_height, lim.max_width
        elif isinstance(tile, int):
            th, tw = tile, tile
        elif isinstance(tile, tuple):
            th, tw = tile
        else:
            raise OptionError(f"tile must be 'auto', an int or (height, width), got {tile!r}")
        m = lim.multiple_of
        # Tiles must themselves fit the engine: within its limits and a multiple of its alignment.
        self.tile = (max(m, min(th, lim.max_height) // m * m), max(m, min(tw, lim.max_width) // m * m))
        self.overlap = overlap

    @property
    def card(self) -> ModelCard:
        return self.engine.card

    @property
    def backend(self) -> str:
        return self.engine.backend

    @property
    def precision(self) -> str:
        return self.engine.precision

    pads_input = True

    def size_problem(self, height: int, width: int) -> str | None:
        """Tiles take any frame at least the model's minimum size."""
        lim = self.engine.card.limits
        if height < lim.min_height or width < lim.min_width:
            return lim.check(height, width)
        return None

    def summary(self) -> str:
        return f"{self.engine.summary()}, tiles {self.tile[1]}x{self.tile[0]} overlap {self.overlap}"

    def infer(self, *inputs: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
        specs = self.engine.card.inputs
        frame_idx = [i for i, s in enumerate(specs) if is_frame_input(s)]
        spatial_idx = [i for i, s in enumerate(specs) if is_spatial_input(s)]
        if len(inputs) != len(specs) or not frame_idx:
            return self.engine.infer(*inputs)  # let the engine report the mismatch
        ref = inputs[frame_idx[0]]
        if not isinstance(ref, np.ndarray) or ref.ndim != 4:
            return self.engine.infer(*inputs)
        n, h, w = ref.shape[:3]
        th, tw = self.tile
        if h <= th and w <= tw:
            return self.engine.infer(*inputs)
        # Padded to the model's multiple first, as the engine pads a whole frame, so that every tile
        # starts where the frame's phase repeats: a body behind a pixel-unshuffle computes something
        # else one pixel further on. The padding is cropped off below.
        m = self.engine.card.limits.multiple_of
        ph, pw = -(-h // m) * m, -(-w // m) * m
        if (ph, pw) != (h, w):
            inputs = tuple(
                np.pad(x, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)), mode="edge") if i in spatial_idx else x
                for i, x in enumerate(inputs)
            )
        s = self.engine.card.scale
        out = np.empty((n, ph * s, pw * s, 3), dtype=np.uint8)
        for y0, y1, ky0, ky1 in tile_spans(ph, th, self.overlap, m):
            for x0, x1, kx0, kx1 in tile_spans(pw, tw, self.overlap, m):
                part = [x[:, y0:y1, x0:x1] if i in spatial_idx else x for i, x in enumerate(inputs)]
                res = self.engine.infer(*part)
                out[:, ky0 * s : ky1 * s, kx0 * s : kx1 * s] = res[
                    :, (ky0 - y0) * s : (ky1 - y0) * s, (kx0 - x0) * s : (kx1 - x0) * s
                ]
        return out if (ph, pw) == (h, w) else np.ascontiguousarray(out[:, : h * s, : w * s])

    def infer_many(self, batches: Iterable[tuple[npt.NDArray[np.generic], ...]]) -> Iterator[npt.NDArray[np.uint8]]:
        for inputs in batches:
            yield self.infer(*inputs)

    def close(self) -> None:
        self.engine.close()
