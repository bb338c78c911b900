"""Which model a stage runs when none is named (stream/stage_factory.py, the service's chains)."""

from __future__ import annotations

from pathlib import Path

from ganstream.stream.stage_factory import ChainRequest, build_stages, default_restore_model, installed_models
from tests.helpers import ffprobe, run_cli


def test_restore_defaults_to_restore_and_runs_vrestore_when_named() -> None:
    """`--restore` runs the single-frame restore (retrained on the temporal filter's frames, it beats
    vrestore on the selection split); vrestore runs, with its memory, when it is named."""
    installed = installed_models()
    assert {"restore", "vrestore"} <= set(installed)
    assert default_restore_model(installed) == "restore"
    assert default_restore_model({k: v for k, v in installed.items() if k != "restore"}) == "nlmeans"
    (stage,) = build_stages(ChainRequest(restore=True, backend="ort"))
    assert stage.label.startswith("restore ort") and getattr(stage, "gain", None) is not None
    (named,) = build_stages(ChainRequest(restore=True, models=["vrestore"], backend="ort"))
    assert named.label.startswith("vrestore ort")
    assert getattr(named, "memory", None) is not None and getattr(named, "gain", None) is not None


def test_ganstream_run_restore_writes_a_file_through_vrestore_and_reports_its_strength(tmp_path: Path) -> None:
    out = tmp_path / "restored.mp4"
    proc = run_cli(
        "run", "--restore", "--model", "vrestore", "--backend", "ort", "--duration", "1", "--sink", str(out),
        "--no-progress",
    )  # fmt: skip
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
