"""Recurrent video models: the arch, the folded state, the per-stream memory and its resets, export, batching."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from ganstream.engines import load_engine
from ganstream.engines.archs.recurrent import from_single_frame
from ganstream.engines.archs.srvgg import RestoreCompact, SRVGGCompact
from ganstream.engines.card import ModelCard
from ganstream.engines.feed import example_inputs
from ganstream.engines.recurrence import Recurrence, RecurrenceSpec, fold, initial_state
from ganstream.stream.batching import BatchingEngine, SerialEngine, SharedEnhanceStage
from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.stages.enhance import EnhanceStage
from ganstream.stream.stages.recurrent_state import StreamMemory
from tests.unit.tiny_recurrent import export_tiny_vrestore, smooth_scene


@pytest.mark.parametrize("single", [RestoreCompact(num_feat=8, num_conv=2), SRVGGCompact(2, num_feat=8, num_conv=2)])
def test_conversion_from_a_single_frame_model_starts_exactly_at_it(single: nn.Module) -> None:
    single.eval()
    rec = from_single_frame(single).eval()
    x = torch.rand(2, 3, 16, 20)
    previous = torch.rand(2, rec.state_channels, 16, 20)
    with torch.no_grad():
        assert torch.allclose(single(x), rec(x, previous), atol=1e-6)
    # ... and the state inputs are live parameters that training can move
    first = rec.body[0]
    assert isinstance(first, nn.Conv2d) and first.weight.requires_grad
    assert float(first.weight.detach()[:, rec.frame_channels :].abs().sum()) == 0.0


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_fold_is_torchs_pixel_unshuffle(scale: int) -> None:
    hr = np.random.default_rng(scale).integers(0, 256, (6 * scale, 10 * scale, 3), dtype=np.uint8)
    got = fold(hr, scale)
    t = torch.from_numpy(hr).permute(2, 0, 1)[None].float()
    want = nn.PixelUnshuffle(scale)(t)[0].permute(1, 2, 0).numpy() if scale > 1 else hr
    assert got.shape == (6, 10, 3 * scale * scale)
    np.testing.assert_array_equal(got, want)


def test_recurrence_carries_the_previous_output_along_the_motion() -> None:
    spec = RecurrenceSpec(scale=2)
    rec = Recurrence(spec)
    wide = smooth_scene(1, 64, 96)
    f0, f1 = wide[8:56, 8:72], wide[8:56, 11:75]  # the camera pans 3 px right
    first = rec.previous_for(f0)
    np.testing.assert_array_equal(first, fold(initial_state(f0, 2), 2))  # nothing known yet
    out0 = np.asarray(initial_state(wide, 2)[16:112, 16:144])  # stands in for the model's output
    rec.update(out0)
    prev = rec.previous_for(f1)
    assert prev.shape == (48, 64, 12) and rec.steps == 1
    truth = fold(np.asarray(initial_state(wide, 2)[16:112, 22:150]), 2)
    inner = (slice(4, -4), slice(4, -8))
    err_aligned = np.abs(prev[inner].astype(int) - truth[inner]).mean()
    err_unaligned = np.abs(fold(out0, 2)[inner].astype(int) - truth[inner]).mean()
    assert err_aligned < 0.3 * err_unaligned, (err_aligned, err_unaligned)


def _frame(pixels: np.ndarray, seq: int, **meta: object) -> Frame:
    return Frame(pixels, pts=seq * 40_000_000, duration=40_000_000, seq=seq, meta=dict(meta))


def test_memory_resets_at_cuts_reconnects_and_gaps_only() -> None:
    mem = StreamMemory(RecurrenceSpec(scale=1))
    a, b = smooth_scene(2), smooth_scene(3)
    seq = 0

    def step(pixels: np.ndarray, jump: int = 1, **meta: object) -> None:
        nonlocal seq
        seq += jump
        mem.previous_for(_frame(pixels, seq, **meta))
        mem.update(pixels)

    for _ in range(3):
        step(a)
    assert not mem.reasons and mem.recurrence.steps == 2  # a steady scene: the state is used
    step(b)
    assert mem.reasons["scene cut"] == 1
    step(b, discont=True)
    assert mem.reasons["reconnect"] == 1
    step(b, jump=5)
    assert mem.reasons["gap"] == 1
    step(b, jump=2)  # one dropped frame: the flow bridges it
    assert mem.reasons["gap"] == 1
    mem.reset("size change")
    assert mem.report() == "1 gap, 1 reconnect, 1 scene cut, 1 size change"
    # callers that never number their frames (seq stays 0) are not taken for gaps
    still = StreamMemory(RecurrenceSpec(scale=1))
    for _ in range(3):
        still.previous_for(Frame(a, pts=0, duration=0))
        still.update(a)
    assert not still.reasons and still.recurrence.steps == 2


@pytest.fixture(scope="module")
def tiny_vrestore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_tiny_vrestore(tmp_path_factory.mktemp("models"), "vrestore-tiny")


def test_export_runs_the_same_on_every_cpu_backend(tiny_vrestore: Path) -> None:
    card = ModelCard.load(tiny_vrestore)
    assert card.recurrent["state_input"] == "previous" and [t.name for t in card.inputs] == ["input", "previous"]
    x, prev = example_inputs(card, 2, 30, 42, seed=5)
    backends = ("ort", "openvino", "torch")
    outs = {b: load_engine(tiny_vrestore, backend=b, precision="fp32").infer(x, prev) for b in backends}
    for b, out in outs.items():
        assert out.shape == (2, 30, 42, 3)
        assert int(np.abs(out.astype(int) - outs["ort"]).max()) <= 1, b


def test_enhance_stage_feeds_back_and_reports_resets(tiny_vrestore: Path) -> None:
    stage = EnhanceStage(load_engine(tiny_vrestore, backend="ort"))
    assert stage.configure(VideoSpec(64, 48)) == VideoSpec(64, 48)
    a, b = smooth_scene(4), smooth_scene(5)
    outs = [stage.process(_frame(p, i))[0].pixels for i, p in enumerate([a, a, a, b])]
    assert stage.memory is not None and stage.memory.recurrence.steps == 2
    assert not np.array_equal(outs[0], outs[1])  # same frame, but the second one had a memory
    assert "1 scene cut" in stage.summary_line() and "no added latency" in stage.summary_line()


def test_shared_stages_batch_two_cameras_each_with_its_own_memory(tiny_vrestore: Path) -> None:
    engine = load_engine(tiny_vrestore, backend="ort")
    scenes = {"cam1": smooth_scene(6), "cam2": smooth_scene(7)}

    def run(shared: object) -> dict[str, list[np.ndarray]]:
        stages = {c: SharedEnhanceStage(shared, c, fps=25.0, depth=2) for c in scenes}  # type: ignore[arg-type]
        got: dict[str, list[np.ndarray]] = {c: [] for c in scenes}
        for i in range(3):
            for c, s in stages.items():
                got[c] += [f.pixels for f in s.process(_frame(scenes[c], i))]
        for c, s in stages.items():
            got[c] += [f.pixels for f in s.flush()]
            assert s.depth == 1 and s.memory is not None and s.memory.recurrence.steps == 2
        return got

    serial = run(SerialEngine(engine))
    batched = run(BatchingEngine(engine, max_batch=2))
    for c in scenes:
        assert len(serial[c]) == len(batched[c]) == 3
        for s_out, b_out in zip(serial[c], batched[c], strict=True):
            assert int(np.abs(s_out.astype(int) - b_out).max()) <= 1


def test_recurrent_training_resume_refuses_bounds_the_run_has_reached(tmp_path: Path) -> None:
    """`train recurrent --resume`: --steps and --minutes are the run's totals, as in the other trainers."""
    from ganstream.training.errors import ConfigError
    from ganstream.training.temporal.train import TemporalConfig, TemporalTrainer

    root = Path(__file__).resolve().parents[2]
    cfg = TemporalConfig(init=str(root / "engines" / "models" / "restore"), out=str(tmp_path / "run"), threads=1)
    first = TemporalTrainer(cfg)
    first.state.step, first.state.seconds = 500, 30 * 60.0
    first._save()
    resumed = TemporalTrainer(TemporalConfig(**{**cfg.__dict__, "steps": 1500, "minutes": 60.0}), resume=True)
    assert resumed.state.step == 500
    with pytest.raises(ConfigError, match=r"already at step 500; --steps is the run's total \(e\.g\. --steps 1500\)"):
        TemporalTrainer(TemporalConfig(**{**cfg.__dict__, "steps": 500}), resume=True)
    with pytest.raises(ConfigError, match=r"already trained 30\.0 minutes.*--minutes 60 for 30 more"):
        TemporalTrainer(TemporalConfig(**{**cfg.__dict__, "minutes": 20.0}), resume=True)


