"""int8 variants made with NNCF post-training quantization, calibrated on real frames.

Two int8 graphs come out of one calibration set:

- ``model.int8.xml`` / ``.bin``: NNCF's OpenVINO backend applied to the OpenVINO model read from
  the fp32 ONNX (PReLU slopes made per-channel first). This is what the openvino backend runs.
  The other route, OpenVINO reading NNCF's ONNX quantize/dequantize graph, fails to compile at
  the bf16 inference precision on Intel CPUs with AMX ("No suitable implementations"): the
  ONNX frontend turns each DequantizeLinear of the weights into a Convert/Subtract/Multiply
  decompression chain rather than a FakeQuantize, and the bf16 markup of that chain leaves the
  convolution without a u8 x i8 -> bf16 kernel. The OpenVINO-native graph carries FakeQuantize
  nodes the CPU plugin folds into int8 convolutions at either hint.
- ``model.int8.onnx``: NNCF's ONNX backend (QDQ pairs), for onnxruntime.
 Quality is measured on frames that were not used for
calibration: the low-resolution input is made by downscaling each real frame, and the PSNR of
the int8 and fp32 outputs against the original frame is compared. The card records the drop;
the int8 variant becomes the openvino default only if it is under 0.1 dB.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ganstream.engines import artifacts
from ganstream.engines.calib import Frame, model_inputs, psnr
from ganstream.engines.card import ModelCard, sha256_file
from ganstream.engines.errors import BackendUnavailableError, EngineError
from ganstream.engines.feed import is_frame_input
from ganstream.engines.store import user_models_dir

log = logging.getLogger(__name__)
INT8_SHIP_MAX_DROP_DB = 0.1


def is_writable(folder: Path) -> bool:
    probe = folder / ".write-test"
    try:
        probe.touch()
        probe.unlink()
    except OSError:
        return False
    return True


def writable_model_folder(card: ModelCard, folder: Path) -> Path:
    """`folder` if writable (a user's model), else a copy in the user's model folder.

    Installed models are usually read-only; the copy shadows the shipped one of the same name.
    """
    if is_writable(folder):
        return folder
    target = user_models_dir() / card.name
    if target.resolve() != folder.resolve():
        target.mkdir(parents=True, exist_ok=True)
        for fname in [*card.artifacts, "card.json"]:
            shutil.copy2(folder / fname, target / fname)
    log.warning("%s is read-only; writing the int8 variant into %s", folder, target)
    return target


def _nncf_quantize(model: Any, calib: list[Frame], input_name: str) -> Any:
    """NNCF post-training quantization of an ONNX or OpenVINO model, calibrated on `calib`."""
    try:
        import nncf
    except ImportError as exc:
        raise BackendUnavailableError(
            f"int8 quantization needs nncf: run `make setup` (or pip install nncf onnx) ({exc})"
        ) from None
    dataset = nncf.Dataset(calib, lambda f: {input_name: f[None]})
    # Mixed: symmetric weights, asymmetric activations (PReLU outputs are signed and skewed).
    return nncf.quantize(model, dataset, preset=nncf.QuantizationPreset.MIXED, subset_size=len(calib))


def quantize_onnx(src: Path, dst: Path, calib: list[Frame], input_name: str) -> None:
    """Write an NNCF-quantized (QDQ) copy of the ONNX graph at `src` to `dst` atomically."""
    try:
        import onnx
    except ImportError as exc:
        raise BackendUnavailableError(f"int8 quantization needs onnx: run `make setup` ({exc})") from None
    quantized = _nncf_quantize(onnx.load(str(src)), calib, input_name)
    tmp = dst.with_name(dst.name + ".tmp")
    onnx.save(quantized, str(tmp))
    tmp.replace(dst)


def quantize_openvino(src: Path, dst: Path, calib: list[Frame], input_name: str) -> None:
    """Write an NNCF-quantized OpenVINO IR of the ONNX graph at `src` to `dst` (.xml, with its .bin)."""
    import openvino as ov

    from ganstream.engines.backends.openvino_engine import shared_core
    from ganstream.engines.backends.openvino_graph import rewrite_prelu_slopes

    model = shared_core().read_model(str(src))
    rewrite_prelu_slopes(model)  # before quantizing, so FakeQuantize sits where the fused op will
    quantized = _nncf_quantize(model, calib, input_name)
    tmp = dst.with_name(dst.stem + ".tmp.xml")
    ov.save_model(quantized, str(tmp), compress_to_fp16=False)
    tmp.with_suffix(".bin").replace(dst.with_suffix(".bin"))
    tmp.replace(dst)


def measure_drop(card: ModelCard, folder: Path, frames: list[Frame], backend: str = "openvino") -> dict[str, Any]:
    """PSNR of fp32 and int8 outputs against the real frames, and of int8 against fp32."""
    from ganstream.engines.loader import load_engine

    hr = [f[: f.shape[0] // card.scale * card.scale, : f.shape[1] // card.scale * card.scale] for f in frames]
    lr = model_inputs(hr, card.task, card.scale)
    ref = load_engine(folder, backend="ort", precision="fp32")
    q = load_engine(folder, backend=backend, precision="int8")
    fp32_db, int8_db, agree_db = [], [], []
    for lo, hi in zip(lr, hr, strict=True):
        a = ref.infer(lo[None])[0]
        b = q.infer(lo[None])[0]
        fp32_db.append(psnr(a, hi))
        int8_db.append(psnr(b, hi))
        agree_db.append(min(psnr(a, b), 99.0))
    ref.close()
    q.close()
    fp32_mean, int8_mean = float(np.mean(fp32_db)), float(np.mean(int8_db))
    return {
        "backend": backend,
        "frames": len(frames),
        "psnr_fp32_db": round(fp32_mean, 3),
        "psnr_int8_db": round(int8_mean, 3),
        "psnr_drop_db": round(fp32_mean - int8_mean, 3),
        "psnr_int8_vs_fp32_db": round(float(np.mean(agree_db)), 3),
    }


def build_int8(card: ModelCard, folder: Path, frames: list[Frame], validation: list[Frame], source: str) -> Path:
    """Quantize the model, measure it and record both in its card; returns the folder written."""
    frame_inputs = [s.name for s in card.inputs if is_frame_input(s)]
    if len(card.inputs) != 1 or len(frame_inputs) != 1:
        raise EngineError(f"model '{card.name}': int8 calibration handles single-frame models only")
    src = artifacts.require(card, folder, "onnx")
    target = writable_model_folder(card, folder)
    stem = src.name.removesuffix(".onnx")
    name = stem + artifacts.INT8_SUFFIX
    ir_name = stem + artifacts.INT8_IR_SUFFIX
    calib = model_inputs(frames, card.task, card.scale)
    log.info("quantizing %s on %d frames from %s", card.name, len(calib), source)
    quantize_onnx(target / src.name, target / name, calib, frame_inputs[0])
    quantize_openvino(target / src.name, target / ir_name, calib, frame_inputs[0])
    card = ModelCard.load(target)
    for fname in (name, ir_name, ir_name.removesuffix(".xml") + ".bin"):
        card.artifacts[fname] = sha256_file(target / fname)
    card.save(target)
    quality = measure_drop(card, target, validation)
    quality["calibration"] = {"source": source, "frames": len(frames)}
    quality["ships"] = quality["psnr_drop_db"] < INT8_SHIP_MAX_DROP_DB
    card.metrics["int8"] = quality
    card.save(target)
    return target
