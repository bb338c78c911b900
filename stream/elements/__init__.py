"""ganstream's stages as GStreamer elements: `ganstream_sr`, `ganstream_restore`, `ganstream_interpolate`.

Two ways to use them:

- any GStreamer application: ``export GST_PLUGIN_PATH=$(ganstream gst-plugin-path)`` (see
  ``ganstream gst-env``), then ``gst-launch-1.0 ... ! ganstream_sr model=sr2x ! ...``;
- inside a Python application: ``ganstream.stream.elements.register()``, after which
  ``Gst.parse_launch`` strings of that process find the elements.

Importing this package does not import GStreamer; `register()` and `element_classes()` do.
"""

from __future__ import annotations

from typing import Any

ELEMENT_NAMES = ("ganstream_sr", "ganstream_restore", "ganstream_interpolate")


def element_classes() -> dict[str, Any]:
    """Element name -> its GObject class (imports GStreamer)."""
    from ganstream.stream.elements.enhance import GanstreamRestore, GanstreamSr
    from ganstream.stream.elements.interpolate import GanstreamInterpolate

    return {
        "ganstream_sr": GanstreamSr,
        "ganstream_restore": GanstreamRestore,
        "ganstream_interpolate": GanstreamInterpolate,
    }


def register() -> list[str]:
    """Register every element in this process (idempotent); returns their names."""
    from ganstream.stream.errors import MissingDependencyError
    from ganstream.stream.gst import init

    Gst = init()
    for name, cls in element_classes().items():
        if not Gst.Element.register(None, name, Gst.Rank.NONE, cls):
            raise MissingDependencyError(f"cannot register GStreamer element {name!r} in this process")
    return list(ELEMENT_NAMES)
