"""Files inside a Qt binary resource archive (``.rcc``), read without Qt.

GCompris ships its activities' photographs as WebP entries of such archives. Layout (Qt's
rcc.cpp, all integers big-endian): ``qres``, format version, then the offsets of the node tree,
the data block and the name block (version 3 adds a flags word). Each tree node is 14 bytes
(22 from version 2 on, with a modification time): name offset (u32), flags (u16), then for a
directory the child count and the index of its first child (u32, u32), for a file a locale (two
u16) and its data offset (u32). A name is its length in UTF-16 units (u16), a hash (u32) and the
UTF-16BE text. A file's data is its size (u32) and its bytes; zlib-compressed entries begin with
the uncompressed size (u32, qCompress' format). Node 0 is the root directory.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from ganstream.training.errors import DataError

RCC_MAGIC = b"qres"
_COMPRESSED, _DIRECTORY, _COMPRESSED_ZSTD = 0x1, 0x2, 0x4


class _Archive:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.buf = path.read_bytes()
        if self.buf[:4] != RCC_MAGIC:
            raise DataError(f"data fetch: {path} is not a Qt resource archive")
        version, self.tree, self.data, self.names = struct.unpack_from(">4I", self.buf, 4)
        if not 1 <= version <= 3:
            raise DataError(f"data fetch: {path}: Qt resource format version {version} is not supported")
        self.node_size = 14 if version == 1 else 22

    def _node(self, index: int) -> tuple[int, int, int, int]:
        """(name offset, flags, a, b): a, b are child count and first child, or locale and data offset."""
        at = self.tree + index * self.node_size
        name_at, flags = struct.unpack_from(">IH", self.buf, at)
        if flags & _DIRECTORY:
            count, first = struct.unpack_from(">II", self.buf, at + 6)
            return name_at, flags, count, first
        (data_at,) = struct.unpack_from(">I", self.buf, at + 10)
        return name_at, flags, 0, data_at

    def _name(self, offset: int) -> str:
        at = self.names + offset
        (length,) = struct.unpack_from(">H", self.buf, at)
        return self.buf[at + 6 : at + 6 + 2 * length].decode("utf-16-be")

    def member(self, name: str) -> bytes:
        index = 0
        for part in [p for p in name.split("/") if p]:
            _, flags, count, first = self._node(index)
            if not flags & _DIRECTORY:
                raise DataError(f"data fetch: {self.path} has no entry {name!r}")
            found = [c for c in range(first, first + count) if self._name(self._node(c)[0]) == part]
            if not found:
                raise DataError(f"data fetch: {self.path} has no entry {name!r}")
            index = found[0]
        _, flags, _, data_at = self._node(index)
        if flags & _DIRECTORY:
            raise DataError(f"data fetch: {name!r} in {self.path} is a folder")
        if flags & _COMPRESSED_ZSTD:
            raise DataError(f"data fetch: entry {name!r} of {self.path} is zstd-compressed (not supported)")
        at = self.data + data_at
        (size,) = struct.unpack_from(">I", self.buf, at)
        raw = self.buf[at + 4 : at + 4 + size]
        if len(raw) != size:
            raise DataError(f"data fetch: entry {name!r} of {self.path} is truncated")
        if flags & _COMPRESSED:
            try:
                return zlib.decompress(raw[4:])
            except zlib.error as exc:
                raise DataError(f"data fetch: entry {name!r} of {self.path} does not decompress: {exc}") from None
        return raw


def rcc_member(path: Path, name: str) -> bytes:
    """The bytes of file ``name`` (a /-separated path) in the Qt resource archive ``path``."""
    try:
        return _Archive(path).member(name)
    except struct.error:
        raise DataError(f"data fetch: {path} is a truncated Qt resource archive") from None
