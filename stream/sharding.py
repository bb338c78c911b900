"""Which replica runs which camera: a stable hash of the camera name (rendezvous hashing).

Every replica reads the same config and keeps the cameras whose `shard_of(name, count)` is its
own index. Rendezvous (highest-random-weight) hashing gives each camera to the shard with the
highest sha256 score of ``"<shard>/<name>"``: the result never depends on the process (unlike
Python's salted ``hash``), spreads cameras evenly, and when the replica count changes from N to
N+1 only about 1/(N+1) of the cameras move, all of them onto the new shard.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from ganstream.stream.errors import ConfigError

_ORDINAL_RE = re.compile(r"-(\d+)$")


def _score(shard: int, name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{shard}/{name}".encode()).digest()[:8], "big")


def shard_of(name: str, count: int) -> int:
    """The shard (0..count-1) that owns camera `name`."""
    if count < 1:
        raise ConfigError(f"shard count must be >= 1, got {count}")
    return max(range(count), key=lambda shard: _score(shard, name))


def select(names: Iterable[str], index: int, count: int) -> list[str]:
    """The names (in their given order) that shard `index` of `count` owns."""
    return [n for n in names if shard_of(n, count) == index]


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ConfigError(f"shard must be INDEX/COUNT with 0 <= INDEX < COUNT, got {self.index}/{self.count}")

    def owns(self, name: str) -> bool:
        return shard_of(name, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """'2/5' -> Shard(2, 5); 'auto/5' takes the index from the host name's ordinal (pod 'ganstream-2')."""
    index_text, sep, count_text = text.partition("/")
    if not sep:
        raise ConfigError(f"shard must be INDEX/COUNT (e.g. 0/4) or auto/COUNT, got {text!r}")
    try:
        count = int(count_text)
        index = ordinal_from_hostname() if index_text == "auto" else int(index_text)
    except ValueError:
        raise ConfigError(f"shard must be INDEX/COUNT (e.g. 0/4) or auto/COUNT, got {text!r}") from None
    return Shard(index, count)


def ordinal_from_hostname(hostname: str | None = None) -> int:
    """The trailing ordinal of a StatefulSet pod's host name: 'ganstream-3' -> 3."""
    host = hostname or os.environ.get("HOSTNAME") or socket.gethostname()
    m = _ORDINAL_RE.search(host)
    if m is None:
        raise ConfigError(
            f"cannot take a shard index from host name {host!r} (expected NAME-ORDINAL, as in a StatefulSet)"
        )
    return int(m.group(1))
