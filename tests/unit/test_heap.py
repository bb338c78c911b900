"""The heap trim after a reconnect: found on glibc, harmless to call."""

from __future__ import annotations

import platform

import pytest

from ganstream.stream import heap


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_trim_is_available_and_runs_on_glibc() -> None:
    assert heap._malloc_trim() is not None
    assert isinstance(heap.release_free_heap(), bool)
