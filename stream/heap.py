"""glibc heap settings for the frame path, and freed memory handed back after a reconnect.

**Kept, not returned, per frame** (`keep_freed_heap`). A frame's working arrays (decoded frames,
flows, sampling maps, warped and fused frames: 1-3 MB each at 640x360) are freed and allocated
again every frame. With glibc's defaults the freed top of the heap goes back to the OS whenever
more than about twice the largest recent block is free, and the next frame faults those pages in
again: up to 2,800 page faults per interpolated frame beside a decoding source (how many varies
from run to run with which thread's arena frees what), each several microseconds under a
hypervisor. Raising the trim and mmap thresholds keeps the pages in the
process: the faults go (2 to 7 per frame), peak RSS stays the same, and `flow` ran 1.27x and
1.47x faster in two runs (`flow-refined`, which faults less, 0.85x to 1.19x over five; `python -m
ganstream.stream.bench_heap`, docs/benchmarks.md). The `ganstream` command sets it at
start; Python API users call it once; a user's own ``MALLOC_*`` environment or glibc malloc
tunables win.

**Handed back after a reconnect** (`release_free_heap`).

Each reconnect starts new GStreamer streaming threads; glibc gives new threads arenas of their
own and keeps the freed pages of the old connection's buffers in them, so RSS steps up after
early reconnects although nothing is leaked. Trimming once per reconnect (a few ms, never on the
frame path) returns those pages, which keeps RSS a truthful figure for monitoring.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
from collections.abc import Callable

log = logging.getLogger(__name__)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return None
    return trim


# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Freed memory is trimmed only above this much at the heap's top; blocks below the mmap threshold
# come from the heap (glibc's upper bound for it is 32 MiB on 64-bit). Every frame size the
# runtime handles keeps its arrays below it.
KEPT_TRIM_BYTES = 256 << 20
KEPT_MMAP_BYTES = 32 << 20


@functools.cache
def _mallopt() -> Callable[[int, int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        fn: Callable[[int, int], int] = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc
        return None
    return fn


def user_set_malloc(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """True when the environment already tunes glibc's malloc (then it is left alone)."""
    return any(k.startswith("MALLOC_") for k in environ) or "glibc.malloc." in environ.get("GLIBC_TUNABLES", "")


def keep_freed_heap() -> bool:
    """Keep freed heap pages in the process instead of returning them at once (see above).

    Process-wide and idempotent; True when the settings were applied (glibc, and no ``MALLOC_*``
    environment or malloc tunable of the user's)."""
    mallopt = _mallopt()
    if mallopt is None or user_set_malloc():
        return False
    # mallopt returns 1 on success; a fixed threshold also stops glibc's own adjustment of both.
    applied = bool(mallopt(M_MMAP_THRESHOLD, KEPT_MMAP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, KEPT_TRIM_BYTES))
    log.debug("heap: freed pages kept below %d MiB: %s", KEPT_TRIM_BYTES >> 20, applied)
    return applied


def release_free_heap() -> bool:
    """Return free heap pages in every arena to the OS; True when something was released."""
    trim = _malloc_trim()
    if trim is None:
        return False
    released = bool(trim(0))
    log.debug("malloc_trim: %s", "released memory" if released else "nothing to release")
    return released
