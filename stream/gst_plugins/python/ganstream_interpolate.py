"""GStreamer Python plugin module: the ganstream_interpolate element (frame interpolation).

Loaded by GStreamer's Python plugin loader from GST_PLUGIN_PATH (see `ganstream gst-env`).
The embedded interpreter does not read the .pth files of PYTHONPATH entries, and an editable
install of ganstream is found only through one, so those entries become site directories here.
"""

import os
import site

for _entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    if _entry and os.path.isdir(_entry):
        site.addsitedir(_entry)

from gi.repository import Gst  # noqa: E402

try:
    from ganstream.stream.elements.interpolate import GanstreamInterpolate
except ImportError as exc:  # the loader prints this; make its last line say what to do
    raise ImportError(
        f"GStreamer's Python loader cannot import ganstream ({exc}); set the environment with: "
        'eval "$(ganstream gst-env)"'
    ) from None

__gstelementfactory__ = ("ganstream_interpolate", Gst.Rank.NONE, GanstreamInterpolate)
