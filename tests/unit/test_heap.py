"""The heap settings: the trim after a reconnect and the kept pages of the frame path (glibc; harmless elsewhere)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from ganstream.stream import heap


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_trim_is_available_and_runs_on_glibc() -> None:
    assert heap._malloc_trim() is not None
    assert isinstance(heap.release_free_heap(), bool)


def test_the_users_own_malloc_settings_win() -> None:
    assert heap.user_set_malloc({"MALLOC_ARENA_MAX": "2"})
    assert heap.user_set_malloc({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"})
    assert not heap.user_set_malloc({"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F", "PATH": "/bin"})


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
@pytest.mark.parametrize(("env", "applied"), [({}, True), ({"MALLOC_ARENA_MAX": "4"}, False)])
def test_keep_freed_heap_applies_once_per_process_unless_the_user_tuned_malloc(
    env: dict[str, str], applied: bool
) -> None:
    # process-wide and irreversible: checked in a fresh interpreter
    code = "from ganstream.stream.heap import keep_freed_heap as k; print(k(), k())"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    out = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == [str(applied), str(applied)]
