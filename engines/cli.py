"""`ganstream engines ...`: list, show, build, bench and check models and engines."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ganstream.engines.card import ModelCard

SHAPE_RE = re.compile(r"^(\d+)x(\d+)$")


def parse_shape(text: str) -> tuple[int, int]:
    """'1280x720' (width x height) -> (720, 1280) as (height, width)."""
    m = SHAPE_RE.match(text.strip().lower())
    if not m:
        raise argparse.ArgumentTypeError(f"shape must be WIDTHxHEIGHT like 1280x720, got {text!r}")
    return int(m.group(2)), int(m.group(1))


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("engines", help="installed models and built engines: list, show, build, bench, check")
    sub = p.add_subparsers(dest="engines_command", metavar="ACTION")
    sub.required = True

    ls = sub.add_parser("list", help="installed models and built TensorRT plans, with their cards")
    ls.set_defaults(func=cmd_list)

    show = sub.add_parser("show", help="one model's card: task, scale, window, I/O, precision, sha256, metrics")
    show.add_argument("name", help="model name or folder")
    show.add_argument("--json", action="store_true", help="print the card as JSON")
    show.set_defaults(func=cmd_show)

    build = sub.add_parser("build", help="build a TensorRT plan (GPU) or the NNCF int8 graph (CPU)")
    build.add_argument("name", help="model name or folder")
    build.add_argument("--precision", choices=["fp32", "fp16", "bf16", "int8"], default="fp16")
    build.add_argument("--shape", type=parse_shape, action="append", default=[], help="input WxH (repeatable)")
    build.add_argument("--batch", type=int, default=1, help="largest batch the plan accepts")
    build.add_argument("--calib", type=Path, help="clip or image folder for int8 calibration (default: sample clip)")
    build.add_argument("--frames", type=int, default=64, help="calibration frames to read")
    build.add_argument("--target", choices=["auto", "trt", "openvino"], default="auto", help="what to build for")
    build.set_defaults(func=cmd_build)

    bench = sub.add_parser("bench", help="ms/frame of backends and precisions, side by side")
    bench.add_argument("name", help="model name or folder")
    bench.add_argument("--backend", default="cpu", help="cpu (every CPU backend), gpu, openvino, ort, torch or trt")
    bench.add_argument("--precision", help="only this precision")
    bench.add_argument("--shape", type=parse_shape, default=(180, 320), help="input WxH (default 320x180)")
    bench.add_argument("--batch", type=int, default=1)
    bench.add_argument("--iters", type=int, default=20)
    bench.add_argument("--clip", type=Path, help="real frames for the PSNR column (default: sample clip)")
    bench.add_argument(
        "--threads", type=int,
        help="threads per CPU backend (default: every CPU; 1 compares graphs fairly beside other work)",
    )  # fmt: skip
    bench.add_argument(
        "--prelu-ablation", action="store_true", help="also run OpenVINO with PReLU slopes as exported (cpu only)"
    )
    bench.add_argument(
        "--edges-ablation",
        action="store_true",
        help="also run reduced-precision OpenVINO with its graph uncut: skip and rounding at the body's precision",
    )
    bench.set_defaults(func=cmd_bench)

    check = sub.add_parser("check", help="run every available backend on random frames against the fp32 reference")
    check.add_argument("name", help="model name or folder")
    check.add_argument("--shape", type=parse_shape, default=(64, 96), help="input WxH (default 96x64)")
    check.add_argument("--batch", type=int, default=2)
    check.set_defaults(func=cmd_check)

    triton = sub.add_parser("export-triton", help="write a Triton Inference Server model repository entry")
    triton.add_argument("name", help="model name or folder")
    triton.add_argument("--repo", type=Path, required=True, help="the model repository folder")
    triton.add_argument("--version", type=int, default=1, help="model version folder (default 1)")
    triton.add_argument("--max-batch", type=int, default=8, help="max_batch_size for dynamic batching")
    triton.add_argument("--queue-delay-us", type=int, default=2000, help="dynamic batching max queue delay")
    triton.add_argument("--cpu", action="store_true", help="instance_group KIND_CPU instead of KIND_GPU")
    triton.set_defaults(func=cmd_export_triton)


def _formats(artifacts: dict[str, str]) -> str:
    kinds = []
    for fname in artifacts:
        kinds.append("int8" if fname.endswith(".int8.onnx") else fname.rsplit(".", 1)[-1])
    return ",".join(sorted(kinds))


def cmd_list(args: argparse.Namespace) -> int:
    from ganstream.engines import plan_cache
    from ganstream.engines.card import CARD_FILENAME, ModelCard
    from ganstream.engines.errors import ModelCardError
    from ganstream.engines.store import list_models, search_path

    models = list_models()
    # columns as wide as their longest entry plus two spaces, so no name runs into the next column
    nw = max([len("MODEL"), *(len(m.name) for m in models)]) + 2
    aw = max([len("ARTIFACTS"), *(len(_formats(m.card.artifacts)) for m in models if m.card)]) + 2
    print(f"{'MODEL':<{nw}}{'TASK':<9}{'SCALE':<7}{'PREC':<6}{'ARTIFACTS':<{aw}}FOLDER")
    for m in models:
        if m.card is None:
            print(f"{m.name:<{nw}}unreadable card: {m.problem}")
            continue
        c = m.card
        fmt = _formats(c.artifacts)
        print(f"{m.name:<{nw}}{c.task:<9}{'x' + str(c.scale):<7}{c.precision:<6}{fmt:<{aw}}{m.folder}")
    if not models:
        print("(no models installed; searched " + ", ".join(str(p) for p in search_path()) + ")")
    root = plan_cache.cache_root()
    plans = sorted(root.glob(f"*/{CARD_FILENAME}")) if root.is_dir() else []
    print(f"\nBuilt TensorRT plans in {root}:" if plans else f"\nNo built TensorRT plans in {root}")
    for card_file in plans:
        try:
            pc = ModelCard.load(card_file.parent)
        except ModelCardError as exc:
            print(f"  {card_file.parent.name}: {exc}")
            continue
        b = pc.build
        shapes = " ".join(f"{w}x{h}" for h, w in b.get("shapes", []))
        print(
            f"  {pc.name:<14}{pc.precision:<6}{shapes:<22}batch<={b.get('max_batch', 1):<4}"
            f"TensorRT {b.get('tensorrt_version')} on {b.get('gpu_name')}"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from ganstream.engines.card import ModelCard
    from ganstream.engines.store import resolve_model

    folder = resolve_model(args.name)
    card = ModelCard.load(folder)
    if args.json:
        print(json.dumps(card.to_dict(), indent=2, sort_keys=True))
        return 0
    lim = card.limits
    print(f"{card.name}: {card.description}".rstrip(": "))
    print(f"  folder     {folder}")
    print(f"  task       {card.task}, scale x{card.scale}, window {card.window}")
    if card.recurrent:
        flow = card.recurrent.get("flow", {})
        k = card.recurrent.get("neighbours", 0)
        print(
            f"  recurrent  previous output fed back as '{card.recurrent.get('state_input', 'previous')}', "
            f"aligned by DIS {flow.get('preset', 'ultrafast')} flow"
            + (f", with {k} previous input frame(s)" if k else "")
            + " (docs/temporal.md)"
        )
    ins = ", ".join(f"{t.name} {t.dtype}{list(t.shape)}" for t in card.inputs)
    outs = ", ".join(f"{t.name} {t.dtype}{list(t.shape)}" for t in card.outputs)
    print(f"  inputs     {ins}  ({card.layout} {card.color})")
    print(f"  outputs    {outs}")
    sizes = f"{lim.min_width}x{lim.min_height}..{lim.max_width}x{lim.max_height}"
    print(f"  limits     {sizes}, multiple of {lim.multiple_of}")
    print(f"  precision  {card.precision} (as exported)")
    print(f"  here       {_precision_here(card, folder)}")
    for fname, digest in sorted(card.artifacts.items()):
        print(f"  sha256     {digest}  {fname}")
    if card.arch:
        print(f"  arch       {json.dumps(card.arch, sort_keys=True)}")
    if card.build:
        print(f"  build      {json.dumps(card.build, sort_keys=True)}")
    for key, value in sorted(card.metrics.items()):
        print(f"  metric     {key}: {json.dumps(value, sort_keys=True)}")
    if card.training:
        print(f"  training   {json.dumps(card.training, sort_keys=True)}")
    return 0


def _precision_here(card: ModelCard, folder: Path) -> str:
    """The CPU precision this machine runs the model at by default, and why (measured once, cached)."""
    from ganstream.engines.loader import backend_unavailable_reason

    if backend_unavailable_reason("openvino", card, folder, {"device": "cpu"}) is not None:
        return "no OpenVINO run for this model here"
    from ganstream.engines.backends.openvino_engine import precision_choice

    choice = precision_choice(card, folder)
    return f"openvino {choice.precision}: {choice.reason}" + (" (cached)" if choice.cached else "")


def cmd_build(args: argparse.Namespace) -> int:
    import importlib.util

    from ganstream.engines.calib import default_clip, read_frames
    from ganstream.engines.card import ModelCard
    from ganstream.engines.errors import EngineError
    from ganstream.engines.store import resolve_model

    folder = resolve_model(args.name)
    card = ModelCard.load(folder)
    target = args.target
    if target == "auto":
        target = "trt" if importlib.util.find_spec("tensorrt") else "openvino"
    clip = args.calib or default_clip()
    if target == "openvino":
        if args.precision != "int8":
            print(
                f"nothing to build: openvino runs fp32/bf16 straight from the ONNX graph; the CPU build is "
                f"--precision int8, and {args.precision} TensorRT plans need TensorRT (not installed here)"
            )
            return 0
        if clip is None:
            raise EngineError("int8 calibration needs real frames: pass --calib CLIP_OR_IMAGE_FOLDER")
        from ganstream.engines.quantize import build_int8

        frames = read_frames(clip, count=args.frames)
        calib, validation = frames[0::2], frames[1::2]  # calibrate and validate on different frames
        out = build_int8(card, folder, calib, validation, source=clip.name)
        q = ModelCard.load(out).metrics["int8"]
        verdict = "ships as the openvino default" if q["ships"] else "kept off by default (drop >= 0.1 dB)"
        print(
            f"int8 graph written to {out}: PSNR fp32 {q['psnr_fp32_db']:.2f} dB, int8 {q['psnr_int8_db']:.2f} dB, "
            f"drop {q['psnr_drop_db']:.3f} dB on {q['frames']} validation frames: {verdict}"
        )
        return 0
    from ganstream.engines.trt_build import build_plan

    if not args.shape:
        raise EngineError("a TensorRT build needs at least one --shape WxH")
    calib_frames = read_frames(clip, count=args.frames) if args.precision == "int8" and clip else None
    out = build_plan(card, folder, args.precision, list(args.shape), args.batch, calib_frames)
    print(f"plan ready: {out}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from ganstream.engines.bench import bench_variants, cpu_report, format_table, gpu_report, with_threads
    from ganstream.engines.card import ModelCard
    from ganstream.engines.store import resolve_model
    from ganstream.engines.variants import cpu_variants, gpu_variants

    folder = resolve_model(args.name)
    h, w = args.shape
    if args.backend == "cpu" and not args.precision:
        ablations = {"prelu": args.prelu_ablation, "edges": args.edges_ablation}
        print(cpu_report(folder, h, w, args.batch, args.iters, args.clip, threads=args.threads, **ablations))
        return 0
    if args.backend == "gpu":
        print(gpu_report(folder, h, w, args.batch, args.iters))
        return 0
    card = ModelCard.load(folder)
    cpu, cpu_skipped = cpu_variants(card, folder)
    gpu, gpu_skipped = gpu_variants(card, folder, [(h, w)])

    def wanted(backend: str, precision: str) -> bool:
        return args.backend in ("cpu", backend) and (not args.precision or precision == args.precision)

    chosen = with_threads(
        [v for v in cpu + gpu if wanted(v.backend, v.precision) or v.label == "ort fp32"], args.threads
    )
    rows = bench_variants(folder, chosen, h, w, args.batch, args.iters, args.clip)
    print(format_table(rows, f"{card.name} at {w}x{h} in, batch {args.batch}"))
    for line in cpu_skipped + gpu_skipped:
        backend, precision = line.split(":", 1)[0].split()
        if wanted(backend, precision):
            print(f"  not run: {line}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from ganstream.engines.parity import check_parity
    from ganstream.engines.store import resolve_model

    folder = resolve_model(args.name)
    h, w = args.shape
    rows = check_parity(folder, h, w, args.batch)
    print(f"parity against onnxruntime fp32 on fresh random frames ({w}x{h}, batch {args.batch}):")
    for r in rows:
        status = "ok" if r.ok else "MISMATCH"
        detail = f"  {r.error}" if r.error else ""
        print(f"  {r.variant:<16} max diff {r.max_diff:>4}  mean diff {r.mean_diff:8.4f}  {status}{detail}")
    return 0 if all(r.ok for r in rows) else 1


def cmd_export_triton(args: argparse.Namespace) -> int:
    from ganstream.engines.triton.export import export_model_repository

    kind = "KIND_CPU" if args.cpu else "KIND_GPU"
    target = export_model_repository(args.name, args.repo, args.version, args.max_batch, args.queue_delay_us, kind)
    print(f"wrote {target} (version {args.version}); serve with: tritonserver --model-repository {args.repo}")
    return 0
