"""`ganstream engines list|show|build|bench|check` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganstream.stream.cli import main

pytest.importorskip("torch", reason="making a test model needs torch (the train extra)")
from tests.helpers import make_small_model


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store")
    make_small_model(root / "small-sr2x")
    return root


@pytest.fixture(autouse=True)
def _env(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANSTREAM_MODELS", str(store))
    monkeypatch.setenv("GANSTREAM_CACHE", str(tmp_path / "cache"))


def test_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engines", "list"]) == 0
    out = capsys.readouterr().out
    assert "small-sr2x" in out and "onnx,safetensors" in out and "No built TensorRT plans" in out
    # the task column starts at one place on every line, however long a model's name
    header, *rows = out.split("\n\n")[0].splitlines()
    col = header.index("TASK")
    assert rows and all(row[col - 2 : col] == "  " and row[col] != " " for row in rows), out
    assert main(["engines", "show", "small-sr2x"]) == 0
    out = capsys.readouterr().out
    assert "scale x2" in out and "sha256" in out and "model.onnx" in out
    assert main(["engines", "show", "small-sr2x", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "small-sr2x"


def test_unknown_model_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engines", "show", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no model named 'nope'" in err and "small-sr2x" in err


def test_check_reports_every_backend(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engines", "check", "small-sr2x", "--shape", "32x24"]) == 0
    out = capsys.readouterr().out
    for label in ("torch fp32", "openvino fp32"):
        assert label in out
    assert "MISMATCH" not in out


def test_bench_prints_ratio_to_ort(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engines", "bench", "small-sr2x", "--backend", "openvino", "--shape", "32x24", "--iters", "2"]) == 0
    out = capsys.readouterr().out
    assert "ort fp32" in out and "openvino fp32" in out and "1.00x" in out


def test_bench_holds_cpu_backends_to_the_threads_given(capsys: pytest.CaptureFixture[str]) -> None:
    from ganstream.engines.bench import with_threads
    from ganstream.engines.variants import Variant

    gpu = Variant("torch", "fp16", (("device", "cuda"),))
    held = with_threads([Variant("openvino", "fp32"), Variant("ort", "fp32"), Variant("trt", "fp16"), gpu], 1)
    assert [dict(v.options).get("threads") for v in held] == [1, 1, None, 1]
    assert dict(held[3].options)["device"] == "cuda"  # the torch engine ignores threads on a GPU
    assert with_threads(held, None) == held
    args = ["engines", "bench", "small-sr2x", "--backend", "ort", "--shape", "32x24", "--iters", "2", "--threads", "1"]
    assert main(args) == 0
    assert "ort fp32" in capsys.readouterr().out


def test_bad_shape_is_rejected() -> None:
    with pytest.raises(SystemExit):
        main(["engines", "bench", "small-sr2x", "--shape", "720p"])


def test_build_int8_from_the_command_line(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("nncf", reason="int8 quantization needs nncf (the int8 extra)")
    import shutil

    import cv2
    import numpy as np

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(1)
    for i in range(6):
        cv2.imwrite(str(images / f"{i}.png"), cv2.GaussianBlur(rng.integers(0, 256, (48, 64, 3), np.uint8), (5, 5), 1))
    model = tmp_path / "m" / "small-sr2x"
    shutil.copytree(store / "small-sr2x", model)
    args = ["engines", "build", str(model), "--precision", "int8", "--target", "openvino", "--calib", str(images)]
    assert main(args) == 0
    assert "drop" in capsys.readouterr().out
    assert main(["engines", "show", str(model)]) == 0
    assert "model.int8.onnx" in capsys.readouterr().out
    assert main(["engines", "build", str(model), "--precision", "fp16", "--target", "openvino"]) == 0
    assert "nothing to build" in capsys.readouterr().out


def test_gpu_bench_without_a_gpu_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    from ganstream.engines.backends.torch_engine import nvidia_gpu_present

    if nvidia_gpu_present():
        pytest.skip("this machine has a GPU: tests/gpu covers it")
    assert main(["engines", "bench", "small-sr2x", "--backend", "gpu", "--shape", "32x24"]) == 0
    out = capsys.readouterr().out
    assert "no GPU backend can run here" in out and "torch fp16: no NVIDIA GPU here" in out