def test_recurrent_training_clean_mix_is_a_plain_downscale(tmp_path: Path) -> None:
    """`train recurrent --degrade clean` (to continue sr2x-clean): no blur, noise or codec in the input."""
    from ganstream.training.errors import ConfigError
    from ganstream.training.temporal.data import SequencePool
    from ganstream.training.temporal.train import TemporalConfig, TemporalTrainer

    root = Path(__file__).resolve().parents[2]
    init = str(root / "engines" / "models" / "sr2x-clean")
    trainer = TemporalTrainer(TemporalConfig(init=init, out=str(tmp_path / "run"), threads=1, degrade="clean"))
    pool = SequencePool(clips={"scene": [smooth_scene(k, 96, 96) for k in range(8)]}, photos=[])
    lr, hr = trainer.batch(pool, step=3)
    assert lr.shape[-3:-1] == (hr.shape[-3] // 2, hr.shape[-2] // 2)
    # a downscale of a smooth scene stays within a few levels of an area downscale: no noise, no blocks
    import cv2

    area = np.stack([[cv2.resize(f, lr.shape[-2:-4:-1], interpolation=cv2.INTER_AREA) for f in s] for s in hr])
    assert float(np.abs(lr.astype(np.float32) - area).mean()) < 1.5
    default = TemporalTrainer(TemporalConfig(init=init, out=str(tmp_path / "run2"), threads=1))
    assert default.degrade.h264_prob > 0 and trainer.degrade.h264_prob == 0
    with pytest.raises(ConfigError, match="--degrade must be one of"):
        TemporalConfig(init=init, degrade="blurry")
    with pytest.raises(ConfigError, match="--clip-prob must be between 0 and 1"):
        TemporalConfig(init=init, clip_prob=1.5)
    # real clips only: the (flat, so recognisable) photograph is never drawn; by default it is
    pool = SequencePool(
        clips={"scene": [smooth_scene(k, 96, 96) for k in range(8)]}, photos=[np.full((160, 160, 3), 7, np.uint8)]
    )
    only_clips = TemporalTrainer(TemporalConfig(init=init, out=str(tmp_path / "run3"), threads=1, clip_prob=1.0))
    assert not any((s == 7).all() for s in only_clips.batch(pool, step=5)[1])
    assert any((s == 7).all() for s in default.batch(pool, step=5)[1])


def test_recurrent_training_on_filtered_input_feeds_the_network_as_the_stage_does(tmp_path: Path) -> None:
    """`train recurrent --filtered-input`: each sequence's frames go through the restore stage's
    temporal filter before the network, and the memory runs on the filter's flow; restore only."""
    from ganstream.engines.temporal_blend import TemporalBlend
    from ganstream.training.errors import ConfigError
    from ganstream.training.temporal.train import SequenceInput, TemporalConfig, TemporalTrainer

    rng = np.random.default_rng(0)
    clean = [smooth_scene(0, 64, 96)] * 5  # a static camera
    noisy = [np.clip(f + rng.normal(0, 15, f.shape), 0, 255).astype(np.uint8) for f in clean]
    spec = RecurrenceSpec(scale=1)
    seq, raw = SequenceInput(spec, filtered=True), SequenceInput(spec, filtered=False)
    stage_filter, stage_memory = TemporalBlend(flow=spec.flow), Recurrence(spec)
    for k, f in enumerate(noisy):
        x, prev = seq.next(f)
        want = stage_filter.apply(f, f)
        assert np.array_equal(x, want)
        assert np.array_equal(prev, stage_memory.previous_for(want, stage_filter.last_flow))
        assert np.array_equal(raw.next(f)[0], f)
        out = np.ascontiguousarray(x)
        for s in (seq, raw):
            s.update(out)
        stage_memory.update(out)
        if k >= 2:  # the filter has averaged: less noise than the raw frame
            err = np.abs(x.astype(np.float32) - clean[k]).mean()
            assert err < 0.8 * np.abs(f.astype(np.float32) - clean[k]).mean()
    root = Path(__file__).resolve().parents[2]
    cfg = TemporalConfig(
        init=str(root / "engines" / "models" / "restore"), out=str(tmp_path / "run"), threads=1,
        filtered_input=True, batch=2, crop=32, length=3,
    )  # fmt: skip
    trainer = TemporalTrainer(cfg)
    lr = np.stack([np.stack(noisy[:3])[:, :32, :32]] * 2)
    assert np.isfinite(trainer.step(lr, np.stack([np.stack(clean[:3])[:, :32, :32]] * 2)))
    with pytest.raises(ConfigError, match="--filtered-input is for restore models"):
        TemporalTrainer(TemporalConfig(init=str(root / "engines" / "models" / "sr2x-clean"), out=str(tmp_path / "r2"),
                                       threads=1, filtered_input=True))  # fmt: skip
    # the shipped sr2x is a wide network (its body behind a pixel-unshuffle): no recurrent form
    with pytest.raises(ConfigError, match="pixel-unshuffle"):
        TemporalTrainer(TemporalConfig(init=str(root / "engines" / "models" / "sr2x"), out=str(tmp_path / "r3"),
                                       threads=1))  # fmt: skip


def _noisy_scene(seed: int, shift: int, frames: int) -> tuple[np.ndarray, np.ndarray, Any]:
    """A still smooth scene of `frames` frames, its sigma-15 noisy copy and a training pool of the
    clean frames: what the restore trainer tests train and validate on."""
    from ganstream.training.temporal.data import SequencePool

    rng = np.random.default_rng(seed)
    clean = np.stack([smooth_scene(shift, 48, 64)] * frames)
    noisy = np.clip(clean + rng.normal(0, 15, clean.shape), 0, 255).astype(np.uint8)
    return clean, noisy, SequencePool(clips={"scene": list(clean)}, photos=[])


def test_recurrent_training_loop_shows_progress_and_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A short run of the loop (on filtered input): a validation at step 0 and at the end, each a
    line above the time bar, and the run's log and best weights written."""
    import json

    from ganstream.training.temporal.train import TemporalConfig, TemporalTrainer

    root = Path(__file__).resolve().parents[2]
    cfg = TemporalConfig(
        init=str(root / "engines" / "models" / "restore"), out=str(tmp_path / "run"), threads=1,
        filtered_input=True, batch=2, crop=32, length=3, steps=2, minutes=5.0,
    )  # fmt: skip
    trainer = TemporalTrainer(cfg)
    clean, noisy, pool = _noisy_scene(1, 3, 4)
    state = trainer.run(pool, [(noisy, clean)])
    assert state.step == 2 and np.isfinite(state.single_frame_psnr)
    out = capsys.readouterr()
    assert "validation at step 0 (the --init model)" in out.out and "step 2 (" in out.out, out.out
    assert "train recurrent" in out.err
    assert len((tmp_path / "run" / "log.jsonl").read_text().splitlines()) == 1
    assert (tmp_path / "run" / "best.safetensors").exists()
    assert json.loads((tmp_path / "run" / "state.json").read_text())["step"] == 2


def test_single_frame_training_on_filtered_input_exports_the_single_frame_model(tmp_path: Path) -> None:
    """`train recurrent --single-frame --filtered-input`: the shipped single-frame restore trains on the
    filtered sequences without a memory, resumes, and exports as a single-frame model (its own
    architecture and I/O, no state input) that the engines run; the lineage is in the card."""
    import json

    from safetensors.torch import load_file

    from ganstream.training.errors import ConfigError
    from ganstream.training.temporal.export import export_run
    from ganstream.training.temporal.train import TemporalConfig, TemporalTrainer, WithoutMemory

    root = Path(__file__).resolve().parents[2]
    init = root / "engines" / "models" / "restore"
    cfg = TemporalConfig(
        init=str(init), out=str(tmp_path / "run"), threads=1, filtered_input=True, single_frame=True,
        batch=2, crop=32, length=3, steps=2, minutes=5.0, lr=1e-3,
    )  # fmt: skip
    trainer = TemporalTrainer(cfg)
    assert isinstance(trainer.model, WithoutMemory) and len(trainer.opt.param_groups) == 1
    clean, noisy, pool = _noisy_scene(2, 1, 4)
    state = trainer.run(pool, [(noisy, clean)])
    assert state.step == 2 and np.isfinite(state.single_frame_psnr)
    # the checkpoints hold the single-frame network's own weights, changed by training
    shipped = load_file(str(init / "model.safetensors"))
    last = load_file(str(tmp_path / "run" / "last.safetensors"))
    assert last.keys() == shipped.keys()
    assert any(not torch.equal(last[k], shipped[k]) for k in shipped)
    resumed = TemporalTrainer(TemporalConfig(**{**cfg.__dict__, "steps": 3}), resume=True)
    assert resumed.state.step == 2 and all(torch.equal(v, last[k]) for k, v in resumed.weights.state_dict().items())

    done = export_run(tmp_path / "run", tmp_path / "models", "restore-next")
    card = ModelCard.load(done.folder)
    shipped_card = ModelCard.load(init)
    assert card.arch == shipped_card.arch and not card.recurrent and card.limits == shipped_card.limits
    assert [i.name for i in card.inputs] == ["input"]
    assert {"--single-frame", "--filtered-input"} <= set(card.training["command"].split())
    assert card.training["continues"] == shipped_card.training and card.training["recipe"]["single_frame"] is True
    engine = load_engine(done.folder, backend="ort")
    frame = np.ascontiguousarray(noisy[0])
    out = engine.infer(frame[None])
    assert out.shape == (1, *frame.shape) and out.dtype == np.uint8
    assert json.loads((tmp_path / "run" / "config.json").read_text())["single_frame"] is True

    with pytest.raises(ConfigError, match="takes no --neighbours"):
        TemporalConfig(init=str(init), single_frame=True, neighbours=1)
    with pytest.raises(ConfigError, match="--single-frame needs a single-frame"):
        TemporalTrainer(TemporalConfig(init=str(root / "engines" / "models" / "vrestore"), out=str(tmp_path / "r2"),
                                       threads=1, single_frame=True))  # fmt: skip


def test_clips_only_runs_read_no_photographs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`--clip-prob 1.0` never draws a photograph, so the run does not load them (a machine that
    must carry its data can bring the clips alone)."""
    from ganstream.training.temporal import train as trainer_module

    calls = []

    class Loaded(Exception):
        pass

    def fake_load(data_dir: Path, split: str, max_frames: int, photos: bool = True) -> None:
        calls.append((split, photos))
        raise Loaded

    monkeypatch.setattr(trainer_module, "load_sequences", fake_load)
    init = str(Path(__file__).resolve().parents[2] / "engines" / "models" / "restore")
    for prob in (1.0, 0.6):
        cfg = trainer_module.TemporalConfig(init=init, out=str(tmp_path / f"run{prob}"), threads=1, clip_prob=prob)
        with pytest.raises(Loaded):
            trainer_module.train(cfg)
    assert calls == [("train", False), ("train", True)]


def test_filtered_share_mixes_raw_sequences_into_the_batch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`--filtered-share P`: about P of the sequences go through the filter, the rest stay raw (as a
    stream's first frames and single images reach the network); the draw is a pure function of the step."""
    from ganstream.training.errors import ConfigError
    from ganstream.training.temporal import train as trainer_module

    made: list[bool] = []
    real = trainer_module.SequenceInput

    def recording(spec: RecurrenceSpec, filtered: bool, memory: bool = True) -> object:
        made.append(filtered)
        return real(spec, filtered, memory)

    monkeypatch.setattr(trainer_module, "SequenceInput", recording)
    init = str(Path(__file__).resolve().parents[2] / "engines" / "models" / "restore")
    rng = np.random.default_rng(3)
    hr = rng.integers(0, 256, (8, 2, 32, 32, 3), dtype=np.uint8)
    draws = {}
    for share in (0.0, 0.5, 1.0):
        cfg = trainer_module.TemporalConfig(
            init=init, out=str(tmp_path / f"r{share}"), threads=1, filtered_input=True, filtered_share=share,
            batch=8, crop=32, length=2,
        )  # fmt: skip
        trainer = trainer_module.TemporalTrainer(cfg)
        made.clear()
        trainer.step(hr, hr)
        draws[share] = list(made)
    assert draws[0.0] == [False] * 8 and draws[1.0] == [True] * 8
    assert 0 < sum(draws[0.5]) < 8
    made.clear()
    trainer_module.TemporalTrainer(
        trainer_module.TemporalConfig(**{**cfg.__dict__, "filtered_share": 0.5, "out": str(tmp_path / "again")})
    ).step(hr, hr)
    assert made == draws[0.5]
    with pytest.raises(ConfigError, match="--filtered-share must be between 0 and 1"):
        trainer_module.TemporalConfig(init=init, filtered_share=1.5)


def test_a_compressed_mix_run_is_validated_on_the_h264_input_it_is_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`--degrade compressed` (sr): the validation clips are coded as `ganstream eval` codes them
    (libx264 CRF 30 of the area downscale), so the best checkpoint is the best on that input; a
    clean-input run validates on both of the eval's clean downscales (area and bicubic)."""
    import cv2

    from ganstream.training.metrics import psnr_y
    from ganstream.training.temporal import train as trainer_module
    from ganstream.training.temporal.data import SequencePool

    clip = [smooth_scene(k, 96, 128) for k in range(6)]
    monkeypatch.setattr(
        trainer_module, "load_sequences", lambda *a, **k: SequencePool(clips={"scene": clip}, photos=[])
    )
    init = str(Path(__file__).resolve().parents[2] / "engines" / "models" / "sr2x-clean")
    inputs = {}
    for mix in ("default", "compressed"):
        cfg = trainer_module.TemporalConfig(init=init, out=str(tmp_path / mix), threads=1, degrade=mix)
        items = trainer_module.TemporalTrainer(cfg).validation(tmp_path)
        inputs[mix] = [lr for lr, _ in items]
        gt = items[0][1]
        assert all(np.array_equal(g, gt) for _, g in items)
    size = (gt.shape[2] // 2, gt.shape[1] // 2)
    area = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in gt])
    bicubic = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_CUBIC) for f in gt])
    # clean input: both plain downscales, as `ganstream eval` has both rows
    assert len(inputs["default"]) == 2
    assert np.array_equal(inputs["default"][0], area) and np.array_equal(inputs["default"][1], bicubic)
    old_run = trainer_module.TemporalConfig.from_dict({"init": init, "out": str(tmp_path / "old")})
    assert not old_run.val_bicubic  # runs saved before validated on area alone, and keep doing so
    assert len(trainer_module.TemporalTrainer(old_run).validation(tmp_path)) == 1
    (coded,) = inputs["compressed"]  # the input it is trained for only
    assert coded.shape == area.shape and not np.array_equal(coded, area)
    assert 20.0 < np.mean([psnr_y(c, a, 0) for c, a in zip(coded, area, strict=True)]) < 50.0  # coded, still the scene


