"""The two-stage trainer: PSNR-oriented pretraining, then GAN fine-tuning from it.

One code path for a single process and for ``torchrun`` (DistributedDataParallel; gloo on CPU,
NCCL on CUDA). Rank 0 validates, logs and saves. bf16 autocast + channels_last on CPUs that
support bf16, fp16 AMP with a gradient scaler on CUDA. EMA of the generator is what validation
and export use. Batches depend only on (seed, step, rank), so a resumed run continues bit-exact.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ganstream.engines.archs import build_generator
from ganstream.training import losses
from ganstream.training.checkpoint import (
    load_checkpoint,
    load_model_folder,
    load_weights,
    read_state,
    save_checkpoint,
)
from ganstream.training.codec import EVAL_H264_CRF, even_area_downscale, h264_roundtrip
from ganstream.training.config import CONFIG_FILE, TrainConfig
from ganstream.training.dataset import BatchStream, Pool, load_pool, validation_clip_crops, validation_crops
from ganstream.training.degrade import DegradeConfig, degrade_preset
from ganstream.training.discriminator import UNetDiscriminatorSN
from ganstream.training.errors import CheckpointError, ConfigError
from ganstream.training.metrics import psnr_y
from ganstream.training.plot import plot_run
from ganstream.training.presets import SR_PRESETS, generator_arch
from ganstream.training.resume_bounds import check_resume_bounds
from ganstream.training.weight_average import update_average

VAL_NOISE_SIGMA = 15.0  # restore validation: clipped Gaussian noise, in uint8 levels


def degrade_config(cfg: TrainConfig) -> DegradeConfig:
    base = degrade_preset(cfg.degrade, cfg.task)
    if cfg.h264_prob is not None:
        base = replace(base, h264_prob=cfg.h264_prob)
    if cfg.h264_crf is not None:
        base = replace(base, h264_crf=(cfg.h264_crf[0], cfg.h264_crf[1]))
    if cfg.clean_prob is not None:
        base = replace(base, clean_prob=cfg.clean_prob)
    if cfg.blur_prob is not None:
        base = replace(base, blur_prob=cfg.blur_prob)
    if cfg.coded_gt_prob:
        base = replace(base, coded_gt_prob=cfg.coded_gt_prob)
    if cfg.soft_gt_prob:
        base = replace(base, soft_gt_prob=cfg.soft_gt_prob)
    return base


def _body_of(arch: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """An arch without its scale: generators with equal bodies share every tensor but the last layer's."""
    params = {k: v for k, v in arch.get("params", {}).items() if k != "scale"}
    return arch.get("name", ""), params


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    desc = f"{cpu}, {os.cpu_count()} logical CPUs"
    if torch.cuda.is_available():
        desc += f", GPU {torch.cuda.get_device_name(0)}"
    return desc


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed() -> Dist:
    """Join the process group when started by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world <= 1:
        return Dist(device=torch.device("cuda" if cuda else "cpu"))
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    return Dist(rank=rank, world=world, device=device)


def amp_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    if cfg.amp == "off":
        return None
    if device.type == "cuda":
        return torch.float16
    bf16_ok = bool(getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)())
    return torch.bfloat16 if bf16_ok else None


def lr_at(step: int, total: int, base: float) -> float:
    """Short warm-up, then cosine decay to 10 %: short runs still end on a low learning rate."""
    warm = max(1, total // 50)
    if step < warm:
        return base * (step + 1) / warm
    p = (step - warm) / max(1, total - warm)
    return base * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, p))))


class EMA:
    """Exponential moving average of the generator's weights (warm-up so early EMA is not stale)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = build_generator(model.arch)  # type: ignore[arg-type]
        self.model.load_state_dict(model.state_dict())
        self.model.requires_grad_(False)

    def update(self, model: nn.Module, step: int) -> None:
        update_average(self.model, model, self.decay, step)


def unwrap(m: nn.Module) -> nn.Module:
    inner = getattr(m, "module", m)
    assert isinstance(inner, nn.Module)
    return inner


def coded_validation_inputs(crops: list[np.ndarray], scale: int) -> list[np.ndarray]:
    """Each crop area-downscaled by `scale`, then through libx264 at the eval's CRF (an intra frame of
    its own): what the compressed half of `sr2x-auto` is for, measured on the selection split while
    it trains."""
    return [h264_roundtrip(even_area_downscale(hr, scale)[None], crf=EVAL_H264_CRF)[0] for hr in crops]


