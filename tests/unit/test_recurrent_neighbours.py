"""Recurrent models that also see their previous *input* frames (``--neighbours``): state, widening, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ganstream.engines import load_engine
from ganstream.engines.archs.recurrent import from_single_frame, with_neighbours
from ganstream.engines.archs.srvgg import RestoreCompact, SRVGGCompact
from ganstream.engines.card import ModelCard
from ganstream.engines.feed import example_inputs
from ganstream.engines.recurrence import Recurrence, RecurrenceSpec, fold, initial_previous, initial_state
from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.stages.enhance import EnhanceStage
from ganstream.training.errors import ConfigError
from ganstream.training.temporal.export import export_model
from ganstream.training.temporal.train import TemporalConfig, load_init
from tests.unit.tiny_recurrent import export_tiny_vrestore, smooth_scene


@pytest.mark.parametrize("single", [RestoreCompact(num_feat=8, num_conv=2), SRVGGCompact(2, num_feat=8, num_conv=2)])
def test_widening_with_neighbours_starts_exactly_at_the_model(single: nn.Module) -> None:
    torch.manual_seed(0)
    rec = from_single_frame(single)
    first = rec.body[0]
    assert isinstance(first, nn.Conv2d)
    with torch.no_grad():  # a trained recurrent model: its state weights are in use
        first.weight[:, rec.frame_channels :].normal_(0, 0.05)
    wide = with_neighbours(rec, 2).eval()
    assert wide.state_channels == rec.state_channels + 6
    x = torch.rand(1, 3, 16, 20)
    state = torch.rand(1, rec.state_channels, 16, 20)
    neighbours = torch.rand(1, 6, 16, 20)
    with torch.no_grad():
        assert torch.allclose(rec.eval()(x, state), wide(x, torch.cat((state, neighbours), dim=1)), atol=1e-6)
    with pytest.raises(ValueError, match="already takes 2"):
        with_neighbours(wide, 1)


def test_recurrence_carries_the_previous_inputs_along_the_motion() -> None:
    spec = RecurrenceSpec(scale=1, neighbours=2)
    assert spec.state_channels == 9 and spec.to_card()["neighbours"] == 2
    rec = Recurrence(spec)
    wide = smooth_scene(1, 64, 112)
    frames = [np.ascontiguousarray(wide[8:56, 8 + 3 * i : 72 + 3 * i]) for i in range(3)]  # a pan, 3 px a frame
    first = rec.previous_for(frames[0])
    np.testing.assert_array_equal(first, initial_previous(frames[0], spec))
    np.testing.assert_array_equal(first[:, :, 3:6], frames[0])  # nothing known yet: the frame is its neighbour
    rec.update(frames[0])
    rec.previous_for(frames[1])
    rec.update(frames[1])
    third = rec.previous_for(frames[2])
    assert third.shape == (48, 64, 9) and rec.steps == 2
    inner = (slice(4, -4), slice(4, -12))
    truth = frames[2][inner].astype(int)
    newest, older = third[:, :, 3:6][inner], third[:, :, 6:9][inner]
    unaligned = np.abs(frames[0][inner].astype(int) - truth).mean()
    # frame 1 moved onto frame 2, and frame 0 moved twice (once per frame since)
    assert np.abs(newest.astype(int) - truth).mean() < 0.3 * unaligned
    assert np.abs(older.astype(int) - truth).mean() < 0.4 * unaligned
    rec.reset()
    np.testing.assert_array_equal(rec.previous_for(frames[2]), initial_previous(frames[2], spec))


def test_sr_neighbours_stay_on_the_input_grid() -> None:
    spec = RecurrenceSpec(scale=2, neighbours=1)
    rec = Recurrence(spec)
    lr = smooth_scene(2, 48, 64)
    rec.previous_for(lr)
    rec.update(initial_state(lr, 2))
    prev = rec.previous_for(lr)
    assert prev.shape == (48, 64, 15)
    np.testing.assert_array_equal(prev[:, :, :12], fold(initial_state(lr, 2), 2))  # a still scene
    np.testing.assert_array_equal(prev[:, :, 12:], lr)


def test_neighbour_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--neighbours"):
        TemporalConfig(init="x", neighbours=9)
    with pytest.raises(ConfigError, match="--val-every must be a positive"):
        TemporalConfig(init="x", val_every_s=-1.0)
    model = from_single_frame(RestoreCompact(num_feat=8, num_conv=2), neighbours=2)
    folder = export_model(model.eval(), tmp_path, "vrestore-n2", ModelCard(name="restore", task="restore")).folder
    with pytest.raises(ConfigError, match="cannot be fewer"):
        load_init(folder, 1)
    assert load_init(folder, 2)[0].neighbours == 2


@pytest.fixture(scope="module")
def tiny_window(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same with two neighbours."""
    return export_tiny_vrestore(tmp_path_factory.mktemp("models"), "vrestore-n2", neighbours=2, seed=1)


def test_export_with_neighbours_runs_the_same_on_every_cpu_backend(tiny_window: Path) -> None:
    card = ModelCard.load(tiny_window)
    assert card.recurrent["neighbours"] == 2 and card.arch["params"]["neighbours"] == 2
    assert card.inputs[1].name == "previous" and card.inputs[1].shape[3] == 9
    assert RecurrenceSpec.from_card(card) == RecurrenceSpec(scale=1, neighbours=2)
    x, prev = example_inputs(card, 1, 30, 42, seed=3)
    outs = {b: load_engine(tiny_window, backend=b, precision="fp32").infer(x, prev) for b in ("ort", "openvino")}
    assert int(np.abs(outs["ort"].astype(int) - outs["openvino"]).max()) <= 1


def test_enhance_stage_feeds_the_neighbours(tiny_window: Path) -> None:
    stage = EnhanceStage(load_engine(tiny_window, backend="ort"), residual_gain=False)
    stage.configure(VideoSpec(64, 48))
    scene = smooth_scene(3, 48, 64)
    noisy = [
        np.clip(scene + np.random.default_rng(i).normal(0, 10, scene.shape), 0, 255).astype(np.uint8) for i in range(3)
    ]
    outs = [
        stage.process(Frame(p, pts=i * 40_000_000, duration=40_000_000, seq=i))[0].pixels for i, p in enumerate(noisy)
    ]
    assert all(o.shape == (48, 64, 3) for o in outs)
    assert stage.memory is not None and stage.memory.recurrence.steps == 2
    assert "2 previous input frame(s)" in stage.summary_line()
