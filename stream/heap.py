"""Hand freed heap memory back to the OS after a reconnect (glibc's malloc_trim; no-op elsewhere).

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


def release_free_heap() -> bool:
    """Return free heap pages in every arena to the OS; True when something was released."""
    trim = _malloc_trim()
    if trim is None:
        return False
    released = bool(trim(0))
    log.debug("malloc_trim: %s", "released memory" if released else "nothing to release")
    return released
