"""The output audio track's timing (no GStreamer): starts with the video, gaps become silence,
overlaps are trimmed, timestamps follow the sample count, and it never runs ahead of the video."""

from __future__ import annotations

from ganstream.stream.audio import BYTES_PER_FRAME, NS, RATE, AudioDecision, AudioTimeline, Chunk

MS = 1_000_000


def tone(ms: int, value: int = 1) -> bytes:
    return bytes([value]) * (RATE * ms // 1000 * BYTES_PER_FRAME)


def span(chunks: list[Chunk]) -> tuple[int, int]:
    end = chunks[-1].pts + chunks[-1].samples * NS // RATE
    return chunks[0].pts, end


def silent(chunks: list[Chunk]) -> int:
    return sum(c.samples for c in chunks if not any(c.data))


def test_track_starts_at_the_first_frame_with_silence_before_the_audio() -> None:
    t = AudioTimeline()
    t.add(1_100 * MS, tone(100))  # the camera's audio begins 100 ms after the first frame
    out = t.video(1_000 * MS, 1_300 * MS)
    assert span(out) == (1_000 * MS, 1_200 * MS)
    assert silent(out) == RATE // 10 and out[-1].data == tone(100)


def test_audio_before_the_first_frame_is_trimmed() -> None:
    t = AudioTimeline()
    t.add(900 * MS, tone(200))
    out = t.video(1_000 * MS, 1_300 * MS)
    assert span(out) == (1_000 * MS, 1_100 * MS) and silent(out) == 0


def test_never_ahead_of_the_video_and_the_rest_follows_contiguously() -> None:
    t = AudioTimeline()
    t.add(0, tone(100))
    first = t.video(0, 40 * MS)
    assert span(first) == (0, 40 * MS)
    second = t.video(40 * MS, 80 * MS)
    assert span(second) == (40 * MS, 80 * MS)


def test_a_reconnect_gap_becomes_silence_and_jitter_does_not_drift() -> None:
    t = AudioTimeline()
    pts = 0
    out: list[Chunk] = []
    for i in range(3000):  # 60 s of 20 ms chunks whose stamps jitter by +-5 ms, video frames of 40 ms
        t.add(pts + (5 * MS if i % 2 else -5 * MS if i else 0), tone(20))
        pts += 20 * MS
        if i % 2:
            out += t.video(pts - 40 * MS, pts)
    t.add(pts + 3 * NS, tone(20))  # the camera comes back 3 s later
    out += t.video(pts + 3 * NS, pts + 3 * NS + 40 * MS)
    assert span(out)[1] == pts + 3 * NS + 20 * MS
    assert abs(silent(out) - 3 * RATE) <= 1  # exactly the gap, no correction on the way
    assert [c.pts for c in out] == sorted(c.pts for c in out)


def test_overlapping_audio_is_trimmed() -> None:
    t = AudioTimeline()
    t.add(0, tone(100, 1))
    t.add(50 * MS, tone(100, 2))  # repeats 50 ms already written
    out = t.video(0, 150 * MS)
    assert span(out) == (0, 150 * MS) and silent(out) == 0
    assert b"".join(c.data for c in out) == tone(100, 1) + tone(50, 2)


def test_video_far_ahead_of_any_audio_fills_silence_behind_it() -> None:
    t = AudioTimeline(lag_ns=400 * MS)
    out = t.video(0, 1 * NS)  # no audio arrives (the camera stopped sending it)
    assert span(out) == (0, 600 * MS) and silent(out) == span_samples(out)


def span_samples(chunks: list[Chunk]) -> int:
    return sum(c.samples for c in chunks)


def test_finish_pads_or_cuts_to_the_video_end() -> None:
    t = AudioTimeline()
    t.add(0, tone(300))
    t.video(0, 200 * MS)
    rest = t.finish()
    assert rest == [] or span(rest)[1] == 200 * MS
    assert t.next_ts == 200 * MS
    t2 = AudioTimeline()
    t2.add(0, tone(50))
    out = t2.video(0, 1 * NS) + t2.finish()
    assert span(out) == (0, 1 * NS)


def test_pending_audio_is_bounded() -> None:
    t = AudioTimeline(max_pending_ns=1 * NS)
    for i in range(30):
        t.add(i * 100 * MS, tone(100))
    assert t.dropped_samples == 2 * RATE


def test_decision_waits_for_the_streams_then_gives_up() -> None:
    now = [0.0]
    d = AudioDecision(True, clock=lambda: now[0])
    assert not d.settled()
    now[0] = 1.0
    d.streams(True)
    assert d.settled() and d.present
    late = AudioDecision(True, clock=lambda: now[0])
    assert not late.settled()
    now[0] = 5.0
    assert late.settled() and late.present is False
    assert AudioDecision(False).settled()
