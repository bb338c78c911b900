"""Which model a stage runs when none is named (stream/stage_factory.py, the service's chains)."""

from __future__ import annotations

from pathlib import Path

from ganstream.stream.stage_factory import (
    RECURRENT_DEFAULT_BACKENDS,
    ChainRequest,
    _resolved_backend,
    build_stages,
    default_restore_model,
    installed_models,
)
from tests.helpers import ffprobe, run_cli


def test_restore_defaults_to_vrestore_where_it_has_run_and_to_restore_elsewhere() -> None:
    installed = installed_models()
    assert {"restore", "vrestore"} <= set(installed)
    for backend in ("openvino", "ort", "torch"):
        assert default_restore_model(backend, installed) == "vrestore", backend
    # auto: what it picks for vrestore here decides (a CPU backend on a machine without a GPU)
    expected = "vrestore" if _resolved_backend("auto") in RECURRENT_DEFAULT_BACKENDS else "restore"
    assert default_restore_model("auto", installed) == expected
    assert default_restore_model("trt", installed) == "restore"  # its two-input graph has not run on TensorRT
    assert default_restore_model("torch", installed, device="cuda") == "vrestore"  # tests/gpu runs it
    assert default_restore_model("openvino", installed, device="cuda") == "restore"  # the service on a GPU
    without = {k: v for k, v in installed.items() if k != "vrestore"}
    assert default_restore_model("auto", without) == "restore"
    assert default_restore_model("auto", {}) == "nlmeans"


def test_plain_restore_runs_vrestore_with_its_memory_and_strength() -> None:
    (stage,) = build_stages(ChainRequest(restore=True, backend="ort"))
    assert stage.label.startswith("vrestore ort")
    assert getattr(stage, "memory", None) is not None and getattr(stage, "gain", None) is not None
    (named,) = build_stages(ChainRequest(restore=True, models=["restore"], backend="ort"))
    assert named.label.startswith("restore ort")


def test_ganstream_run_restore_writes_a_file_through_vrestore_and_reports_its_strength(tmp_path: Path) -> None:
    out = tmp_path / "restored.mp4"
    proc = run_cli("run", "--restore", "--backend", "ort", "--duration", "1", "--sink", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout + proc.stderr
    assert "[vrestore ort" in text and "restore strength:" in text and "recurrent:" in text
    probe = ffprobe(out)
    assert probe.frames > 0 and (probe.width, probe.height) == (384, 288)  # the sample clip's size


def test_plain_sr_chooses_the_model_per_stream_from_its_input() -> None:
    """`--sr 2`: sr2x-clean on clean frames, sr2x on H.264-coded ones (engines/input_choice.py)."""
    import numpy as np

    from ganstream.stream.frame import Frame, VideoSpec
    from ganstream.training.codec import h264_roundtrip
    from tests.unit.test_input_choice import scene

    (stage,) = build_stages(ChainRequest(sr=2, backend="ort"))
    choice = stage.engine  # type: ignore[attr-defined]
    assert [e.card.name for e in choice.engines.values()] == ["sr2x-clean", "sr2x"]
    assert stage.label.startswith("sr2x-auto ort")
    (named,) = build_stages(ChainRequest(sr=2, models=["sr2x"], backend="ort"))
    assert not hasattr(named.engine, "observe")  # type: ignore[attr-defined]
    clean = scene(96, 128)
    for pixels, expected in ((clean, "clean"), (h264_roundtrip(clean[None], crf=36)[0], "compressed")):
        stage.configure(VideoSpec(width=128, height=96))
        (out,) = stage.process(Frame(pixels=pixels, pts=0, duration=40_000_000, seq=0))
        assert choice.state.current == expected and out.pixels.shape == (192, 256, 3)
        assert np.abs(out.pixels.astype(int).mean() - pixels.astype(int).mean()) < 3
    assert "input choice: sr2x-clean on 1 frames, sr2x on 1" in stage.summary_line()