def coded_clip_validation(clips: list[list[np.ndarray]], scale: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(input, ground truth) of each clip's last frame, the clip area-downscaled by `scale` and coded
    as one stream at the eval's CRF: a predicted frame, quantised harder than an intra frame, as
    most frames of a camera's stream are (`python -m ganstream.training.coded_frame_gain`)."""
    out = []
    for clip in clips:
        if len(clip) < 2:
            continue
        low = np.stack([even_area_downscale(hr, scale) for hr in clip])
        last = h264_roundtrip(low, crf=EVAL_H264_CRF)[-1]
        out.append((last, clip[-1][: last.shape[0] * scale, : last.shape[1] * scale]))
    return out


@torch.no_grad()
def validate(
    model: nn.Module,
    crops: list[np.ndarray],
    cfg: TrainConfig,
    device: torch.device,
    coded: list[np.ndarray] | None = None,
    coded_clips: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, float]:
    """Y-PSNR of the model and of the classical baseline on fixed validation crops; with `coded`
    (sr: the crops' H.264 inputs, `coded_validation_inputs`) also on those, and with `coded_clips`
    (`coded_clip_validation`) on predicted frames of coded clips."""
    import cv2

    from ganstream.engines.residual_gain import bicubic

    model.eval()
    ours, base = [], []
    rng = np.random.default_rng(12345)

    def run(lr: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(lr).permute(2, 0, 1)[None].float().div(255.0).to(device)
        return np.asarray(model(x).clamp(0, 1).mul(255.0).round().byte()[0].permute(1, 2, 0).cpu().numpy())

    for hr in crops:
        if cfg.task == "sr":
            h, w = hr.shape[0] // cfg.scale, hr.shape[1] // cfg.scale
            lr = np.asarray(cv2.resize(hr, (w, h), interpolation=cv2.INTER_AREA), dtype=np.uint8)
            ref = bicubic(lr, cfg.scale)
        else:
            noise = rng.normal(0.0, VAL_NOISE_SIGMA, size=hr.shape)
            lr = np.clip(hr.astype(np.float64) + noise + 0.5, 0, 255).astype(np.uint8)
            ref = lr
        ours.append(psnr_y(run(lr), hr, border=cfg.scale))
        base.append(psnr_y(ref, hr, border=cfg.scale))
    name = "bicubic" if cfg.task == "sr" else "noisy"
    out = {"psnr_y": float(np.mean(ours)), f"psnr_y_{name}": float(np.mean(base))}
    coded_crops = (
        [(lr, hr[: lr.shape[0] * cfg.scale, : lr.shape[1] * cfg.scale]) for lr, hr in zip(coded, crops, strict=True)]
        if coded
        else []
    )
    for key, pairs in (("psnr_y_h264", coded_crops), ("psnr_y_h264_clip", coded_clips or [])):
        if pairs:
            out[key] = float(np.mean([psnr_y(run(lr), hr, border=cfg.scale) for lr, hr in pairs]))
            out[f"{key}_bicubic"] = float(
                np.mean([psnr_y(bicubic(lr, cfg.scale), hr, border=cfg.scale) for lr, hr in pairs])
            )
    return out


class Logger:
    """metrics.jsonl always; TensorBoard when installed."""

    def __init__(self, run_dir: Path, enabled: bool) -> None:
        self.enabled = enabled
        self.path = run_dir / "metrics.jsonl"
        self.tb: Any = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run_dir / "tb"))
            except ImportError:
                self.tb = None

    def log(self, kind: str, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps({"kind": kind, "step": step, **values}) + "\n")
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(f"{kind}/{k}", v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


class Trainer:
    def __init__(self, cfg: TrainConfig, run_dir: Path, resume: bool = False, command: str = "") -> None:
        self.cfg, self.run_dir = cfg, run_dir
        self.dist = init_distributed()
        self.device = self.dist.device
        self.command = command or " ".join(sys.argv)
        torch.manual_seed(cfg.seed)
        self.arch = generator_arch(cfg.task, cfg.preset, cfg.scale)
        self.G = build_generator(self.arch).to(self.device)
        self.G.arch = self.arch  # type: ignore[assignment]
        if cfg.init and not resume:
            self._init_from(Path(cfg.init))
        self.ema = EMA(self.G, cfg.ema_decay)
        self.ema.model.to(self.device)
        self.D: nn.Module | None = (
            UNetDiscriminatorSN(num_feat=cfg.d_feat).to(self.device) if cfg.stage == "gan" else None
        )
        self.amp = amp_dtype(cfg, self.device)
        if cfg.channels_last:
            self.G.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            if self.D is not None:
                self.D.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=(0.9, 0.99))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=(0.9, 0.99)) if self.D else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.device.type == "cuda" and self.amp == torch.float16)
        self.step = 0
        self.elapsed = 0.0
        self.history: list[dict[str, float]] = []
        self.commands = [self.command]
        if resume:
            state = load_checkpoint(run_dir, self._modules(), self._optimizers())
            self.step, self.elapsed = int(state["step"]), float(state["elapsed_s"])
            self.commands = [*state.get("commands", []), self.command]
            self.history = list(state.get("validation", []))
            if "scaler" in state and self.scaler.is_enabled():
                self.scaler.load_state_dict(state["scaler"])
        self.Gd: nn.Module = self.G
        self.Dd: nn.Module | None = self.D
        if self.dist.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.Gd = nn.parallel.DistributedDataParallel(self.G, device_ids=ids)
            if self.D is not None:
                self.Dd = nn.parallel.DistributedDataParallel(self.D, device_ids=ids)
        self.pool, self.manifest_sha = load_pool(Path(cfg.data), "train", min_side=cfg.crop + 4)
        if not self.pool.photos and not self.pool.runs:
            raise ConfigError(f"{cfg.data}: no training image is at least {cfg.crop + 4} px on its short side")
        val_pool: Pool = load_pool(Path(cfg.data), "selection", min_side=64)[0]
        self.val_crops = validation_crops(val_pool, cfg.val_size)
        # a run that trains on H.264 input is also validated on it (only the main process validates)
        coded = self.dist.main and cfg.task == "sr" and degrade_config(cfg).h264_prob > 0
        self.val_coded = coded_validation_inputs(self.val_crops, cfg.scale) if coded else None
        self.val_coded_clips = (
            coded_clip_validation(validation_clip_crops(val_pool, cfg.val_size), cfg.scale) if coded else None
        )

    def _init_from(self, source: Path) -> None:
        """Start from another run's EMA generator, or from an exported model folder.

        The gan stage needs the same architecture. A psnr run may warm-start from a generator of
        another scale with the same width and depth: every tensor but the last layer carries over.
        """
        if (source / CONFIG_FILE).is_file():
            init_cfg = TrainConfig.load(source)
            init_arch = generator_arch(init_cfg.task, init_cfg.preset, init_cfg.scale)
            weights = load_weights(source, "generator_ema")
        else:
            init_arch, weights = load_model_folder(source)
        if init_arch == self.arch:
            self.G.load_state_dict(weights)
            return
        if self.cfg.stage == "gan" or _body_of(init_arch) != _body_of(self.arch):
            hint = next(
                (
                    f" (it is the {name!r} preset: add --preset {name})"
                    for name in SR_PRESETS
                    if self.cfg.task == "sr"
                    and _body_of(generator_arch("sr", name, self.cfg.scale)) == _body_of(init_arch)
                ),
                "",
            )
            raise CheckpointError(
                f"--init {source}: its generator {init_arch} differs from this run's {self.arch}{hint}"
            )
        own = self.G.state_dict()
        fitting = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
        self.G.load_state_dict({**own, **fitting})

    def _modules(self) -> dict[str, nn.Module]:
        mods: dict[str, nn.Module] = {"generator": self.G, "generator_ema": self.ema.model}
        if self.D is not None:
            mods["discriminator"] = self.D
        return mods

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        opts: dict[str, torch.optim.Optimizer] = {"generator": self.opt_g}
        if self.opt_d is not None:
            opts["discriminator"] = self.opt_d
        return opts

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp)

    def _prep(self, t: torch.Tensor) -> torch.Tensor:
        t = t.flatten(0, 1).to(self.device, non_blocking=True)
        return t.contiguous(memory_format=torch.channels_last) if self.cfg.channels_last else t

    def train_step(self, lr: torch.Tensor, hr: torch.Tensor) -> dict[str, float]:
        """One optimisation step on a batch of frame pairs (B, 2, 3, h, w); returns the losses."""
        cfg = self.cfg
        b = lr.shape[0]
        x, y = self._prep(lr), self._prep(hr)
        for g in self.opt_g.param_groups:
            g["lr"] = lr_at(self.step, cfg.steps, cfg.lr_g)
        with self._autocast():
            out = self.Gd(x)
        out = out.float()
        l_pix = losses.pixel_loss(out, y, cfg.pixel)
        o2, y2 = out.view(b, 2, *out.shape[1:]), y.view(b, 2, *y.shape[1:])
        l_tmp = losses.temporal_loss(o2[:, 0], o2[:, 1], y2[:, 0], y2[:, 1])
        loss = cfg.pixel_weight * l_pix + cfg.temporal_weight * l_tmp
        logs = {"loss_pix": l_pix.item(), "loss_temporal": l_tmp.item()}
        if self.Dd is not None and self.opt_d is not None:
            # one discriminator call per backward (real and fake together): DDP expects that
            with self._autocast():
                logits, feats = self.Dd(torch.cat([out, y]))
            fake_l, real_l = logits.float().chunk(2)
            l_adv = losses.generator_adv_loss(fake_l, real_l, cfg.adv)
            l_fm = losses.feature_matching(
                [f.float().chunk(2)[0] for f in feats], [f.float().chunk(2)[1] for f in feats]
            )
            loss = loss + cfg.adv_weight * l_adv + cfg.fm_weight * l_fm
            logs |= {"loss_adv": l_adv.item(), "loss_fm": l_fm.item()}
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt_g)
        if self.Dd is not None and self.opt_d is not None:
            for g in self.opt_d.param_groups:
                g["lr"] = lr_at(self.step, cfg.steps, cfg.lr_d)
            self.opt_d.zero_grad(set_to_none=True)
            with self._autocast():
                logits, _ = self.Dd(torch.cat([out.detach(), y]))
            fake_l, real_l = logits.float().chunk(2)
            l_d = losses.discriminator_loss(real_l, fake_l, cfg.adv)
            self.scaler.scale(l_d).backward()
            self.scaler.step(self.opt_d)
            logs["loss_d"] = l_d.item()
        self.scaler.update()
        self.ema.update(self.G, self.step)
        self.step += 1
        return logs

    def batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        cfg = self.cfg
        stream = BatchStream(
            self.pool, cfg.batch, cfg.crop, cfg.scale, degrade_config(cfg), cfg.seed, self.step, self.dist.rank
        )
        if cfg.workers <= 0:
            yield from stream
            return
        loader = torch.utils.data.DataLoader(
            stream, batch_size=None, num_workers=cfg.workers, prefetch_factor=4, worker_init_fn=_worker_init
        )
        yield from loader

    def save(self) -> None:
        if not self.dist.main:
            return
        state = {
            "step": self.step,
            "elapsed_s": self.elapsed,
            "world_size": self.dist.world,
            "arch": self.arch,
            "validation": self.history,
            "data_manifest_sha256": self.manifest_sha,
            "machine": machine_description(),
            "amp": str(self.amp).replace("torch.", "") if self.amp else "fp32",
            "command": self.command,
            "commands": self.commands,  # the first start, then each resume
        }
        if self.scaler.is_enabled():
            state["scaler"] = self.scaler.state_dict()
        save_checkpoint(self.run_dir, self._modules(), self._optimizers(), state)

    def run(self) -> dict[str, float]:
        """Train to cfg.steps (or cfg.max_minutes), validating and saving on the way."""
        from tqdm import tqdm

        cfg = self.cfg
        if self.dist.main:
            cfg.save(self.run_dir)
        logger = Logger(self.run_dir, self.dist.main)
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not self.dist.main, dynamic_ncols=True, desc=cfg.stage)
        start = time.monotonic() - self.elapsed
        last: dict[str, float] = {}
        self.G.train()
        if self.D is not None:
            self.D.train()
        try:
            for lr, hr in self.batches():
                if self.step >= cfg.steps:
                    break
                logs = self.train_step(lr, hr)
                self.elapsed = time.monotonic() - start
                bar.update(1)
                if self.step % 10 == 0 or self.step == cfg.steps:
                    bar.set_postfix({k.removeprefix("loss_"): f"{v:.4f}" for k, v in logs.items()})
                    logger.log("train", self.step, logs)
                over_time = cfg.max_minutes > 0 and self.elapsed > cfg.max_minutes * 60
                if self.dist.world > 1:
                    flag = torch.tensor([int(over_time)])
                    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                    over_time = bool(flag.item())
                done = self.step >= cfg.steps or over_time
                if self.dist.main and (self.step % cfg.val_every == 0 or done):
                    last = validate(
                        self.ema.model, self.val_crops, cfg, self.device, self.val_coded, self.val_coded_clips
                    )
                    self.history.append({"step": self.step, **last})
                    logger.log("val", self.step, last)
                    bar.write(f"step {self.step}: " + ", ".join(f"{k} {v:.2f}" for k, v in last.items()))
                    self.G.train()
                if self.step % cfg.ckpt_every == 0 or done:
                    self.save()
                    if self.dist.main:
                        plot_run(self.run_dir)
                if done:
                    break
        finally:
            bar.close()
            logger.close()
        if self.dist.world > 1:
            dist.barrier()
        return last


def _worker_init(_: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def resume_config(run_dir: Path, steps: int | None = None, minutes: float | None = None) -> TrainConfig:
    """The run's config, optionally with a new step total or time bound (both change only when given)."""
    cfg = TrainConfig.load(run_dir)
    state = read_state(run_dir)  # fail early with a clear line if there is no checkpoint
    check_resume_bounds(run_dir, int(state.get("step", 0)), float(state.get("elapsed_s", 0.0)), steps, minutes)
    if steps is not None:
        cfg.steps = steps
    if minutes is not None:
        cfg.max_minutes = minutes
    return cfg


def lr_loss_reference(model: nn.Module, lr: torch.Tensor, hr: torch.Tensor) -> float:
    """Pixel loss of `model` on a batch, without training (used by tests and sanity checks)."""
    with torch.no_grad():
        return float(F.l1_loss(model(lr.flatten(0, 1)), hr.flatten(0, 1)))
