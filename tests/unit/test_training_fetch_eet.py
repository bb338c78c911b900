"""`data fetch` reads a photo stored as one JPEG entry of an Eet archive (Enlightenment's .edj)."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from ganstream.training import sources
from ganstream.training.errors import DataError
from ganstream.training.fetch import EET_MAGIC, _photo_entries, eet_member


def _eet(entries: list[tuple[str, bytes, int]]) -> bytes:
    """A minimal Eet archive: header, directory, names, then each entry's data."""
    head = 12 + 24 * len(entries)
    names = b"".join(n.encode() + b"\0" for n, _, _ in entries)
    directory, name_at, data_at = b"", head, head + len(names)
    for name, data, flags in entries:
        directory += struct.pack(">6I", data_at, len(data), len(data), name_at, len(name) + 1, flags)
        name_at += len(name) + 1
        data_at += len(data)
    return struct.pack(">III", EET_MAGIC, len(entries), 0) + directory + names + b"".join(d for _, d, _ in entries)


def _jpeg(side: int, value: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((side, side, 3), value, np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 99])
    assert ok
    return buf.tobytes()


def test_eet_member_returns_the_named_entry(tmp_path: Path) -> None:
    big, small = _jpeg(64, 200), _jpeg(16, 40)
    path = tmp_path / "bg.edj"
    path.write_bytes(_eet([("edje/images/1", small, 0), ("edje/file", b"xx", 1), ("edje/images/0", big, 0)]))
    assert eet_member(path, "edje/images/0") == big
    assert eet_member(path, "edje/images/1") == small
    with pytest.raises(DataError, match="no entry"):
        eet_member(path, "edje/images/2")
    with pytest.raises(DataError, match="compressed"):
        eet_member(path, "edje/file")


def test_eet_member_refuses_what_is_not_an_eet_archive(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(_jpeg(8, 0))
    with pytest.raises(DataError, match="not an Eet archive"):
        eet_member(tmp_path / "a.jpg", "edje/images/0")
    (tmp_path / "cut.edj").write_bytes(struct.pack(">III", EET_MAGIC, 3, 0))
    with pytest.raises(DataError, match="truncated"):
        eet_member(tmp_path / "cut.edj", "edje/images/0")


def test_a_photo_inside_an_eet_archive_becomes_a_png(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / "pkg").mkdir(parents=True)
    (raw / "pkg" / "bg.edj").write_bytes(_eet([("edje/images/0", _jpeg(64, 200), 0)]))
    ph = sources.PhotoSource("pkg", "bg.edj", "BSD-2-Clause", name="e_bg", member="edje/images/0")
    (entry,) = _photo_entries(tmp_path, raw, [ph])
    assert entry.file == "photos/train/e_bg.png" and entry.source_path == "bg.edj#edje/images/0"
    img = cv2.imread(str(tmp_path / entry.file))
    assert img.shape == (32, 32, 3) and abs(int(img.mean()) - 200) <= 2
    with pytest.raises(DataError, match="missing"):
        _photo_entries(tmp_path, raw, [sources.PhotoSource("pkg", "gone.edj", "x", member="edje/images/0")])
