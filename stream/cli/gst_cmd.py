"""`ganstream gst-plugin-path` and `ganstream gst-env`: use the elements from any GStreamer program.

export GST_PLUGIN_PATH=$(ganstream gst-plugin-path)
eval "$(ganstream gst-env)"      # GST_PLUGIN_PATH, PYTHONPATH and a private GST_REGISTRY
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "gst-plugin-path",
        help="print the folder to put on GST_PLUGIN_PATH for the ganstream_* elements",
        description="Print the GST_PLUGIN_PATH entry holding the ganstream_sr, ganstream_restore and "
        "ganstream_interpolate elements (GStreamer's Python plugin loader must be installed; "
        "`ganstream gst-env` prints the full environment it needs).",
    )
    p.set_defaults(func=plugin_path_cmd)
    e = sub.add_parser(
        "gst-env",
        help="print shell exports that make gst-launch-1.0 find the ganstream_* elements",
        description="Print the environment GStreamer's Python plugin loader needs to load the ganstream "
        "elements: GST_PLUGIN_PATH, PYTHONPATH (this installation's site-packages) and a private GST_REGISTRY. "
        'Use: eval "$(ganstream gst-env)".',
    )
    e.add_argument("--format", choices=("sh", "env"), default="sh", help="sh: export lines (default); env: K=V lines")
    e.set_defaults(func=env_cmd)


def plugin_path_cmd(_args: argparse.Namespace) -> int:
    from ganstream.stream.gst_plugins import plugin_path

    print(plugin_path())
    return 0


def env_cmd(args: argparse.Namespace) -> int:
    from ganstream.stream.gst_plugins import environment

    for key, value in environment().items():
        print(f"export {key}={shlex.quote(value)}" if args.format == "sh" else f"{key}={value}")
    return 0
