"""What each SR preset costs per frame on this machine, before any training (random weights).

Which network to train is a choice between quality and time, and the time depends on the CPU:
on an Intel Xeon with AMX a 64-feature body at half resolution (`wide`) runs faster than
`tiny`'s 32 features at full resolution with the same arithmetic, because AMX works on tiles
of 16+ channels. This measures it through the runtime's own engine (OpenVINO, the graph cut
and the host edges as `ganstream run` runs them), every preset in turn, round after round, so
a busy machine slows them alike, and prints each against `wide` (the shipped `sr2x`'s).

    python -m ganstream.training.preset_speed --presets tiny,wide,wide4 --precision bf16
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganstream.training.presets import SR_PRESETS, generator_arch

SIZE = (180, 320)  # input (h, w): the size the speed targets are set at
REFERENCE = "wide"


@dataclass(frozen=True)
class PresetSpeed:
    preset: str
    params: int
    ms: float
    round_ms: tuple[float, ...]


def measure_presets(
    presets: list[str], precision: str = "bf16", rounds: int = 5, iters: int = 10, threads: int | None = None
) -> list[PresetSpeed]:
    """Median ms per 320x180 frame of each preset at `precision`, in interleaved rounds."""
    from ganstream.engines import load_engine
    from ganstream.engines.archs import build_generator
    from ganstream.engines.devmodel import make_random_model

    unknown = [p for p in presets if p not in SR_PRESETS]
    if unknown:
        raise SystemExit(f"preset_speed: unknown preset(s) {', '.join(unknown)}; known: {', '.join(SR_PRESETS)}")
    frame = np.random.default_rng(0).integers(0, 256, (1, *SIZE, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory(prefix="preset-speed-") as tmp:
        engines, params = {}, {}
        for p in presets:
            arch = generator_arch("sr", p, 2)
            make_random_model(Path(tmp) / p, name=f"{p}-sr2x", arch=arch)
            opts = {"threads": threads} if threads else {}
            engines[p] = load_engine(Path(tmp) / p, backend="openvino", precision=precision, **opts)
            engines[p].infer(frame)  # compiles: not timed
            params[p] = sum(w.numel() for w in build_generator(arch).parameters())
        times: dict[str, list[float]] = {p: [] for p in presets}
        for _ in range(rounds):
            for p, engine in engines.items():
                t0 = time.perf_counter()
                for _ in range(iters):
                    engine.infer(frame)
                times[p].append(1000 * (time.perf_counter() - t0) / iters)
        for engine in engines.values():
            engine.close()
    return [PresetSpeed(p, params[p], statistics.median(times[p]), tuple(times[p])) for p in presets]


def format_speeds(rows: list[PresetSpeed], precision: str) -> str:
    ref = next((r.ms for r in rows if r.preset == REFERENCE), None)
    lines = [
        f"SR x2 presets, random weights, OpenVINO {precision}, {SIZE[1]}x{SIZE[0]} in, median of interleaved rounds:",
        "| preset | weights | ms/frame | rounds, lowest - highest | against wide |",
        "| --- | ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        rel = f"{r.ms / ref:.2f}x" if ref else "-"
        spread = f"{min(r.round_ms):.1f} - {max(r.round_ms):.1f}"
        lines.append(f"| {r.preset} | {r.params / 1000:.0f}k | {r.ms:.1f} | {spread} | {rel} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ganstream.training.preset_speed", description=__doc__.split("\n")[0])
    ap.add_argument("--presets", default=",".join(SR_PRESETS), help="comma list of SR presets")
    ap.add_argument("--precision", default="bf16", choices=("fp32", "bf16"), help="OpenVINO precision")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=10, help="frames per round and preset")
    ap.add_argument("--threads", type=int, default=0, help="OpenVINO threads (0: the engine's default)")
    args = ap.parse_args(argv)
    if args.precision == "bf16":
        from ganstream.engines.backends.openvino_engine import cpu_supports_bf16

        if not cpu_supports_bf16():
            raise SystemExit("preset_speed: this CPU has no bf16; use --precision fp32")
    presets = [p for p in args.presets.split(",") if p]
    rows = measure_presets(presets, args.precision, args.rounds, args.iters, args.threads or None)
    print(format_speeds(rows, args.precision))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
