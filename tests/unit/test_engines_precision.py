"""Reduced precision on the CPU: the graph cut into a reduced-precision body and f32 edges, int8 at every
hint, the measured choice."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ganstream.engines import ModelCard, load_engine
from ganstream.engines.backends import openvino_engine
from ganstream.engines.backends.openvino_engine import OpenVinoEngine, cpu_supports_bf16
from ganstream.engines.backends.openvino_graph import BODY_OUTPUT, fold_constants, split_at_skip
from ganstream.engines.calib import default_clip, model_inputs, psnr, read_frames
from ganstream.engines.store import SHIPPED_DIR

SR2X = SHIPPED_DIR / "sr2x"
RESTORE = SHIPPED_DIR / "restore"


def static_model(folder: Path, h: int = 36, w: int = 48) -> object:
    import openvino as ov

    model = ov.Core().read_model(str(folder / "model.onnx"))
    model.reshape({"input": [1, h, w, 3]})
    return model


@pytest.mark.parametrize("folder", [SR2X, RESTORE], ids=["sr2x", "restore"])
def test_normalisation_skip_and_rounding_are_edges_and_the_body_is_not(folder: Path) -> None:
    model = static_model(folder)
    fold_constants(model)
    _, edges = split_at_skip(model) or pytest.fail("no cut")
    kinds = {op.get_type_name() for op in edges.get_ordered_ops()}
    # The input scaling, the final add of body and skip, and the rounding are all edges ...
    assert {"Convert", "Divide", "Add", "Multiply", "Round"} <= kinds
    assert ("Interpolate" in kinds) == (folder == SR2X)  # the bicubic skip of an SR model
    # ... and no convolution or activation of the body is.
    assert not kinds & {"Convolution", "PRelu", "DepthToSpace"}


@pytest.mark.parametrize("folder", [SR2X, RESTORE], ids=["sr2x", "restore"])
def test_the_cut_gives_a_body_of_convolutions_and_edges_without_one(folder: Path) -> None:
    import openvino as ov

    model = static_model(folder)
    fold_constants(model)
    parts = split_at_skip(model)
    assert parts is not None
    body, edges = parts
    kinds = lambda m: {op.get_type_name() for op in m.get_ordered_ops()}  # noqa: E731
    assert "Convolution" in kinds(body) and "Round" not in kinds(body) and "Interpolate" not in kinds(body)
    assert "Convolution" not in kinds(edges) and {"Add", "Round"} <= kinds(edges)
    assert [p.get_any_name() for p in edges.inputs] == ["input", BODY_OUTPUT]
    # Both halves at f32 give the whole graph's output: compiled whole, OpenVINO may fuse the final
    # add into the last convolution, so a value a hair from a rounding boundary (x.5 levels) may
    # round the other way; anything beyond one level, or on more than a stray pixel, is a wrong cut.
    x = np.random.default_rng(2).integers(0, 256, (1, 36, 48, 3), np.uint8)
    core = ov.Core()
    f32 = {"INFERENCE_PRECISION_HINT": "f32"}
    whole = core.compile_model(model, "CPU", f32)({"input": x})[0]
    residual = core.compile_model(body, "CPU", f32)({"input": x})[0]
    joined = core.compile_model(edges, "CPU", f32)({"input": x, BODY_OUTPUT: residual})[0]
    diff = np.abs(whole.astype(np.int16) - joined.astype(np.int16))
    assert diff.max() <= 1 and np.count_nonzero(diff) <= diff.size // 5000


def test_a_graph_without_a_skip_is_not_cut() -> None:
    import openvino as ov
    from openvino import opset13

    x = opset13.parameter([1, 3, 8, 8], ov.Type.f32, "input")
    w = opset13.constant(np.ones((3, 3, 3, 3), np.float32))
    conv = opset13.convolution(x, w, [1, 1], [1, 1], [1, 1], [1, 1])
    assert split_at_skip(ov.Model([opset13.result(conv)], [x], "plain")) is None


def test_the_edges_stay_at_f32_when_the_body_runs_at_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cut is compiled as two requests, the edges' at the f32 hint whatever the body's."""
    card = ModelCard.load(SR2X)
    calls = compile_failing_where(monkeypatch, lambda part, hint: False)
    engine = OpenVinoEngine(card, SR2X, "bf16")
    out = engine.infer(np.zeros((1, 24, 32, 3), np.uint8))
    assert out.shape == (1, 48, 64, 3)
    assert calls == [("body", "bf16"), ("edges", "f32")]
    # At f32 an SR graph is cut for its host skip; a restore graph (skip: the input) is not.
    assert calls_at_fp32(monkeypatch, SR2X) == [("body", "f32"), ("edges", "f32")]
    assert calls_at_fp32(monkeypatch, RESTORE) == [("whole", "f32")]


