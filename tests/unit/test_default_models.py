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
    for backend in ("openvino", "ort"):
        assert default_restore_model(backend, installed) == "vrestore", backend
    # auto: what it picks for vrestore here decides (a CPU backend on a machine without a GPU)
    expected = "vrestore" if _resolved_backend("auto") in RECURRENT_DEFAULT_BACKENDS else "restore"
    assert default_restore_model("auto", installed) == expected
    for backend in ("trt", "torch"):  # its two-input graph has not run on TensorRT or a GPU yet
        assert default_restore_model(backend, installed) == "restore", backend
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
