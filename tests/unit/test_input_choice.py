"""Per stream, the clean-input or the compressed-input SR model, chosen from the frames' block grid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import pytest

from ganstream.engines.input_choice import (
    CLEAN_BELOW,
    COMPRESSED_ABOVE,
    LARGER_LONE_ABOVE,
    LARGER_SKIPS_ABOVE,
    OWN_LONE_BELOW,
    OWN_SKIPS_ABOVE,
    SKIPPED_LEVEL,
    ZEROS_CLEAN_UPTO,
    ZEROS_COMPRESSED_ABOVE,
    InputChoice,
    StreamChoice,
    blockiness,
    coding_level,
    grid_aligned_zeros,
    grid_level,
    unchanged_blocks,
)
from ganstream.stream.stage_factory import auto_members, default_sr_model
from ganstream.training.codec import h264_roundtrip


def scene(h: int = 144, w: int = 192, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w, 3)).astype(np.float32), (0, 0), 2.0)
    return np.clip(128 + 60 * noise / noise.std(), 0, 255).astype(np.uint8)


@dataclass
class Card:
    name: str
    task: str = "sr"
    scale: int = 2
    recurrent: Any = None


class Constant:
    """An engine that answers every frame with one grey level (so mixes can be read off)."""

    backend, precision = "fake", "fp32"

    def __init__(self, name: str, level: int) -> None:
        self.card, self.level, self.closed = Card(name), level, False

    def infer(self, x: np.ndarray) -> np.ndarray:
        n, h, w, c = x.shape
        return np.full((n, 2 * h, 2 * w, c), self.level, np.uint8)

    def close(self) -> None:
        self.closed = True


def test_blockiness_reads_the_codec_grid_not_the_content() -> None:
    clean = scene()
    assert 0.9 < blockiness(clean) < CLEAN_BELOW
    coded = h264_roundtrip(clean[None], crf=36)[0]
    assert blockiness(coded) > COMPRESSED_ABOVE
    shifted = np.ascontiguousarray(coded[:, 3:-5])  # a crop moves the grid off the 8-px lines
    assert blockiness(shifted) < blockiness(coded)
    assert blockiness(np.full((64, 64, 3), 90, np.uint8)) == 1.0  # a flat frame says nothing


def _block_offsets(frame: np.ndarray, block: int, seed: int = 1) -> np.ndarray:
    """`frame` with a random level added per `block` x `block` tile: steps on the tile edges, as
    a coder without deblocking leaves them."""
    h, w = frame.shape[:2]
    tiles = np.random.default_rng(seed).normal(0, 12, (h // block + 1, w // block + 1))
    offsets = np.kron(tiles, np.ones((block, block)))[:h, :w, None]
    return np.clip(frame + offsets, 0, 255).astype(np.uint8)


def test_a_grid_of_a_larger_coded_source_reads_clean_and_one_of_this_size_compressed() -> None:
    """A source coded at four times the size and downscaled steps on every second pixel: the 8-px
    lines step too, so the plain block-grid ratio is high, but the grid is not this size's own and
    the choice reads clean. The same steps on an 8-px grid, or a real H.264 round trip, read
    compressed."""
    clean = scene()
    larger_source = _block_offsets(clean, 2)
    assert blockiness(larger_source) > COMPRESSED_ABOVE  # what the ratio alone would misread
    assert grid_level(larger_source) <= 1.0
    assert grid_level(_block_offsets(clean, 8)) > COMPRESSED_ABOVE
    coded = h264_roundtrip(clean[None], crf=30)[0]
    assert grid_level(coded) == blockiness(coded) > COMPRESSED_ABOVE
    assert grid_level(clean) <= blockiness(clean) < CLEAN_BELOW


def test_the_quantiser_leaves_fine_detail_missing_inside_the_grid_blocks() -> None:
    """H.264 rounds away high frequencies inside its 8x8 blocks, so blocks on its grid hold more
    near-zero DCT coefficients than blocks straddling it; clean frames show no difference, and
    moving the grid by half a block turns the difference around."""
    clean = scene()
    assert abs(grid_aligned_zeros(clean)) <= ZEROS_CLEAN_UPTO
    for crf in (26, 30, 36):
        coded = h264_roundtrip(clean[None], crf=crf)[0]
        assert grid_aligned_zeros(coded) > ZEROS_CLEAN_UPTO, crf
        assert grid_aligned_zeros(np.ascontiguousarray(coded[4:, 4:])) < 0, crf
        assert coding_level(coded) > COMPRESSED_ABOVE, crf
    assert coding_level(clean) < CLEAN_BELOW
    assert grid_aligned_zeros(np.full((64, 64, 3), 90, np.uint8)) == 0.0  # a flat frame says nothing
    assert grid_aligned_zeros(clean[:16, :16]) == 0.0  # nor one too small to read


def test_a_clear_quantiser_trace_overrules_the_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    """No trace (at most ZEROS_CLEAN_UPTO) reads clean whatever the grid says, a strong one (over
    ZEROS_COMPRESSED_ABOVE) compressed; in between the grid and the unchanged blocks decide."""
    from ganstream.engines import input_choice

    clean = scene()
    gridded = _block_offsets(clean, 8)
    assert grid_level(gridded) > COMPRESSED_ABOVE and grid_level(clean) < CLEAN_BELOW
    for zeros, expect_gridded, expect_clean in (
        (ZEROS_CLEAN_UPTO, 1.0, grid_level(clean)),
        (ZEROS_COMPRESSED_ABOVE + 0.01, grid_level(gridded), SKIPPED_LEVEL),
        ((ZEROS_CLEAN_UPTO + ZEROS_COMPRESSED_ABOVE) / 2, grid_level(gridded), grid_level(clean)),
    ):
        monkeypatch.setattr(input_choice, "_zeros_of", lambda g, z=zeros: z)
        assert coding_level(gridded) == pytest.approx(expect_gridded), zeros
        assert coding_level(clean) == pytest.approx(expect_clean), zeros


def test_the_stream_gets_the_model_its_input_needs() -> None:
    choice = InputChoice(Constant("c", 10), Constant("k", 200))
    x = scene()
    assert choice.observe(x) == "clean"
    assert choice.infer(x[None])[0].max() == 10
    choice.reset()
    assert choice.observe(h264_roundtrip(x[None], crf=36)[0]) == "compressed"
    assert choice.infer(x[None])[0].min() == 200


def test_a_switch_fades_without_a_jump_and_the_band_holds_the_choice() -> None:
    choice = InputChoice(Constant("c", 0), Constant("k", 250), every=1, decay=0.0, fade=4)
    clean, coded = scene(), h264_roundtrip(scene()[None], crf=36)[0]
    choice.observe(clean)
    assert choice.observe(clean) == "clean"  # a repeated frame: the opening reading stands
    assert choice.state.current == "clean" and choice.state.switches == 0
    levels = []
    for _ in range(7):
        choice.observe(coded)
        levels.append(int(choice.infer(clean[None])[0, 0, 0, 0]))
    assert levels[0] > 0 and levels == sorted(levels) and levels[-1] == 250  # a ramp, then the new model
    assert max(np.diff(levels)) <= 250 / 4 + 1  # no step larger than one fade step
    assert choice.state.switches == 1
    mid = (CLEAN_BELOW + COMPRESSED_ABOVE) / 2
    # a long history inside the band (the flat frame barely moves it): the current model stays
    state = choice.state
    state._sum, state._weight, state.decay = mid * 1e6, 1e6, 1.0
    state._seen = 2  # past the opening: a measurement, read with the frame before
    assert choice.observe(np.full((64, 64, 3), 90, np.uint8)) == "compressed"


def test_models_must_share_task_and_scale_and_close_together() -> None:
    a, b = Constant("c", 0), Constant("k", 1)
    b.card = Card("k", scale=4)
    with pytest.raises(ValueError, match="task and scale"):
        InputChoice(a, b)
    b.card = Card("k")
    choice = InputChoice(a, b)
    choice.close()
    assert a.closed and b.closed
    assert "input choice: c on 0 frames, k on 0" in choice.summary()


def test_default_sr_model_chooses_per_stream_when_both_models_are_installed() -> None:
    both = {"sr2x": Card("sr2x"), "sr2x-clean": Card("sr2x-clean")}
    assert default_sr_model(2, both) == "sr2x-auto"
    assert auto_members("sr2x-auto", both) == ("sr2x-clean", "sr2x")
    assert default_sr_model(2, {"sr2x": Card("sr2x")}) == "sr2x"
    assert auto_members("sr2x-auto", {"sr2x": Card("sr2x")}) is None
    assert default_sr_model(3, both) == "bicubic"


def test_choice_report_scores_the_rule_against_the_oracle() -> None:
    from ganstream.training.choice_report import Item, inputs_of, report, sweep

    items = [
        Item("a", "clean (area)", 1.00, +0.6),  # read clean, clean model better: no loss
        Item("b", "clean (area)", 1.20, +0.4),  # read compressed, clean model better: loses 0.4
        Item("c", "H.264 CRF 30", 1.30, -0.2),  # read compressed, right
        Item("d", "H.264 CRF 30", 1.01, -0.5),  # read clean, wrong: loses 0.5
    ]
    rows = {line.split(" | ")[0].strip("| "): line for line in report(items).splitlines()[2:]}
    assert "| +0.300 | +0.500 | 0.200 | 1 |" in rows["clean (area)"]
    assert "| -0.250 | +0.000 | 0.250 | 1 |" in rows["H.264 CRF 30"]
    table = sweep(items, [1.06, 1.25]).splitlines()[2:]
    # at 1.06 "d" still reads clean; at 1.25 "b" reads clean too and only "d" is lost
    assert table == [
        "| 1.06 | 0.200 | 0.250 | 0.225 |",
        "| 1.11 (now) | 0.200 | 0.250 | 0.225 |",
        "| 1.25 | 0.000 | 0.250 | 0.125 |",
    ]
    shapes = {k: v.shape for k, v in inputs_of(np.stack([scene(64, 96)] * 2)).items()}
    assert shapes == {k: (2, 32, 48, 3) for k in shapes} and len(shapes) == 5


def test_choice_report_sweeps_the_quantiser_trace_thresholds() -> None:
    """`--sweep-zeros` applies the trace to the grid's own reading as `coding_level` does, and
    scores every pair of thresholds against the oracle."""
    from ganstream.training.choice_report import Item, sweep_zeros, with_zeros

    items = [
        Item("a", "clean (area)", 1.30, +0.6, zeros=0.001),  # the grid misreads, no trace: clean
        Item("b", "H.264 CRF 30", 1.00, -0.4, zeros=0.09),  # no grid, a strong trace: compressed
        Item("c", "H.264 CRF 30", 1.30, -0.2, zeros=0.02),  # between: the grid decides
    ]
    read = with_zeros(items, ZEROS_CLEAN_UPTO, ZEROS_COMPRESSED_ABOVE)
    assert [i.ratio for i in read] == [1.0, SKIPPED_LEVEL, 1.30]
    rows = sweep_zeros(items).splitlines()
    assert rows[2] == "| (no trace) | 0.4000 |" + " |" * 4  # a loses 0.6, b 0.4 over two H.264 items: 0.2
    now = next(r for r in rows if "(now)" in r)
    assert now.startswith(f"| {ZEROS_CLEAN_UPTO:.3f} |") and "0.0000 (now)" in now


def test_choice_report_alternative_statistics_read_the_codec_grid() -> None:
    """Each statistic `choice_report --statistic` can score reads about 1 on clean frames, more on
    frames coded at their own size, and nothing on a flat frame."""
    from ganstream.training.choice_report import STATISTICS, Item, sweep_middles

    clean = scene()
    coded = h264_roundtrip(clean[None], crf=36)[0]
    for name, read in STATISTICS.items():
        assert 0.85 < read(clean) < 1.1, name
        assert read(coded) > read(clean) + 0.05, name
        assert read(np.full((64, 64, 3), 90, np.uint8)) == 1.0, name
    items = [Item(str(k), "clean (area)", 1.0 + 0.1 * k, 0.0) for k in range(11)]
    middles = sweep_middles(items, "grid-second-difference")
    assert len(middles) == 13 and middles == sorted(middles) and 1.09 < middles[0] < middles[-1] < 1.91
    assert sweep_middles(items, "block-grid")[:2] == [1.06, 1.08]


def test_choice_report_crops_items_as_eval_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """A coded source's grid must fall on the same pixels as in `ganstream eval`: one pixel of
    crop apart, the selection split's fish tanks read clean here and compressed there."""
    from pathlib import Path

    from ganstream.training import choice_report
    from ganstream.training.evaluate import crop_multiple

    asked: list[int] = []

    def items(data: Path, split: str, multiple: int, *args: int) -> list[object]:
        asked.append(multiple)
        return []

    monkeypatch.setattr(choice_report, "split_items", items)
    root = Path(__file__).resolve().parents[2]
    assert choice_report.measure(Path("data"), "selection", "sr2x-auto", root / "engines" / "models") == []
    assert asked == [crop_multiple(2)]


