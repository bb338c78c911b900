"""Triplet data, the bounded trainer (resumable), export of a run, and the evaluation command."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from ganstream.training.errors import CheckpointError, ConfigError, DataError
from ganstream.training.interp.clips import find_clips, load_clip, shot_starts
from ganstream.training.interp.evaluate import format_report, run_eval
from tests.helpers import run_cli

H, W, N = 64, 96, 12


def write_clip(folder: Path, n: int = N, step: int = 2, cut_at: int | None = None, seed: int = 0) -> Path:
    """PNG frames of a textured scene panning by `step` px per frame; a new scene from `cut_at` on."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    def scene(s: int) -> np.ndarray:
        noise = cv2.GaussianBlur(np.random.default_rng(s).normal(0, 1, (H, W + n * step, 3)), (0, 0), 4.0)
        return np.clip(128 + 80 * noise / noise.std(), 0, 255).astype(np.uint8)

    a, b = scene(int(rng.integers(1 << 30))), 255 - scene(int(rng.integers(1 << 30)))
    for i in range(n):
        src = b if cut_at is not None and i >= cut_at else a
        cv2.imwrite(str(folder / f"{i:04d}.png"), src[:, i * step : i * step + W])
    return folder


def test_clips_and_shots(tmp_path: Path) -> None:
    clip = load_clip(write_clip(tmp_path / "c", cut_at=7))
    assert len(clip.frames) == N and clip.size == (W, H)
    assert shot_starts(clip.frames) == [0, 7]
    assert find_clips([tmp_path]) == [tmp_path / "c"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no clips"):
        find_clips([tmp_path / "empty"])


def test_missing_data_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        find_clips([tmp_path / "nothing"])


def test_eval_leave_one_out_against_blend_and_minterpolate(tmp_path: Path) -> None:
    folder = write_clip(tmp_path / "clips" / "pan", n=11)
    result = run_eval([tmp_path / "clips"], ["flow"], ("blend", "minterpolate"), max_frames=11)
    m = result["methods"]
    assert m["flow"]["frames"] == m["blend"]["frames"] == m["minterpolate"]["frames"] == 5
    assert m["flow"]["psnr_y_db"] > m["blend"]["psnr_y_db"] + 3.0
    assert m["minterpolate"]["psnr_y_db"] > m["blend"]["psnr_y_db"]  # the baseline really ran
    assert "speedup_vs_minterpolate" in result["ratios"]["flow"]
    assert "minterpolate" in format_report(result) and folder.is_dir()


def test_eval_at_a_stride_rebuilds_the_middle_of_frames_further_apart(tmp_path: Path) -> None:
    """Stride 2: frame i from frames i - 2 and i + 2, twice the motion; minterpolate lines up."""
    from ganstream.training.interp.clips import load_clip
    from ganstream.training.interp.evaluate import left_out_indices

    write_clip(tmp_path / "clips" / "pan", n=21)
    assert left_out_indices(load_clip(tmp_path / "clips" / "pan"), 2) == [2, 6, 10, 14, 18]
    result = run_eval([tmp_path / "clips"], ["flow"], ("blend", "minterpolate"), max_frames=11, stride=2)
    m = result["methods"]
    assert m["flow"]["frames"] == m["blend"]["frames"] == m["minterpolate"]["frames"] == 5
    # A frame off would put minterpolate's answer 4 px away from the truth: not above blend.
    assert m["minterpolate"]["psnr_y_db"] > m["blend"]["psnr_y_db"] + 3.0
    assert m["flow"]["psnr_y_db"] > m["blend"]["psnr_y_db"] + 3.0
    assert format_report(result).startswith("stride 2: frame i rebuilt from frames i - 2 and i + 2")
    with pytest.raises(ConfigError, match="stride"):
        run_eval([tmp_path / "clips"], ["flow"], ("blend",), stride=0)


def test_eval_rejects_unknown_baselines(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="baseline"):
        run_eval([write_clip(tmp_path / "c")], ["flow"], ("bicubic",))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch", reason="training needs torch (the train extra)")
    from ganstream.training.interp.train import TrainConfig, train

    root = tmp_path_factory.mktemp("interp-train")
    data, val = write_clip(root / "train" / "a", n=10), write_clip(root / "val" / "b", n=7, seed=1)
    cfg = TrainConfig.from_preset("tiny", data=[str(data)], val=[str(val)], out=str(root / "run"), steps=4)
    state = train(cfg)
    assert state.step == 4 and np.isfinite(state.best_psnr) and np.isfinite(state.baseline_psnr)
    return root / "run"


def test_training_resumes_where_it_stopped(tiny_run: Path) -> None:
    from ganstream.training.interp.train import TrainConfig, train

    assert {p.name for p in tiny_run.iterdir()} >= {"config.json", "state.json", "last.safetensors", "best.safetensors"}
    cfg = TrainConfig(**{**json.loads((tiny_run / "config.json").read_text()), "steps": 6, "minutes": 5.0})
    with pytest.raises(CheckpointError, match="--resume"):
        train(cfg)
    assert train(cfg, resume=True).step == 6
    assert json.loads((tiny_run / "state.json").read_text())["step"] == 6
    # The bounds are the run's totals: one already reached is refused, with the figure to give.
    with pytest.raises(ConfigError, match=r"already at step 6; --steps is the run's total \(e\.g\. --steps 1006\)"):
        train(cfg, resume=True)
    with pytest.raises(ConfigError, match="--minutes is the run's total time"):
        train(TrainConfig(**{**asdict(cfg), "steps": 100, "minutes": 1e-6}), resume=True)


def test_init_takes_the_body_and_zeroes_the_heads(tiny_run: Path, tmp_path: Path) -> None:
    """`--init RUN`: the new run's body starts as RUN's best, its heads at zero, so step 0 is the
    classical base (flow's result in the presets) whatever RUN's heads had learned."""
    from safetensors.torch import load_file

    from ganstream.training.interp.train import TrainConfig, Trainer

    cfg = TrainConfig(**{**json.loads((tiny_run / "config.json").read_text()), "out": str(tmp_path / "r2")})
    assert cfg.base == "flow" and cfg.fallback() is not None
    model = Trainer(TrainConfig(**{**asdict(cfg), "init": str(tiny_run)})).model
    best = load_file(str(tiny_run / "best.safetensors"))
    own = model.state_dict()
    assert all(bool((own[k] == v).all()) for k, v in best.items() if k.startswith("enter_w0"))
    assert not any(bool(best[k].abs().sum()) == 0 for k in best if k.startswith("weight_head"))  # it learned
    assert all(bool(own[k].abs().sum() == 0) for k in own if k.startswith(("weight_head", "gate_head")))
    # a body of another size is one clear error
    with pytest.raises(CheckpointError, match="does not match"):
        Trainer(TrainConfig(**{**asdict(cfg), "num_feat": 12, "init": str(tiny_run)}))
    with pytest.raises(CheckpointError, match=r"no best\.safetensors"):
        Trainer(TrainConfig(**{**asdict(cfg), "init": str(tmp_path)}))
    with pytest.raises(ConfigError, match="base must be"):
        TrainConfig(**{**asdict(cfg), "base": "median"})


def test_unknown_preset() -> None:
    pytest.importorskip("torch")
    from ganstream.training.interp.train import TrainConfig

    with pytest.raises(ConfigError, match="preset"):
        TrainConfig.from_preset("huge", data=[], out="x")
    with pytest.raises(ConfigError, match="--val-every must be a positive"):
        TrainConfig.from_preset("tiny", data=[], out="x", val_every_s=0.0)


def test_the_run_records_the_fallback_it_trained_with() -> None:
    """A `flow`-based run keeps the fallback's parameters it started with: its export rebuilds that
    graph even where `flow`'s defaults have changed since; runs saved before the field get today's."""
    pytest.importorskip("torch")
    from ganstream.engines.flow import Fallback
    from ganstream.training.interp.train import TrainConfig

    saved = asdict(TrainConfig.from_preset("tiny", data=[], out="x"))
    assert saved["base"] == "flow" and saved["fallback_params"] == asdict(Fallback())
    saved["fallback_params"] = {**saved["fallback_params"], "share": 0.25}
    assert TrainConfig.from_dict(json.loads(json.dumps(saved))).fallback() == saved["fallback_params"]
    older = {k: v for k, v in saved.items() if k != "fallback_params"}
    assert TrainConfig.from_dict(older).fallback() == asdict(Fallback())
    assert TrainConfig.from_dict({**older, "base": "average"}).fallback() is None


def test_export_command_and_eval_of_the_exported_model(
    tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    proc = run_cli("export", str(tiny_run), "--name", "interp-tiny", "--out", str(models), timeout=300)
    assert proc.returncode == 0, proc.stderr
    card = json.loads((models / "interp-tiny" / "card.json").read_text())
    assert card["task"] == "interp" and card["training"]["export_parity_max_abs_diff"] <= 1
    clips = write_clip(tmp_path / "clips" / "c", n=7, seed=2)
    monkeypatch.setenv("GANSTREAM_MODELS", str(models))  # the CLI child inherits it
    proc = run_cli("eval", "flow,interp-tiny", "--clips", str(clips), "--baseline", "blend", timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0] for line in proc.stdout.splitlines()[1:4]}
    assert rows == {"flow", "interp-tiny", "blend"}, proc.stdout


def test_export_of_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    proc = run_cli("export", str(tmp_path), "--name", "x", "--out", str(tmp_path / "m"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr


def test_crop_bank_at_measured_capture_times(tmp_path: Path) -> None:
    """A pan whose odd frames were captured late (3 px of a 4 px step): measured t is 0.75, not 0.5,
    and the bank's warps are made at that t, so they match the target better than at t = 0.5."""
    from ganstream.training.interp.data import build_crop_bank

    folder = tmp_path / "late"
    folder.mkdir()
    noise = cv2.GaussianBlur(np.random.default_rng(5).normal(0, 1, (H, W + 64, 3)), (0, 0), 3.0)
    scene = np.clip(128 + 80 * noise / noise.std(), 0, 255).astype(np.uint8)
    for i in range(7):
        x = 4 * (i // 2) + (3 if i % 2 else 0) if i % 2 else 2 * i
        cv2.imwrite(str(folder / f"{i:04d}.png"), scene[:, x : x + W])
    kw = {"crop": 48, "crops_per_sample": 1, "stride2": 2, "stride3": 100}
    even = build_crop_bank([folder], **kw)
    timed = build_crop_bank([folder], measured_t=True, **kw)
    halves = np.isclose(even.t, 0.5)  # the 3-frame windows (4-frame ones give t = 1/3, 2/3)
    assert halves.sum() == 3
    assert np.allclose(timed.t[halves], 0.75, atol=0.08), timed.t

    def warp_error(bank: object, t: np.ndarray) -> float:
        imgs = bank.images[halves].astype(np.float64)  # type: ignore[attr-defined]
        w = t[halves].reshape(-1, 1, 1, 1)
        mix = (1 - w) * imgs[:, 2] + w * imgs[:, 3]
        return float(np.abs(mix - imgs[:, 4])[:, 8:-8, 8:-8].mean())

    assert warp_error(timed, timed.t) < 0.5 * warp_error(even, even.t)


def test_crop_bank_at_one_half_only(tmp_path: Path) -> None:
    """`stride3` 0: only 3-frame windows, every sample at t = 1/2 (what the live stage's
    `--interpolate 2` and the eval ask for); the default adds t = 1/3 and 2/3."""
    from ganstream.training.interp.data import build_crop_bank

    clip = write_clip(tmp_path / "c", n=10)
    kw = {"crop": 48, "crops_per_sample": 1, "stride2": 2}
    halves = build_crop_bank([clip], stride3=0, **kw)
    assert len(halves) == 4 and np.all(halves.t == 0.5)
    mixed = build_crop_bank([clip], stride3=4, **kw)
    assert sorted({round(float(t), 3) for t in mixed.t}) == [0.333, 0.5, 0.667]


def test_cli_resume_keeps_the_runs_recipe_and_bad_input_is_one_line(tmp_path: Path) -> None:
    """`--resume` continues with the run's own network and data settings (only the bounds, the
    device and the validation interval may change); a missing run and an unusable `--device` are one-line errors."""
    torch = pytest.importorskip("torch", reason="training needs torch (the train extra)")
    data, val = write_clip(tmp_path / "train" / "a", n=10), write_clip(tmp_path / "val" / "b", n=7, seed=1)
    run = tmp_path / "run"
    common = ("train", "interp", "--data", str(data), "--val", str(val), "--preset", "tiny", "--out", str(run))
    proc = run_cli(*common, "--steps", "3", "--num-feat", "8", check=True, timeout=300)
    # progress: a bar over the run's time, and one line per validation
    assert "train interp" in proc.stderr and "classical base (flow)" in proc.stdout, proc.stdout + proc.stderr
    assert "validation" in proc.stdout.split("classical base (flow)", 1)[1]
    proc = run_cli(*common, "--steps", "5", "--num-feat", "16", "--val-every", "7", "--resume", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((run / "state.json").read_text())["step"] == 5
    saved = json.loads((run / "config.json").read_text())
    assert saved["num_feat"] == 8 and saved["val_every_s"] == 7.0
    proc = run_cli(*common[:-1], str(tmp_path / "none"), "--resume")
    assert proc.returncode == 2 and "cannot resume" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    if not torch.cuda.is_available():
        proc = run_cli(*common[:-1], str(tmp_path / "gpu"), "--device", "cuda")
        assert proc.returncode == 2 and "--device cuda: torch has no CUDA device here" in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