def calls_at_fp32(monkeypatch: pytest.MonkeyPatch, folder: Path) -> list[tuple[str, str]]:
    calls = compile_failing_where(monkeypatch, lambda part, hint: False)
    OpenVinoEngine(ModelCard.load(folder), folder, "fp32").infer(np.zeros((1, 24, 32, 3), np.uint8))
    return calls


def test_the_cut_changes_the_output_at_f32_by_at_most_a_level_on_a_few_values() -> None:
    """At f32 an SR graph is cut too, for the host skip's speed; the output is the whole graph's
    but for rounding ties."""
    card = ModelCard.load(SR2X)
    x = np.random.default_rng(1).integers(0, 256, (1, 36, 48, 3), np.uint8)
    a = OpenVinoEngine(card, SR2X, "fp32", f32_edges=True).infer(x).astype(np.int16)
    b = OpenVinoEngine(card, SR2X, "fp32", f32_edges=False).infer(x).astype(np.int16)
    assert np.abs(a - b).max() <= 1 and np.mean(a != b) < 1e-3


def test_the_host_skip_is_found_in_sr_edges_only_and_matches_openvino() -> None:
    import openvino as ov

    from ganstream.engines.backends.openvino_graph import host_edges, host_skip

    core = ov.Core()
    f32 = {"INFERENCE_PRECISION_HINT": "f32"}
    for folder, want in ((SR2X, ("input", 2)), (RESTORE, None)):
        model = static_model(folder)
        fold_constants(model)
        _, edges = split_at_skip(model) or pytest.fail("no cut")
        assert host_skip(edges) == want
    x = np.random.default_rng(3).integers(0, 256, (2, 36, 48, 3), np.uint8)
    residual = (np.random.default_rng(4).standard_normal((2, 3, 72, 96)) * 0.05).astype(np.float32)
    model = static_model(SR2X)
    model.reshape({"input": list(x.shape)})
    fold_constants(model)
    _, edges = split_at_skip(model) or pytest.fail("no cut")
    ref = core.compile_model(edges, "CPU", f32)({"input": x, BODY_OUTPUT: residual})[0]
    got = host_edges(x, residual)
    assert got.shape == ref.shape and got.dtype == np.uint8
    assert np.abs(got.astype(np.int16) - ref).max() <= 1 and np.mean(got != ref) < 1e-3


def test_host_edges_reuse_their_buffers_without_mixing_frames_or_shapes() -> None:
    from ganstream.engines.backends.openvino_graph import EdgeBuffers, host_edges

    rng = np.random.default_rng(6)
    work = EdgeBuffers()
    outputs = []
    for shape in ((1, 36, 48), (1, 36, 48), (2, 20, 30), (1, 36, 48)):
        n, h, w = shape
        x = rng.integers(0, 256, (n, h, w, 3), np.uint8)
        residual = (rng.standard_normal((n, 3, 2 * h, 2 * w)) * 0.05).astype(np.float32)
        got = host_edges(x, residual, work)
        assert np.array_equal(got, host_edges(x, residual)), shape
        outputs.append(got)
    # the same shape is served from the same array: callers copy before the next frame
    assert outputs[0] is outputs[1] is outputs[3] and outputs[2] is not outputs[0]


def test_a_host_skip_that_differs_from_openvino_is_dropped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from ganstream.engines.backends import openvino_graph

    real = openvino_graph.host_edges
    monkeypatch.setattr(
        openvino_engine, "host_edges", lambda x, r, *_: np.clip(real(x, r).astype(np.int16) + 3, 0, 255)
    )
    card = ModelCard.load(SR2X)
    x = np.random.default_rng(5).integers(0, 256, (1, 36, 48, 3), np.uint8)
    want = OpenVinoEngine(card, SR2X, "fp32", f32_edges=False).infer(x).astype(np.int16)
    engine = OpenVinoEngine(card, SR2X, "fp32")
    with caplog.at_level(logging.WARNING):
        first, second = engine.infer(x), engine.infer(x)
    assert "differs from OpenVINO's" in caplog.text
    assert np.abs(first.astype(np.int16) - want).max() <= 1 and np.array_equal(first, second)


