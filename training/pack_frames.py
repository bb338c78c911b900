"""Numbered still frames packed into one lossless video file, so clip readers need no second path.

Some packages ship camera sequences as numbered images (``image.0001.pgm`` ...) rather than a
video. ``data fetch`` packs each such sequence once, with FFV1 (lossless, grey or colour kept as
they are), into the file the clip's entry names; OpenCV and ffmpeg then read it like any clip.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from ganstream.training.errors import DataError, ToolError

_PATTERN = re.compile(r"%0(\d)d")


def numbered_frames(pattern: Path) -> list[tuple[int, Path]]:
    """The files matching a printf pattern such as ``dir/image.%04d.pgm``, by number."""
    m = _PATTERN.search(pattern.name)
    if m is None:
        raise DataError(f"{pattern}: a frame pattern needs one %0Nd field")
    digits = int(m.group(1))
    head, tail = pattern.name[: m.start()], pattern.name[m.end() :]
    found = []
    for f in pattern.parent.glob(f"{head}{'[0-9]' * digits}{tail}"):
        found.append((int(f.name[len(head) : len(head) + digits]), f))
    return sorted(found)


def pack_frames(pattern: Path, dest: Path, fps: int = 25) -> Path:
    """Write the numbered frames of ``pattern`` into ``dest`` (FFV1); a finished ``dest`` is kept.

    The numbers must run without gaps: a missing frame would silently double the motion there.
    """
    if dest.is_file():
        return dest
    frames = numbered_frames(pattern)
    if len(frames) < 3:
        raise DataError(f"data fetch: {pattern} matches {len(frames)} frames (at least 3 needed)")
    first, last = frames[0][0], frames[-1][0]
    if last - first + 1 != len(frames):
        raise DataError(f"data fetch: {pattern} has gaps ({len(frames)} frames numbered {first} to {last})")
    part = dest.with_name(dest.name + ".part.mkv")  # written whole, then renamed: never a cut file
    cmd = ["ffmpeg", "-v", "error", "-y", "-framerate", str(fps), "-start_number", str(first)]
    cmd += ["-i", str(pattern), "-c:v", "ffv1", "-level", "3", str(part)]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise ToolError("data fetch: ffmpeg is needed to pack frame sequences (apt-get install ffmpeg)") from e
    except subprocess.CalledProcessError as e:
        part.unlink(missing_ok=True)
        raise ToolError(f"data fetch: ffmpeg could not pack {pattern}: {e.stderr.strip()[-300:]}") from e
    part.replace(dest)
    return dest
