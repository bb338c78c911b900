"""The block search where DIS lost a small fast object (`ganstream.engines.block_search`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ganstream.engines.block_search import BlockSearch, SearchOptions
from ganstream.engines.flow import FlowEstimator
from ganstream.stream.stages.interp_synth import CLASSICAL_FLOW


def _texture(h: int, w: int, seed: int, cell: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // cell + 1, w // cell + 1), dtype=np.uint8)
    return np.asarray(cv2.resize(small, (w + cell, h + cell), interpolation=cv2.INTER_CUBIC)[:h, :w], dtype=np.uint8)


def _scene(shift: int) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice]]:
    """A smooth still background and a busy 16 px square that moves `shift` px to the right."""
    background = _texture(180, 320, 1, 24)
    square = _texture(16, 16, 2, 3)
    g0, g1 = background.copy(), background.copy()
    g0[80:96, 100:116] = square
    g1[80:96, 100 + shift : 116 + shift] = square
    return g0, g1, (slice(82, 94), slice(102, 114))


def _dis(g0: np.ndarray, g1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dis = FlowEstimator(CLASSICAL_FLOW)
    return dis.calc(g0, g1), dis.calc(g1, g0)


def test_the_search_finds_a_small_object_that_dis_lost() -> None:
    g0, g1, inside = _scene(44)
    f01, f10 = _dis(g0, g1)
    # DIS keeps (most of) the background's stillness on a square smaller than its own motion.
    assert abs(float(np.median(f01[inside][..., 0])) - 44.0) > 8.0
    search = BlockSearch()
    r01, r10 = search.refine_pair(g0, g1, f01, f10)
    assert search.last_replaced >= 2
    assert abs(float(np.median(r01[inside][..., 0])) - 44.0) <= 1.0
    assert abs(float(np.median(r01[inside][..., 1]))) <= 1.0
    # And back: where the square is in frame1, it came from 44 px to the left.
    back = (inside[0], slice(inside[1].start + 44, inside[1].stop + 44))
    assert abs(float(np.median(r10[back][..., 0])) + 44.0) <= 1.0
    # The still background far from the square keeps DIS's flow.
    assert np.array_equal(r01[:40], f01[:40]) and np.array_equal(r01[:, 250:], f01[:, 250:])


def test_the_search_leaves_a_flow_that_explains_the_frames_untouched() -> None:
    g0, g1, _ = _scene(6)  # a motion DIS follows
    f01, f10 = _dis(g0, g1)
    search = BlockSearch()
    r01, r10 = search.refine_pair(g0, g1, f01, f10)
    assert search.last_searched == 0
    assert r01 is f01 and r10 is f10


def test_the_search_reaches_no_further_than_asked() -> None:
    g0, g1, inside = _scene(44)
    f01, _ = _dis(g0, g1)
    r01 = BlockSearch(SearchOptions(search_px=16)).refine(g0, g1, f01)
    assert float(np.abs(r01[inside][..., 0] - 44.0).min()) > 8.0


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="search_px"):
        SearchOptions(search_px=0)
