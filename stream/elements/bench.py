"""What the elements cost on top of their stage: ``python -m ganstream.stream.elements.bench``.

For each element: frames through `videotestsrc ! element ! fakesink` (the element, in a real
pipeline), the same frames through the stage alone (plain Python calls), and the pipeline with
`identity` instead (GStreamer's own cost). The element's overhead per frame is
element - stage - identity; ratios are against the stage alone, measured in the same run.
Each figure is the best of `--repeat` alternating runs (the machine may be shared).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ganstream.stream.elements import register
from ganstream.stream.elements.stage_builder import enhance_stage, interpolate_stage
from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.gst import init
from ganstream.stream.stages.interp_rules import SCENE_CUT_THRESHOLD

CASES = {
    "ganstream_sr model=nearest scale=2": lambda: enhance_stage("bench", "sr", "nearest", 2, "auto", "", 0),
    "ganstream_interpolate model=blend factor=2": lambda: interpolate_stage(
        "bench", "blend", 2, "", SCENE_CUT_THRESHOLD, "auto", ""
    ),
}


def _pipeline_seconds(element: str, width: int, height: int, frames: int) -> float:
    Gst = init()
    pipeline = Gst.parse_launch(
        f"videotestsrc num-buffers={frames} pattern=ball ! video/x-raw,format=RGB,width={width},height={height},"
        f"framerate=30/1 ! {element} ! fakesink sync=false"
    )
    start = time.perf_counter()
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(600 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    elapsed = time.perf_counter() - start
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS:
        raise RuntimeError(f"benchmark pipeline with {element} did not finish")
    return elapsed


def _source_frames(width: int, height: int, frames: int) -> list[np.ndarray]:
    """The very frames the pipelines see (same pattern, same order)."""
    from ganstream.stream.frameio import pixels_from_buffer, spec_from_caps

    Gst = init()
    pipeline = Gst.parse_launch(
        f"videotestsrc num-buffers={frames} pattern=ball ! video/x-raw,format=RGB,width={width},height={height},"
        "framerate=30/1 ! appsink name=out sync=false"
    )
    sink = pipeline.get_by_name("out")
    pipeline.set_state(Gst.State.PLAYING)
    out = []
    while (sample := sink.emit("try-pull-sample", 10 * Gst.SECOND)) is not None:
        spec, stride = spec_from_caps(sample.get_caps())
        out.append(pixels_from_buffer(sample.get_buffer(), spec, stride))
    pipeline.set_state(Gst.State.NULL)
    return out


def _stage_seconds(make_stage: object, pixels: list[np.ndarray]) -> float:
    stage = make_stage()  # type: ignore[operator]
    height, width = pixels[0].shape[:2]
    stage.configure(VideoSpec(width, height))
    start = time.perf_counter()
    for i, frame in enumerate(pixels):
        stage.process(Frame(frame, pts=i * 33_333_333, duration=33_333_333))
    elapsed = time.perf_counter() - start
    stage.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--sizes", default="640x360,1280x720")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    register()
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        n = args.frames
        pixels = _source_frames(width, height, n)
        best: dict[str, float] = {}
        for _ in range(args.repeat):  # alternate the variants so load changes hit all of them
            runs = {"identity": _pipeline_seconds("identity", width, height, n)}
            for element, make_stage in CASES.items():
                runs[element] = _pipeline_seconds(element, width, height, n)
                runs[f"stage:{element}"] = _stage_seconds(make_stage, pixels)
            best = {k: min(v, best.get(k, v)) for k, v in runs.items()}
        identity = best["identity"]
        print(f"{size}: identity pipeline {n / identity:.0f} fps")
        for element in CASES:
            elem, stage = best[element], best[f"stage:{element}"]
            overhead_ms = 1000 * (elem - stage - identity) / n
            print(
                f"{size}: {element}: element {n / elem:.0f} fps, stage alone {n / stage:.0f} fps "
                f"(element/stage time {elem / stage:.2f}x), element overhead {overhead_ms:.3f} ms/frame"
            )


if __name__ == "__main__":
    main()
