#!/usr/bin/env bash
# PyGObject built from PyPI lacks GStreamer's Python overrides (Gst.Fraction, buffer mapping
# helpers). Debian's python3-gst-1.0 ships them; link them into the virtual environment.
set -euo pipefail
VENV=${1:?usage: link_gst_overrides.sh VENV}
SRC=/usr/lib/python3/dist-packages/gi/overrides
DST=$("$VENV/bin/python" -c 'import gi, os; print(os.path.join(os.path.dirname(gi.__file__), "overrides"))')
SUFFIX=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
for f in "$SRC"/Gst*.py; do ln -sf "$f" "$DST/"; done
# The compiled helper only loads into the same Python ABI it was built for.
for f in "$SRC"/_gi_gst*"$SUFFIX"; do [ -e "$f" ] && ln -sf "$f" "$DST/"; done
"$VENV/bin/python" -c 'import gi; gi.require_version("Gst", "1.0"); from gi.repository import Gst; Gst.init(None); Gst.Fraction(1, 1)'