def real_pairs(folder: Path, count: int = 4) -> tuple[list[np.ndarray], list[np.ndarray]]:
    card = ModelCard.load(folder)
    clip = default_clip()
    assert clip is not None, "the sample clip ships with the package"
    truth = read_frames(clip, count=count, size=(180 * card.scale, 320 * card.scale))
    return model_inputs(truth, card.task, card.scale), truth


@pytest.mark.skipif(not cpu_supports_bf16(), reason="this CPU has no native bf16 (AMX / AVX512-BF16)")
@pytest.mark.parametrize("folder", [SR2X, RESTORE], ids=["sr2x", "restore"])
def test_bf16_keeps_quality_on_real_frames(folder: Path) -> None:
    card = ModelCard.load(folder)
    inputs, truth = real_pairs(folder)
    scores = {}
    for precision in ("fp32", "bf16"):
        engine = OpenVinoEngine(card, folder, precision)
        scores[precision] = np.mean([psnr(engine.infer(x[None])[0], t) for x, t in zip(inputs, truth, strict=True)])
    assert scores["fp32"] - scores["bf16"] <= 0.05, scores


@pytest.mark.skipif(not cpu_supports_bf16(), reason="this CPU has no native bf16 (AMX / AVX512-BF16)")
def test_bf16_keeps_quality_and_colour_on_a_clean_smooth_frame() -> None:
    """Where one output level shows: a smooth frame the model rebuilds at over 50 dB. With the skip
    and rounding at bf16 (before the cut) sr2x lost 2.2 dB here and shifted blue by +0.3 levels."""
    from ganstream.engines.precision_choice import smooth_frame

    card = ModelCard.load(SR2X)
    truth = smooth_frame(180, 320)
    x = model_inputs([truth], "sr", 2)[0]
    out = {p: OpenVinoEngine(card, SR2X, p).infer(x[None])[0] for p in ("fp32", "bf16")}
    assert psnr(out["fp32"], truth) - psnr(out["bf16"], truth) <= 0.05
    shift = out["bf16"].astype(np.float64).mean(axis=(0, 1)) - out["fp32"].astype(np.float64).mean(axis=(0, 1))
    assert np.abs(shift).max() <= 0.05, shift


def compile_failing_where(monkeypatch: pytest.MonkeyPatch, fails: Callable[[str, str], bool]) -> list[tuple[str, str]]:
    """Make the CPU look bf16-capable and make compiles fail where `fails(part, hint)`; the calls.

    `part`: "body" or "edges" for a half of the cut graph, "whole" for the uncut one. The list
    fills with (part, hint) per compile.
    """
    import openvino as ov

    compile_real = ov.Core.compile_model
    calls: list[tuple[str, str]] = []

    def compile_model(self: ov.Core, model: Any, device: str, config: dict[str, Any]) -> Any:
        part = model.get_friendly_name() if model.get_friendly_name() in ("body", "edges") else "whole"
        hint = str(config["INFERENCE_PRECISION_HINT"])
        calls.append((part, hint))
        if fails(part, hint):
            raise RuntimeError("Check '!implementations.empty()' failed: No suitable implementations")
        return compile_real(self, model, device, config)

    monkeypatch.setattr(ov.Core, "compile_model", compile_model)
    monkeypatch.setattr(openvino_engine, "cpu_supports_bf16", lambda: True)
    return calls


