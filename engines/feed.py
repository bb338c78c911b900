"""Input checking and padding shared by every backend.

``infer`` takes arrays in the order of the card's inputs. Frame inputs (uint8, 4-D in the card)
must be uint8 (N, H, W, 3) and agree on N, H and W; other inputs (an interpolation timestep)
are cast to their dtype and broadcast to (N, 1). Frames whose height or width is not a multiple
of the card's ``multiple_of`` are padded by edge replication and the output is cropped back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ganstream.engines.card import ModelCard, TensorSpec
from ganstream.engines.errors import ShapeError

Array = npt.NDArray[np.generic]


def is_frame_input(spec: TensorSpec) -> bool:
    """True for a uint8 NHWC RGB frame tensor, False for side inputs (a timestep, a flow, a folded state)."""
    return spec.dtype == "uint8" and len(spec.shape) == 4 and spec.shape[3] == 3


def is_spatial_input(spec: TensorSpec) -> bool:
    """True for any (N, H, W, C) input: frames, and per-pixel side inputs such as optical flow.

    Spatial inputs share the frames' height and width, and are padded and tiled with them.
    """
    return len(spec.shape) == 4


def padded_size(size: int, multiple: int) -> int:
    return -(-size // multiple) * multiple


@dataclass(frozen=True)
class PreparedBatch:
    """Inputs ready for a backend, plus what is needed to crop the output back."""

    feeds: dict[str, Array]
    batch: int
    height: int
    width: int
    scale: int

    def crop(self, out: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        h, w = self.height * self.scale, self.width * self.scale
        if out.shape[1] == h and out.shape[2] == w:
            return out
        return np.ascontiguousarray(out[:, :h, :w])


def prepare(card: ModelCard, inputs: Sequence[object], where: str = "infer") -> PreparedBatch:
    """Check `inputs` against the card and pad frames; raises ShapeError with one clear line."""
    specs = card.inputs
    if len(inputs) != len(specs):
        names = ", ".join(s.name for s in specs)
        raise ShapeError(f"{where}: model '{card.name}' takes {len(specs)} input(s) ({names}), got {len(inputs)}")
    frames = [(s, x) for s, x in zip(specs, inputs, strict=True) if is_frame_input(s)]
    if not frames:
        raise ShapeError(f"{where}: model '{card.name}' has no uint8 NHWC frame input in its card")
    first_shape: tuple[int, ...] | None = None
    for spec, x in frames:
        if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 4 or x.shape[3] != 3:
            got = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
            raise ShapeError(f"{where}: input '{spec.name}' must be uint8 (N, H, W, 3), got {got}")
        if first_shape is None:
            first_shape = x.shape
        elif x.shape != first_shape:
            raise ShapeError(
                f"{where}: input '{spec.name}' has shape {x.shape}, the first frame input has {first_shape}"
            )
    assert first_shape is not None
    n, h, w = first_shape[0], first_shape[1], first_shape[2]
    if n < 1:
        raise ShapeError(f"{where}: empty batch (N=0)")
    lim = card.limits
    if not (lim.min_height <= h <= lim.max_height and lim.min_width <= w <= lim.max_width):
        hint = (
            " (load with tile='auto' to run larger frames in tiles)" if h > lim.max_height or w > lim.max_width else ""
        )
        raise ShapeError(
            f"{where}: frame {w}x{h} is outside model '{card.name}' limits "
            f"{lim.min_width}x{lim.min_height}..{lim.max_width}x{lim.max_height}{hint}"
        )
    ph, pw = padded_size(h, lim.multiple_of), padded_size(w, lim.multiple_of)
    feeds: dict[str, Array] = {}
    for spec, x in zip(specs, inputs, strict=True):
        if is_frame_input(spec):
            assert isinstance(x, np.ndarray)
            arr: Array = x
        elif is_spatial_input(spec):
            arr = _spatial_side_input(spec, x, (n, h, w), where)
        else:
            feeds[spec.name] = _side_input(spec, x, n, where)
            continue
        if (ph, pw) != (h, w):
            arr = np.pad(arr, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)), mode="edge")
        feeds[spec.name] = np.ascontiguousarray(arr)
    return PreparedBatch(feeds, n, h, w, card.scale)


def _spatial_side_input(spec: TensorSpec, x: object, nhw: tuple[int, int, int], where: str) -> Array:
    """A per-pixel input that is not a frame (a flow field): (N, H, W, C) matching the frames."""
    channels = spec.shape[3]
    if not isinstance(x, np.ndarray) or x.ndim != 4 or tuple(x.shape[:3]) != nhw:
        got = str(x.shape) if isinstance(x, np.ndarray) else type(x).__name__
        raise ShapeError(
            f"{where}: input '{spec.name}' must be {spec.dtype} (N, H, W, C) matching the frames {nhw}, got {got}"
        )
    if isinstance(channels, int) and x.shape[3] != channels:
        raise ShapeError(f"{where}: input '{spec.name}' must have {channels} channels, got {x.shape[3]}")
    return np.asarray(x, dtype=np.dtype(spec.dtype))


def _side_input(spec: TensorSpec, x: object, n: int, where: str) -> Array:
    """A non-frame input such as the timestep t: a scalar or (N,)/(N, 1) array, cast to its dtype."""
    try:
        arr = np.asarray(x, dtype=np.dtype(spec.dtype))
    except (TypeError, ValueError):
        raise ShapeError(
            f"{where}: input '{spec.name}' must be numeric ({spec.dtype}), got {type(x).__name__}"
        ) from None
    rank = len(spec.shape)
    if arr.ndim == 0:
        arr = np.full((n,) + (1,) * (rank - 1), arr, dtype=arr.dtype)
    elif arr.shape[0] != n:
        raise ShapeError(f"{where}: input '{spec.name}' has batch {arr.shape[0]}, the frames have {n}")
    else:
        arr = arr.reshape((n,) + (1,) * (rank - 1)) if arr.size == n else arr
    if spec.name == "t" and np.any((arr <= 0) | (arr >= 1)):
        raise ShapeError(f"{where}: timestep '{spec.name}' must lie strictly between 0 and 1")
    return np.ascontiguousarray(arr)


def example_inputs(card: ModelCard, batch: int, height: int, width: int, seed: int | None = None) -> list[Array]:
    """Inputs of the right names, dtypes and shapes: random with a seed, else constant (for warm-up)."""
    rng = np.random.default_rng(seed)
    out: list[Array] = []
    for spec in card.inputs:
        if is_frame_input(spec):
            shape = (batch, height, width, 3)
            out.append(rng.integers(0, 256, shape, dtype=np.uint8) if seed is not None else np.zeros(shape, np.uint8))
        elif is_spatial_input(spec):
            c = spec.shape[3] if isinstance(spec.shape[3], int) else 2
            field = (
                rng.normal(0.0, 2.0, (batch, height, width, c))
                if seed is not None
                else np.zeros((batch, height, width, c))
            )
            out.append(field.astype(np.dtype(spec.dtype)))
        else:
            rest = (1,) * (len(spec.shape) - 1)
            t = rng.uniform(0.1, 0.9, (batch, *rest)) if seed is not None else np.full((batch, *rest), 0.5)
            out.append(t.astype(np.dtype(spec.dtype)))
    return out