def test_validation_scores_the_moving_average_and_the_best_checkpoint_keeps_it(tmp_path: Path) -> None:
    """With --ema the scored model is the weights' moving average: best.safetensors holds it (not
    the last step's raw weights), a resumed run carries it on, and runs saved before it existed
    keep scoring their raw weights."""
    import json

    from safetensors.torch import load_file

    from ganstream.training.errors import ConfigError
    from ganstream.training.temporal.train import TemporalConfig, TemporalTrainer

    root = Path(__file__).resolve().parents[2]
    cfg = TemporalConfig(
        init=str(root / "engines" / "models" / "restore"), out=str(tmp_path / "run"), threads=1, single_frame=True,
        batch=2, crop=32, length=2, steps=3, minutes=5.0, lr=1e-2, ema_decay=0.9,
    )  # fmt: skip
    trainer = TemporalTrainer(cfg)
    clean, noisy, pool = _noisy_scene(3, 2, 3)
    trainer.run(pool, [(noisy, clean)])
    raw = {k: v.detach().cpu() for k, v in trainer.weights.state_dict().items()}
    averaged = {k: v.detach().cpu() for k, v in trainer.scored_weights.state_dict().items()}
    assert any(not torch.equal(raw[k], averaged[k]) for k in raw)  # the average lags the raw weights
    logged = json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[-1])["val_psnr_y"]
    assert trainer.validate([(noisy, clean)]) == pytest.approx(logged, abs=1e-9)  # the average was scored
    ema, trainer.ema = trainer.ema, None
    assert trainer.validate([(noisy, clean)]) != pytest.approx(logged, abs=1e-6)  # not the raw weights
    trainer.ema = ema
    saved_ema = load_file(str(tmp_path / "run" / "ema.safetensors"))
    assert all(torch.equal(saved_ema[k], averaged[k]) for k in averaged)
    if trainer.state.best_step == trainer.state.step:  # the last validation was the best: the average is kept
        best = load_file(str(tmp_path / "run" / "best.safetensors"))
        assert all(torch.equal(best[k], averaged[k]) for k in averaged)
    resumed = TemporalTrainer(TemporalConfig(**{**cfg.__dict__, "steps": 4}), resume=True)
    assert all(torch.equal(v.cpu(), averaged[k]) for k, v in resumed.scored_weights.state_dict().items())
    assert all(torch.equal(v.cpu(), raw[k]) for k, v in resumed.weights.state_dict().items())

    old = json.loads((tmp_path / "run" / "config.json").read_text())
    del old["ema_decay"]
    assert TemporalConfig.from_dict(old).ema_decay == 0.0
    plain = TemporalTrainer(TemporalConfig(**{**cfg.__dict__, "ema_decay": 0.0, "out": str(tmp_path / "plain")}))
    assert plain.ema is None and plain.scored is plain.model
    with pytest.raises(ConfigError, match="--ema"):
        TemporalConfig(init=cfg.init, ema_decay=1.0)


