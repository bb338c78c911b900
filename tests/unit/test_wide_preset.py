"""The `wide` and `wide4` SR presets: a body behind a pixel-unshuffle (by 2, by 4), exported and run like every
SR model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the model is built with torch (the train extra)")

from ganstream.engines import load_engine  # noqa: E402
from ganstream.engines.archs import build_generator  # noqa: E402
from ganstream.engines.backends.openvino_graph import fold_constants, host_skip, split_at_skip  # noqa: E402
from ganstream.engines.card import ModelCard  # noqa: E402
from ganstream.training.export import export_generator  # noqa: E402
from ganstream.training.presets import generator_arch  # noqa: E402
from tests.helpers import random_frames as frames  # noqa: E402

PRESETS = {"wide": 2, "wide4": 4}  # preset -> its pixel-unshuffle factor


@pytest.fixture(scope="module", params=sorted(PRESETS))
def wide_model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(5)
    arch = generator_arch("sr", request.param, 2)
    net = build_generator(arch).eval()
    out = tmp_path_factory.mktemp("store")
    export_generator(net, arch, out, f"{request.param}-sr2x", task="sr", scale=2)
    return out / f"{request.param}-sr2x"


def diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16))


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_body_works_at_a_fraction_of_the_input_resolution(preset: str) -> None:
    g = build_generator(generator_arch("sr", preset, 2)).eval()
    seen: list[tuple[int, ...]] = []
    g.body[0].register_forward_hook(lambda _m, inp, _out: seen.append(tuple(inp[0].shape)))
    with torch.no_grad():
        y = g(torch.rand(1, 3, 20, 28))
    u = PRESETS[preset]
    assert y.shape == (1, 3, 40, 56) and seen == [(1, 3 * u * u, 20 // u, 28 // u)]


def test_export_asks_for_whole_blocks_and_the_engine_pads_other_sizes(wide_model: Path) -> None:
    card = ModelCard.load(wide_model)
    u = card.arch["params"]["unshuffle"]
    assert card.limits.multiple_of == u == PRESETS[card.name.removesuffix("-sr2x")]
    out = load_engine(wide_model, backend="ort").infer(frames(1, 23, 31, seed=2))
    assert out.shape == (1, 46, 62, 3)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_openvino_runs_it_like_onnxruntime_with_the_skip_on_the_host(wide_model: Path, precision: str) -> None:
    from ganstream.engines.backends.openvino_engine import cpu_supports_bf16

    if precision == "bf16" and not cpu_supports_bf16():
        pytest.skip("this CPU has no bf16")
    import openvino as ov

    model = ov.Core().read_model(str(wide_model / "model.onnx"))
    model.reshape({"input": [1, 36, 52, 3]})
    fold_constants(model)
    _, edges = split_at_skip(model) or pytest.fail("no cut between the body and the skip")
    assert host_skip(edges) == ("input", 2)
    engine = load_engine(wide_model, backend="openvino", precision=precision)
    for h, w in ((36, 52), (35, 51)):  # whole blocks, and odd (padded by the engine)
        x = frames(2, h, w, seed=4)
        ref = load_engine(wide_model, backend="ort").infer(x)
        d = diff(engine.infer(x), ref)
        assert d.max() <= (1 if precision == "fp32" else 8) and d.mean() < (0.01 if precision == "fp32" else 1.0)


def test_torch_backend_rebuilds_it_from_the_card(wide_model: Path) -> None:
    x = frames(1, 24, 32, seed=6)
    ref = load_engine(wide_model, backend="ort").infer(x)
    out = load_engine(wide_model, backend="torch", precision="fp32", device="cpu").infer(x)
    assert diff(out, ref).max() <= 1


def test_tiles_start_on_the_models_phase_so_tiling_changes_nothing(wide_model: Path) -> None:
    """Behind a pixel-unshuffle a tile one pixel off computes something else: tiles start at the
    model's phase, so the tiled output is the whole frame's (before, a wide4 model's last tiles
    started anywhere and came out up to 56 levels off)."""
    x = frames(1, 150, 230, seed=9)
    whole = load_engine(wide_model, backend="ort").infer(x)
    tiled = load_engine(wide_model, backend="ort", tile=128, tile_overlap=48).infer(x)
    assert diff(tiled, whole).max() <= 1
