"""The folder to put on GST_PLUGIN_PATH, and the environment GStreamer's Python loader needs.

GStreamer's Python plugin loader (Debian: gstreamer1.0-python3-plugin-loader) embeds the
system's libpython and imports every module in the ``python/`` sub-folder of each
GST_PLUGIN_PATH entry. To import ganstream it must see this installation's site-packages on
PYTHONPATH (the plugin module treats those entries as site directories, so the .pth files of
an editable install apply). A scan without that PYTHONPATH caches the plugin with no elements,
so the environment also names a private registry file.
"""

from __future__ import annotations

import hashlib
import os
import site
import sys
import sysconfig
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parent


def plugin_path() -> Path:
    """The GST_PLUGIN_PATH entry whose ``python/`` folder holds the element modules."""
    return PLUGIN_DIR


def site_packages() -> list[str]:
    """This interpreter's site-packages (a virtual environment's when run from one)."""
    paths = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    if sys.prefix == sys.base_prefix:  # not a venv: the user site may hold the install too
        paths.append(site.getusersitepackages())
    return list(dict.fromkeys(p for p in paths if Path(p).is_dir()))


def registry_file() -> Path:
    """A registry cache of our own, so a scan made without our PYTHONPATH never sticks."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    tag = f"{sys.implementation.cache_tag}-{hashlib.sha256(sys.prefix.encode()).hexdigest()[:10]}"
    return cache / "ganstream" / f"gst-registry-{tag}.bin"


def environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The variables to add to `base` (default: os.environ) so GStreamer finds the elements."""
    env = dict(os.environ if base is None else base)

    def prepend(key: str, entries: list[str]) -> str:
        old = [p for p in env.get(key, "").split(os.pathsep) if p and p not in entries]
        return os.pathsep.join([*entries, *old])

    return {
        "GST_PLUGIN_PATH": prepend("GST_PLUGIN_PATH", [str(plugin_path())]),
        "PYTHONPATH": prepend("PYTHONPATH", site_packages()),
        "GST_REGISTRY": str(registry_file()),
    }
