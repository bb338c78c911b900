"""GStreamer access in one place: version pinning, lazy init, element creation with clear errors."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import importlib
import itertools
import threading
from typing import Any

from ganstream.stream.errors import MissingDependencyError, PipelineError

# PyGObject's first import of a namespace (and its overrides) is not safe to run from two
# threads at once (several cameras start together), so imports and init happen under one lock.
_init_lock = threading.RLock()
_modules: tuple[Any, Any, Any, Any] | None = None


def _preload_libgcc_s() -> None:
    """Make libgcc_s's C++ unwinder global before GStreamer pulls in libunwind.

    libgstreamer links libunwind (for backtraces), which exports the same `_Unwind_*` symbols
    as libgcc_s. Loaded first, it captures them for every library loaded later, and C++
    exceptions thrown inside those (OpenVINO's plugins, for one) can no longer be caught: the
    process aborts. Loading libgcc_s globally first keeps the unwinder every C++ library expects.
    """
    name = ctypes.util.find_library("gcc_s")
    if name:
        with contextlib.suppress(OSError):
            ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)


def _import() -> tuple[Any, Any, Any, Any]:
    _preload_libgcc_s()
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstApp", "1.0")
        gi.require_version("GstVideo", "1.0")
        from gi.repository import GLib, Gst, GstApp, GstVideo
    except (ImportError, ValueError) as exc:
        raise MissingDependencyError(
            f"GStreamer Python bindings are not available ({exc}); run `make setup` "
            "(Debian packages gir1.2-gstreamer-1.0, python3-gst-1.0 and PyGObject in the venv)"
        ) from None
    return Gst, GstApp, GstVideo, GLib


def init() -> Any:
    """Initialise GStreamer once and return the `Gst` module."""
    return modules()[0]


def modules() -> tuple[Any, Any, Any, Any]:
    """(Gst, GstApp, GstVideo, GLib), initialised. Cheap after the first call: it runs per frame."""
    global _modules
    if _modules is None:
        with _init_lock:
            if _modules is None:
                mods = _import()
                mods[0].init(None)
                _modules = mods
    return _modules


def namespace(name: str, version: str = "1.0") -> Any:
    """Another GObject-introspection namespace (GstBase, GstPbutils, GstRtspServer), imported under
    the same lock as GStreamer itself; missing typelibs are one clear line."""
    init()
    with _init_lock:
        try:
            import gi

            gi.require_version(name, version)
            return importlib.import_module(f"gi.repository.{name}")
        except (ImportError, ValueError) as exc:
            raise MissingDependencyError(
                f"GStreamer's {name} bindings are not available ({exc}); run `make setup`"
            ) from None


def has_element(factory: str) -> bool:
    Gst = init()
    return Gst.ElementFactory.find(factory) is not None


def make(factory: str, name: str | None = None, **props: Any) -> Any:
    """Create an element, setting properties (underscores become dashes); a missing plugin is one clear line."""
    Gst = init()
    element = Gst.ElementFactory.make(factory, name)
    if element is None:
        raise MissingDependencyError(
            f"GStreamer element '{factory}' is not installed (run `make setup`, or install the "
            "gstreamer1.0-plugins-* package that provides it)"
        )
    for key, value in props.items():
        element.set_property(key.replace("_", "-"), value)
    return element


def parse_bin(description: str) -> Any:
    """A bin from a gst-launch fragment with ghost pads for its unlinked pads."""
    Gst = init()
    try:
        return Gst.parse_bin_from_description(description, True)
    except Exception as exc:  # GLib.Error: bad fragment or missing element
        raise PipelineError(f"cannot build GStreamer fragment '{description}': {exc}") from None


def link_many(*elements: Any) -> None:
    for a, b in itertools.pairwise(elements):
        if not a.link(b):
            raise PipelineError(f"cannot link {a.get_name()} -> {b.get_name()} (incompatible caps)")
