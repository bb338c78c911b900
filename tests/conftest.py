"""Test-wide settings."""

from __future__ import annotations

import os
import tempfile

# Keep a user's own models (XDG data home, $GANSTREAM_MODELS) out of the tests' model store.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="ganstream-test-xdg-")
os.environ.pop("GANSTREAM_MODELS", None)
# Precision choices measured during the tests stay out of the user's cache (and start empty).
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="ganstream-test-cache-")
