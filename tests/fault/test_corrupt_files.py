"""Damaged input files: the stream goes on past corrupt data and ends cleanly at a truncation."""

from __future__ import annotations

import random
from pathlib import Path

from ganstream.stream import Pipeline, RunOptions
from tests.helpers import ffprobe, gst_launch, make_clip

FRAMES = 60


def test_truncated_file_ends_cleanly_with_the_good_frames(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mkv", frames=FRAMES)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 6 // 10 + 37])  # mid-frame, not on a block boundary
    out = tmp_path / "out.mp4"
    stats = Pipeline(str(cut), [], str(out), RunOptions()).run(timeout=60)
    probe = ffprobe(out)
    assert 0.3 * FRAMES < probe.frames < FRAMES and probe.frames == stats.frames_out


def test_bit_flipped_file_is_decoded_to_the_end(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mkv", frames=FRAMES)
    data = bytearray(clip.read_bytes())
    rng = random.Random(7)
    for pos in rng.sample(range(len(data) // 4, len(data) * 3 // 4), 40):
        data[pos] ^= 1 << rng.randrange(8)
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out.mp4"
    stats = Pipeline(str(bad), [], str(out), RunOptions()).run(timeout=60)
    probe = ffprobe(out)
    assert probe.frames == stats.frames_out and probe.frames >= FRAMES // 2


def test_undecodable_frames_are_counted_and_skipped(tmp_path: Path) -> None:
    clip = tmp_path / "mjpeg.mkv"
    gst_launch(
        f"videotestsrc pattern=ball num-buffers={FRAMES} ! video/x-raw,width=160,height=96,framerate=30/1 ! "
        f"jpegenc ! matroskamux ! filesink location={clip}"
    )
    clean = Pipeline(str(clip), [], "null", RunOptions())
    clean.run(timeout=60)
    assert clean.health.decoder_errors == 0 and clean.stats.frames_out == FRAMES
    data = bytearray(clip.read_bytes())
    rng = random.Random(7)
    for pos in rng.sample(range(len(data) // 4, len(data) * 3 // 4), 300):
        data[pos] = rng.randrange(256)
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out.mp4"
    pipe = Pipeline(str(bad), [], str(out), RunOptions())
    stats = pipe.run(timeout=60)
    assert pipe.health.decoder_errors >= 1
    # The last quarter of the file is intact: the stream went on after the errors.
    assert ffprobe(out).frames == stats.frames_out >= FRAMES // 4 + 5
