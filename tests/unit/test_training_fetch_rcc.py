"""Photos inside Qt resource archives (GCompris' .rcc files), read without Qt."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from ganstream.training import sources
from ganstream.training.errors import DataError
from ganstream.training.fetch import _photo_entries
from ganstream.training.qt_resources import rcc_member


def build_rcc(path: Path, files: dict[str, bytes], compressed: frozenset[str] = frozenset(), version: int = 2) -> None:
    """A resource archive holding `files` ("dir/sub/name" -> bytes) as Qt's rcc writes it."""
    names, data = bytearray(), bytearray()
    name_at: dict[str, int] = {}

    def name_offset(name: str) -> int:
        if name not in name_at:
            name_at[name] = len(names)
            names.extend(struct.pack(">HI", len(name), 0) + name.encode("utf-16-be"))
        return name_at[name]

    tree: dict[str, Any] = {}
    for full, content in files.items():
        *dirs, leaf = full.split("/")
        node = tree
        for d in dirs:
            node = node.setdefault(d, {})
        node[leaf] = content
    nodes: list[bytes] = []
    size = 14 if version == 1 else 22
    pad = b"" if version == 1 else b"\0" * 8

    def emit(children: dict[str, Any], prefix: str) -> None:
        # a directory's children are contiguous: reserve them, then fill in their subtrees
        first = len(nodes)
        nodes.extend([b""] * len(children))
        for i, (name, child) in enumerate(children.items()):
            if isinstance(child, dict):
                index = len(nodes)
                nodes[first + i] = struct.pack(">IHII", name_offset(name), 2, len(child), index) + pad
                emit(child, prefix + name + "/")
            else:
                flags, blob = 0, child
                if prefix + name in compressed:
                    flags, blob = 1, struct.pack(">I", len(child)) + zlib.compress(child)
                nodes[first + i] = struct.pack(">IHHHI", name_offset(name), flags, 0, 0, len(data)) + pad
                data.extend(struct.pack(">I", len(blob)) + blob)

    nodes.append(struct.pack(">IHII", 0, 2, len(tree), 1) + pad)  # the root
    emit(tree, "")
    assert all(len(n) == size for n in nodes)
    header = 20 if version < 3 else 24
    tree_at = header
    data_at = tree_at + size * len(nodes)
    names_at = data_at + len(data)
    head = b"qres" + struct.pack(">4I", version, tree_at, data_at, names_at)
    if version >= 3:
        head += struct.pack(">I", 0)
    path.write_bytes(head + b"".join(nodes) + bytes(data) + bytes(names))


@pytest.mark.parametrize("version", [1, 2, 3])
def test_rcc_member_finds_nested_and_compressed_entries(tmp_path: Path, version: int) -> None:
    path = tmp_path / "a.rcc"
    files = {"gcompris/src/a/one.webp": b"\x01" * 300, "gcompris/src/a/two.bin": b"hello" * 50, "top.txt": b"x"}
    build_rcc(path, files, compressed=frozenset({"gcompris/src/a/two.bin"}), version=version)
    for name, content in files.items():
        assert rcc_member(path, name) == content
    assert rcc_member(path, "/top.txt") == b"x"  # a leading slash is the root


def test_rcc_member_errors_name_the_archive(tmp_path: Path) -> None:
    path = tmp_path / "a.rcc"
    build_rcc(path, {"d/f.webp": b"abc"})
    with pytest.raises(DataError, match="no entry"):
        rcc_member(path, "d/g.webp")
    with pytest.raises(DataError, match="folder"):
        rcc_member(path, "d")
    (tmp_path / "x.rcc").write_bytes(b"not an archive")
    with pytest.raises(DataError, match="not a Qt resource archive"):
        rcc_member(tmp_path / "x.rcc", "d/f.webp")
    (tmp_path / "cut.rcc").write_bytes(path.read_bytes()[:30])
    with pytest.raises(DataError, match=r"a\.rcc|cut\.rcc"):
        rcc_member(tmp_path / "cut.rcc", "d/f.webp")


def test_a_webp_inside_an_rcc_becomes_a_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), (5, 5), 0)
    ok, webp = cv2.imencode(".webp", img, [cv2.IMWRITE_WEBP_QUALITY, 101])  # 101: lossless
    assert ok
    raw = tmp_path / "raw" / sources.GCOMPRIS_PACKAGE / sources.RCC_DIR
    raw.mkdir(parents=True)
    build_rcc(raw / "erase.rcc", {sources.ENTRY_PREFIX + "erase/resource/cat.webp": webp.tobytes()}, version=3)
    photo = sources._gcompris("erase/resource/cat.webp", "CC0-1.0", "someone", "https://example.org/cat")
    (entry,) = _photo_entries(tmp_path / "out", tmp_path / "raw", [photo])
    assert entry.group == "gc_erase_cat" and entry.split == "train"
    assert "CC0-1.0 (someone, https://example.org/cat" in entry.licence
    assert entry.source_path.endswith("erase.rcc#gcompris/src/activities/erase/resource/cat.webp")
    png = cv2.imread(str(tmp_path / "out" / entry.file))
    assert png.shape == (60, 80, 3)  # photos are downscaled by 2


def test_every_gcompris_photo_has_a_credit_and_a_unique_name() -> None:
    rows = [p for p in sources.PHOTOS if p.package == sources.GCOMPRIS_PACKAGE]
    assert len(rows) == len(sources.GCOMPRIS_PHOTOS) == 120
    groups = [p.name or Path(p.path).stem for p in sources.PHOTOS]  # the fetch's group names
    assert len(set(groups)) == len(groups)
    assert all(p.split == "train" and ("commons.wikimedia.org" in p.licence or "flickr.com" in p.licence) for p in rows)