def test_an_int8_graph_that_fails_at_the_bf16_hint_falls_back_to_f32(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """What AMX CPUs did with the ONNX QDQ graph: the engine must still run, and say so."""
    card = ModelCard.load(SR2X)
    calls = compile_failing_where(monkeypatch, lambda part, hint: hint == "bf16")
    monkeypatch.setattr(openvino_engine.artifacts, "require", lambda *a, **k: SR2X / "model.onnx")
    engine = OpenVinoEngine(card, SR2X, "int8")
    assert engine.hint == "bf16"
    with caplog.at_level(logging.WARNING):
        out = engine.infer(np.zeros((1, 24, 32, 3), np.uint8))
    assert out.shape == (1, 48, 64, 3)
    # The cut's body at bf16, the whole graph at bf16, then the float parts at f32.
    assert calls == [("body", "bf16"), ("whole", "bf16"), ("whole", "f32")] and engine.device == "cpu (f32)"
    assert "does not compile at the bf16 hint" in caplog.text
    # An fp32 or bf16 graph that fails to compile is a real error, not something to hide.
    with pytest.raises(RuntimeError):
        OpenVinoEngine(card, SR2X, "bf16").infer(np.zeros((1, 24, 32, 3), np.uint8))


def test_int8_ir_compiles_at_every_hint_this_cpu_has(tmp_path: Path) -> None:
    pytest.importorskip("nncf")
    import openvino as ov

    from ganstream.engines.quantize import quantize_openvino

    inputs, _ = real_pairs(SR2X, count=4)
    dst = tmp_path / "model.int8.xml"
    quantize_openvino(SR2X / "model.onnx", dst, inputs, "input")
    assert dst.is_file() and dst.with_suffix(".bin").is_file()
    core = ov.Core()
    model = core.read_model(str(dst))
    assert any(op.get_type_name() == "FakeQuantize" for op in model.get_ordered_ops())
    hints = ["f32", *(["bf16"] if cpu_supports_bf16() else [])]
    ref = OpenVinoEngine(ModelCard.load(SR2X), SR2X, "fp32").infer(inputs[0][None])[0]
    for hint in hints:
        m = model.clone()
        m.reshape({"input": [1, *inputs[0].shape]})
        out = core.compile_model(m, "CPU", {"INFERENCE_PRECISION_HINT": hint}).create_infer_request()
        out.infer({"input": inputs[0][None]})
        got = np.asarray(out.get_output_tensor(0).data)[0]
        assert psnr(got, ref) > 35.0, hint


def test_the_choice_is_the_fastest_within_the_gate_and_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    from ganstream.engines import precision_choice as pc

    card = ModelCard.load(SR2X)
    monkeypatch.setattr(pc, "MEASURE_FRAMES", 2)
    monkeypatch.setattr(pc, "MEASURE_REPEATS", 2)
    choice = pc.choose_precision(card, SR2X, "openvino", ["fp32", "fp32"])  # two runs of one precision
    assert choice.precision == "fp32" and not choice.cached
    assert set(choice.measured) == {"fp32"} and choice.measured["fp32"]["drop_db"] == 0.0
    assert "fastest within 0.05 dB of fp32 on every frame" in choice.reason
    saved = json.loads(pc.cache_file().read_text())
    key = pc.cache_key(card, "openvino", ["fp32", "fp32"])
    assert saved[key]["precision"] == "fp32" and pc.cpu_model() in key
    monkeypatch.setattr(pc, "measure", lambda *a: pytest.fail("measured again despite the cache"))
    again = pc.choose_precision(card, SR2X, "openvino", ["fp32", "fp32"])
    assert again.cached and again.precision == "fp32"
    # One candidate: nothing to measure, and the reason says so.
    assert "only precision" in pc.choose_precision(card, SR2X, "openvino", ["fp32"]).reason


def test_a_recurrent_model_is_measured_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """vrestore (frame + previous output) gets measured inputs, so it can run at bf16 where that is
    faster and keeps quality; an older cached choice that measured nothing is measured again."""
    from ganstream.engines import precision_choice as pc

    folder = SR2X.parent / "vrestore"
    card = ModelCard.load(folder)
    inputs, truth = pc.measure_frames(card) or pytest.fail("no measured inputs for a recurrent model")
    assert len(inputs) == len(truth) == pc.MEASURE_FRAMES + 1  # the clip and the smooth frame
    assert [x.shape for x in inputs[0]] == [truth[0].shape, truth[0].shape]
    monkeypatch.setattr(pc, "MEASURE_FRAMES", 2)
    monkeypatch.setattr(pc, "MEASURE_REPEATS", 1)
    key = pc.cache_key(card, "openvino", ["fp32", "fp32"])
    pc._save_cache(key, pc.PrecisionChoice("fp32", "no sample frames to check reduced precision's quality against"))
    choice = pc.choose_precision(card, folder, "openvino", ["fp32", "fp32"])
    assert not choice.cached and set(choice.measured) == {"fp32"}


def test_pick_refuses_a_faster_precision_that_costs_quality() -> None:
    from ganstream.engines.precision_choice import pick

    measured = {
        "fp32": {"ms": 14.0, "drop_db": 0.0},
        "bf16": {"ms": 9.0, "drop_db": 0.2},
        "int8": {"ms": 11.0, "drop_db": 0.03},
    }
    best, reason = pick(measured)
    assert best == "int8"
    assert "bf16 9.0 ms/frame, -0.20 dB vs fp32, fails the 0.05 dB gate" in reason
    assert pick({"fp32": {"ms": 14.0, "drop_db": 0.0}, "bf16": {"ms": 20.0, "drop_db": 0.0}})[0] == "fp32"


def test_the_run_summary_says_what_was_chosen_and_why() -> None:
    engine = load_engine("sr2x", backend="openvino")
    assert engine.precision_reason and engine.precision_reason in engine.summary()
    assert load_engine("sr2x", backend="openvino", precision="fp32").precision_reason == ""


def test_closing_fp32_and_int8_engines_leaves_sigint_working() -> None:
    """After the precision measurement closed its engines, Ctrl-C crashed the process (segfault)."""
    import subprocess
    import sys

    code = (
        "import gc, os, signal, time, numpy as np\n"
        "from ganstream.engines import ModelCard\n"
        "from ganstream.engines.backends.openvino_engine import OpenVinoEngine\n"
        "from ganstream.engines.store import SHIPPED_DIR\n"
        "f = SHIPPED_DIR / 'sr2x'; card = ModelCard.load(f)\n"
        "x = np.zeros((1, 36, 48, 3), np.uint8)\n"
        "engines = [OpenVinoEngine(card, f, p) for p in ('fp32', 'int8')]\n"
        "for e in engines: e.infer(x); e.close()\n"
        "del engines, e; gc.collect()\n"
        "signal.signal(signal.SIGINT, lambda *a: print('interrupted'))\n"
        "os.kill(os.getpid(), signal.SIGINT); time.sleep(0.3)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and "interrupted" in proc.stdout, proc.stderr[-500:]


def test_edges_the_plugin_cannot_place_are_dropped_not_the_stream(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    card = ModelCard.load(SR2X)
    calls = compile_failing_where(monkeypatch, lambda part, hint: part == "body" and hint == "bf16")
    engine = OpenVinoEngine(card, SR2X, "bf16")
    with caplog.at_level(logging.WARNING):
        out = engine.infer(np.zeros((1, 24, 32, 3), np.uint8))
    assert out.shape == (1, 48, 64, 3) and [p for p, _ in calls] == ["body", "whole"] and engine.hint == "bf16"
    assert "does not compile with f32 edges" in caplog.text


def test_eval_at_auto_precision_runs_what_ganstream_run_chooses(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ganstream eval --precision auto` scores the model at this machine's measured choice, the
    precision a user's `ganstream run` computes with, not at a fixed one."""
    from ganstream.engines import precision_choice as pc
    from ganstream.training.evaluate import load_runner

    monkeypatch.setattr(pc, "MEASURE_FRAMES", 2)
    monkeypatch.setattr(pc, "MEASURE_REPEATS", 1)
    _, _, used = load_runner(SR2X, "openvino", "auto")
    chosen = load_engine("sr2x", backend="openvino")  # the run's own loader, same cache
    assert used == f"openvino {chosen.precision}"
    assert load_runner(SR2X, "openvino", "fp32")[2] == "openvino fp32"


def test_the_choice_is_judged_on_the_worst_frame_and_a_smooth_one_is_among_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A precision that is level on the clip but loses on one smooth frame fails the gate."""
    from ganstream.engines import precision_choice as pc

    card = ModelCard.load(SR2X)
    inputs, truth = pc.measure_frames(card) or pytest.fail("no measured frames")
    assert len(inputs) == pc.MEASURE_FRAMES + 1 and np.array_equal(truth[-1], pc.smooth_frame(360, 640))
    monkeypatch.setattr(pc, "MEASURE_REPEATS", 1)

    class Rounding:  # fp32 exactly, except one level off on the smooth frame: what a bf16 skip did
        def __init__(self, card: ModelCard, folder: Path, precision: str) -> None:
            self.real, self.precision = OpenVinoEngine(card, folder, "fp32"), precision

        def infer(self, *xs: np.ndarray) -> np.ndarray:
            out = self.real.infer(*xs)
            smooth = xs[0].shape[1:3] == inputs[-1][0].shape[:2] and np.array_equal(xs[0][0], inputs[-1][0])
            return (
                np.clip(out.astype(np.int16) + 1, 0, 255).astype(np.uint8)
                if smooth and self.precision != "fp32"
                else out
            )

        def close(self) -> None:
            self.real.close()

    monkeypatch.setattr("ganstream.engines.backends.openvino_engine.OpenVinoEngine", Rounding)
    choice = pc.measure(card, SR2X, ["fp32", "bf16"])
    assert choice.measured["bf16"]["drop_db"] > 1.0 and choice.precision == "fp32"
