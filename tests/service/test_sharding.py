"""The sharding function: stable across processes, even, and minimal movement when N changes."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from ganstream.stream.errors import ConfigError
from ganstream.stream.sharding import Shard, ordinal_from_hostname, parse_shard, select, shard_of

NAMES = [f"cam-{i:03d}" for i in range(400)]


def test_pinned_values_never_change() -> None:
    # Replicas of different versions must agree: these values are part of the contract.
    assert [shard_of(n, 4) for n in ("gate", "lobby", "parking-1", "parking-2", "dock")] == [0, 2, 3, 0, 1]


def test_same_answer_in_another_process() -> None:
    code = "from ganstream.stream.sharding import shard_of; print([shard_of(f'cam-{i:03d}', 7) for i in range(50)])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "123"}
    )
    assert out.stdout.strip() == str([shard_of(n, 7) for n in NAMES[:50]])


def test_every_camera_has_exactly_one_shard_and_the_spread_is_even() -> None:
    counts = Counter(shard_of(n, 4) for n in NAMES)
    assert set(counts) == {0, 1, 2, 3}
    assert min(counts.values()) >= 70  # 100 expected each
    assert sorted(n for i in range(4) for n in select(NAMES, i, 4)) == sorted(NAMES)


def test_growing_moves_cameras_only_to_the_new_shard() -> None:
    before = {n: shard_of(n, 4) for n in NAMES}
    after = {n: shard_of(n, 5) for n in NAMES}
    moved = [n for n in NAMES if before[n] != after[n]]
    assert all(after[n] == 4 for n in moved)
    assert 40 <= len(moved) <= 120  # about 1/5 of 400


def test_parse_shard_and_hostname_ordinal() -> None:
    assert parse_shard("2/5") == Shard(2, 5)
    assert ordinal_from_hostname("ganstream-12") == 12
    with pytest.raises(ConfigError, match="INDEX/COUNT"):
        parse_shard("3")
    with pytest.raises(ConfigError, match="0 <= INDEX < COUNT"):
        parse_shard("5/5")
    with pytest.raises(ConfigError, match="NAME-ORDINAL"):
        ordinal_from_hostname("edgebox")
