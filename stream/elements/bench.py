"""What the elements cost on top of their stage: ``python -m ganstream.stream.elements.bench``.

Frames from `videotestsrc` run through each element in a real pipeline to `fakesink`. The
element records, per buffer, its whole work and the time inside its stage (`ElementTiming`);
the difference is what the GStreamer adapter costs (buffer mapping, views, the output copy).
The same pipeline with `identity` instead gives GStreamer's own frame rate for comparison.
Each figure is the best of `--repeat` alternating runs (the machine may be shared).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from ganstream.stream.elements import register
from ganstream.stream.gst import init


def _run(element: str, width: int, height: int, frames: int) -> tuple[float, Any]:
    """(seconds, the element's timing or None for identity)."""
    Gst = init()
    pipeline = Gst.parse_launch(
        f"videotestsrc num-buffers={frames} pattern=ball ! video/x-raw,format=RGB,width={width},height={height},"
        f"framerate=30/1 ! {element} name=under-test ! fakesink sync=false"
    )
    start = time.perf_counter()
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(600 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    elapsed = time.perf_counter() - start
    timing = getattr(pipeline.get_by_name("under-test"), "timing", None)
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS:
        raise RuntimeError(f"benchmark pipeline with {element} did not finish")
    return elapsed, timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--sizes", default="640x360,1280x720")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    register()
    elements = ("ganstream_sr model=nearest scale=2", "ganstream_interpolate model=blend factor=2")
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        n = args.frames
        best: dict[str, tuple[float, Any]] = {}
        for _ in range(args.repeat):  # alternate the variants so load changes hit all of them
            for element in ("identity", *elements):
                seconds, timing = _run(element, width, height, n)
                if element not in best or seconds < best[element][0]:
                    best[element] = (seconds, timing)
        identity = best["identity"][0]
        print(f"{size}: identity {n / identity:.0f} fps")
        for element in elements:
            seconds, timing = best[element]
            print(
                f"{size}: {element}: {n / seconds:.0f} fps ({identity / seconds:.2f}x identity's rate); "
                f"per frame: stage {timing.stage_ms:.3f} ms, element's own work {timing.own_ms:.3f} ms "
                f"({timing.own_ms / max(timing.stage_ms, 1e-9):.2f}x the stage)"
            )


if __name__ == "__main__":
    main()