def _change_tiles(frame: np.ndarray, tile: int, share: float, seed: int = 2) -> np.ndarray:
    """`frame` with a random `share` of its aligned `tile`-px tiles changed by faint noise (no
    step at their edges): what a coder leaves where it skipped the other tiles."""
    h, w = frame.shape[:2]
    rng = np.random.default_rng(seed)
    changed = np.kron(rng.random((h // tile + 1, w // tile + 1)) < share, np.ones((tile, tile)))[:h, :w, None]
    noisy = np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8)
    return np.where(changed > 0, noisy, frame)


def test_skipped_macroblocks_read_compressed_at_this_size_and_clean_from_a_larger_source() -> None:
    """Two consecutive frames: unchanged 16-px blocks are macroblocks a coder skipped at this size
    (compressed, even where the grid reads clean); unchanged lone 8-px blocks are a larger
    source's skipped macroblocks, halved (clean, even where the grid reads compressed)."""
    base = scene()
    own = _change_tiles(base, 2 * 8, 0.4)
    small, large, lone = unchanged_blocks(own, base)
    assert large > OWN_SKIPS_ABOVE and lone < OWN_LONE_BELOW
    assert grid_level(own) < CLEAN_BELOW  # the grid alone reads clean
    assert grid_level(own, base) >= SKIPPED_LEVEL
    larger = _change_tiles(base, 8, 0.4)
    small, large, lone = unchanged_blocks(larger, base)
    assert small > LARGER_SKIPS_ABOVE and lone > LARGER_LONE_ABOVE
    gridded_before, gridded = _block_offsets(base, 8), _block_offsets(larger, 8)
    assert grid_level(gridded) > COMPRESSED_ABOVE  # the grid alone reads compressed
    assert grid_level(gridded, gridded_before) <= 1.0
    assert grid_level(own, own) == grid_level(own)  # a repeated frame says nothing
    assert grid_level(own, base[:64]) == grid_level(own)  # nor a frame of another size


def test_h264_on_a_still_plain_scene_reads_compressed_from_its_skipped_macroblocks() -> None:
    """A still, smooth scene with a little sensor noise: at CRF 30 the coder keeps too little grid
    to read on one frame, but skips macroblocks on the next; the clean frames change everywhere."""
    rng = np.random.default_rng(3)
    plain = cv2.GaussianBlur(scene(), (0, 0), 3.0).astype(np.float32)
    clean = np.stack([np.clip(plain + rng.normal(0, 1.5, plain.shape), 0, 255).astype(np.uint8) for _ in range(3)])
    coded = h264_roundtrip(clean, crf=30)
    assert coding_level(coded[1]) < CLEAN_BELOW  # what one frame alone misreads
    assert coding_level(coded[1], coded[0]) >= SKIPPED_LEVEL
    assert coding_level(clean[1], clean[0]) == coding_level(clean[1]) < CLEAN_BELOW


def test_a_pair_across_dropped_frames_is_not_read_the_next_pair_is() -> None:
    """Frames dropped before the stage (a `seq` jump): the pair that spans them is skipped, since
    the missing frames' changes would hide the coder's skips, and the next pair is read."""
    base = scene()
    skipped = _change_tiles(base, 2 * 8, 0.4)  # this size's own skips against `base`: compressed
    choice = StreamChoice(every=25)
    choice.observe(base, seq=0)  # the opening frame: the grid reads clean
    assert choice.current == "clean"
    choice.observe(skipped, seq=5)  # the opening pair spans a gap: not read
    assert choice.current == "clean" and not choice._settled
    choice.observe(_change_tiles(skipped, 2 * 8, 0.4, seed=4), seq=6)  # the next pair: read, settles
    assert choice._settled and choice.current == "compressed" and choice.switches == 0
    # frames without numbers (seq 0 throughout) are read as consecutive
    choice = StreamChoice(every=25)
    choice.observe(base, seq=0)
    assert choice.observe(skipped, seq=0) == "compressed"