def test_subpixel_photo_sequences_move_by_half_pixels_of_an_unblurred_photo() -> None:
    from ganstream.training.temporal.data import _from_photo
    from ganstream.training.temporal.train import TemporalConfig

    # red = the photo's column, green = its row: a frame's mean colour says where its window was
    yy, xx = np.mgrid[0:250, 0:250]
    photo = np.stack([xx, yy, np.zeros_like(xx)], axis=2).astype(np.uint8)
    rng = np.random.default_rng(3)
    steps: list[float] = []
    for _ in range(20):
        seq = _from_photo(photo, 5, 32, rng, subpixel=True)
        assert seq is not None and seq.shape == (5, 32, 32, 3)
        # each frame is the area downscale of a 64-px window: neighbouring photo columns averaged
        assert np.abs(np.diff(seq[0, :, :, 0].astype(int), axis=1) - 2).max() <= 1
        pos = seq[..., :2].astype(np.float64).mean(axis=(1, 2))  # (frames, 2) window position + const
        steps += np.diff(pos, axis=0).ravel().tolist()
    # windows move by whole photo pixels: half pixels of the frames, and odd ones do occur
    assert np.allclose(steps, np.round(steps), atol=1e-6)
    assert any(round(s) % 2 for s in steps)
    with pytest.raises(ValueError, match="subpixel-share"):
        TemporalConfig(init="x", subpixel_share=1.5)
