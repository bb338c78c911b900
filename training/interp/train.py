"""``ganstream train interp``: train the synthesis network on real-clip triplets, bounded in time.

The run folder holds ``config.json``, ``state.json`` (step, seconds, best validation figures),
``last.safetensors`` (network, discriminator and optimiser tensors: resumable) and
``best.safetensors`` (the network with the best validation PSNR, what export ships), plus
``log.jsonl`` with one line per validation.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from ganstream.engines.archs.interp_fusion import FlowFusionNet
from ganstream.engines.flow import Fallback, FlowOptions, fuse_warped
from ganstream.stream.stages.interp_synth import CLASSICAL_FLOW
from ganstream.training.checkpoint import cpu_state, flat_optimizer, training_device, unflat_optimizer
from ganstream.training.errors import CheckpointError, ConfigError
from ganstream.training.interp.data import CropBank, FullSample, build_crop_bank, build_validation
from ganstream.training.interp.losses import TripletDiscriminator, d_hinge_loss, g_hinge_loss, laplacian_l1
from ganstream.training.interp.metrics import psnr_y
from ganstream.training.resume_bounds import check_resume_bounds
from ganstream.training.time_bar import TimeBar
from ganstream.training.timed_loop import cosine_lr, timed_loop

log = logging.getLogger(__name__)

PRESETS: dict[str, dict[str, Any]] = {
    # seconds of work, for tests and smoke runs
    "tiny": {
        "minutes": 0.3, "steps": 30, "batch": 4, "crop": 64, "num_feat": 8, "num_conv": 1,
        "crops_per_sample": 1, "stride2": 6, "stride3": 12, "max_frames": 16, "val_frames": 7, "val_every_s": 5.0,
        "base": "flow",
    },
    # the shipped model: ~15 minutes on a 2-core CPU
    "small": {"minutes": 15.0, "steps": 1_000_000, "base": "flow"},
}  # fmt: skip


BASES = ("flow", "average")


@dataclass
class TrainConfig:
    data: list[str]
    out: str
    val: list[str] = field(default_factory=list)
    preset: str = "small"
    minutes: float = 20.0
    steps: int = 1_000_000
    batch: int = 8
    crop: int = 128
    lr: float = 5e-4
    num_feat: int = 24
    num_conv: int = 2
    coarse: int = 0  # coarse levels of the body (1/8, 1/16 ...): a wider view per pixel
    measured_t: bool = False  # train at each target's measured capture time (see data.build_crop_bank)
    # bicubic warps, as `flow` makes them (docs/interpolation.md, The classical path, step 3);
    # the exported card says which, and the runtime warps the same way
    cubic_warp: bool = True
    # the flow `flow` computes, so the untrained network starts at `flow`'s warps
    flow: dict[str, Any] = field(default_factory=lambda: asdict(CLASSICAL_FLOW))
    # what the untrained network returns: "flow", `flow`'s result (the average of the warps with
    # the cross-fade fallback, computed in the graph), or "average", the plain average of the
    # warps (runs from before the field)
    base: str = "average"
    # base "flow": the fallback's parameters the run trained with, recorded at its start so that
    # an export rebuilds the same graph even if `flow`'s defaults change later
    fallback_params: dict[str, Any] | None = None
    # a run folder whose best network's body (not its heads) starts this run: what it learned
    # is kept, and the zero heads still start at `base`
    init: str = ""
    device: str = "cpu"  # "cuda": the network on a GPU (the flows and warps stay on the CPU)
    machine: str = ""  # where the run trained (filled in at its start; the card says it)
    adv_weight: float = 1e-3
    adv_start: float = 0.5  # share of the budget trained on the pyramid loss alone
    crops_per_sample: int = 3
    stride2: int = 2
    # every stride3-th 4-frame window gives samples at t = 1/3 and 2/3; 0: none, t = 1/2 only
    stride3: int = 4
    max_frames: int = 600
    val_frames: int = 21
    val_every_s: float = 60.0
    seed: int = 0
    threads: int = 1  # on a shared 2-core machine one busy thread beats two waiting on each other

    @classmethod
    def from_preset(cls, preset: str, **overrides: Any) -> TrainConfig:
        if preset not in PRESETS:
            raise ConfigError(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        known = {f.name for f in fields(cls)}
        kw = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None and k in known}}
        return cls(preset=preset, **kw)

    def __post_init__(self) -> None:
        if self.base not in BASES:
            raise ConfigError(f"base must be one of {', '.join(BASES)}, got {self.base!r}")
        if not self.val_every_s > 0:
            raise ConfigError(f"--val-every must be a positive number of seconds, got {self.val_every_s}")
        if self.base == "flow" and self.fallback_params is None:  # a new run, or one saved before the field
            self.fallback_params = asdict(Fallback())

    def fallback(self) -> dict[str, Any] | None:
        """The network's `fallback` parameters: `flow`'s (as recorded), or None for the plain average."""
        return dict(self.fallback_params) if self.base == "flow" and self.fallback_params is not None else None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """A saved run's config (``config.json``); fields a later release dropped are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class TrainState:
    step: int = 0
    seconds: float = 0.0
    best_psnr: float = float("-inf")
    best_step: int = 0
    baseline_psnr: float = float("nan")  # the untrained network's classical base on the same validation frames


def _batch(bank: CropBank, idx: np.ndarray, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    imgs = torch.from_numpy(bank.images[idx]).permute(0, 1, 4, 2, 3).float() / 255.0  # N,5,3,h,w
    flows = torch.from_numpy(bank.flows[idx].astype(np.float32)).permute(0, 3, 1, 2)  # N,4,h,w
    t = torch.from_numpy(bank.t[idx]).view(-1, 1)
    if rng.random() < 0.5:  # horizontal flip: x components change sign
        imgs, flows = imgs.flip(-1), flows.flip(-1)
        flows[:, 0::2] = -flows[:, 0::2]
    if rng.random() < 0.5:  # vertical flip
        imgs, flows = imgs.flip(-2), flows.flip(-2)
        flows[:, 1::2] = -flows[:, 1::2]
    if rng.random() < 0.5:  # time reversal: frame0 <-> frame1, t -> 1 - t
        imgs = imgs[:, [1, 0, 3, 2, 4]]
        flows = flows[:, [2, 3, 0, 1]]
        t = 1.0 - t
    return {
        "frame0": imgs[:, 0], "frame1": imgs[:, 1], "warped0": imgs[:, 2], "warped1": imgs[:, 3],
        "target": imgs[:, 4], "flow_t0": flows[:, :2], "flow_t1": flows[:, 2:], "t": t,
    }  # fmt: skip


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()


def run_model(model: FlowFusionNet, s: FullSample) -> np.ndarray:
    """The network on one whole frame (padded to its multiple, cropped back), as uint8 RGB."""
    h, w = s.target.shape[:2]
    m = model.multiple
    ph, pw = -(-h // m) * m, -(-w // m) * m
    device = next(model.parameters()).device

    def pad(x: torch.Tensor) -> torch.Tensor:
        return F.pad(x.to(device), (0, pw - w, 0, ph - h), mode="replicate")

    with torch.no_grad():
        y = model(
            pad(_to_tensor(s.frame0) / 255.0), pad(_to_tensor(s.frame1) / 255.0),
            pad(_to_tensor(s.warped0) / 255.0), pad(_to_tensor(s.warped1) / 255.0),
            torch.tensor([[s.t]], device=device), pad(_to_tensor(s.flow_t0)), pad(_to_tensor(s.flow_t1)),
        )  # fmt: skip
    out = (y[0, :, :h, :w] * 255.0).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(out)


def validate(model: FlowFusionNet, val: list[FullSample]) -> float:
    model.eval()
    psnr = float(np.mean([psnr_y(run_model(model, s), s.target) for s in val]))
    model.train()
    return psnr


def classical_psnr(val: list[FullSample], fallback: dict[str, Any] | None = None) -> float:
    """PSNR of the network's classical base: the warps averaged, with `fallback`'s cross-fade."""
    rule = Fallback(**fallback) if fallback else Fallback(share=0.0)

    def base(s: FullSample) -> np.ndarray:
        return fuse_warped(s.warped0, s.warped1, s.frame0, s.frame1, s.t, rule)

    return float(np.mean([psnr_y(base(s), s.target) for s in val]))


HEADS = ("weight_head.", "flow_head.", "residual_head.", "gate_head.")


def load_body(model: FlowFusionNet, run: Path) -> None:
    """The body of `run`'s best network into `model`; the heads keep their zeros."""
    try:
        weights = load_file(str(run / "best.safetensors"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"--init {run}: no best.safetensors of an interp run ({exc})") from None
    body = {k: v for k, v in weights.items() if not k.startswith(HEADS)}
    own = model.state_dict()
    wrong = [k for k, v in body.items() if k not in own or own[k].shape != v.shape]
    if wrong or not body:
        raise CheckpointError(
            f"--init {run}: its network does not match this one ({', '.join(wrong[:3]) or 'no weights'}); "
            "give it the same --num-feat, --num-conv and --coarse"
        )
    model.load_state_dict(body, strict=False)
    log.info("body of %s loaded (%d tensors); heads start at zero", run, len(body))


class Trainer:
    def __init__(self, cfg: TrainConfig, resume: bool = False) -> None:
        self.cfg = cfg
        self.out = Path(cfg.out)
        torch.manual_seed(cfg.seed)
        torch.set_num_threads(cfg.threads)
        self.rng = np.random.default_rng(cfg.seed)
        self.device = training_device(cfg.device)
        self.model = FlowFusionNet(cfg.num_feat, cfg.num_conv, coarse=cfg.coarse, fallback=cfg.fallback())
        if cfg.init and not resume:
            load_body(self.model, Path(cfg.init))
        self.model.to(self.device)
        self.disc = TripletDiscriminator().to(self.device)
        self.opt_g = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=1e-4)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.state = TrainState()
        if resume:
            self._load_last()
        elif (self.out / "state.json").exists():
            raise CheckpointError(
                f"{self.out}: a run is already there; pass --resume to continue it or pick another --out"
            )

    # -- checkpoints -------------------------------------------------------------------
    def _save(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        tensors = {f"model.{k}": v for k, v in cpu_state(self.model).items()}
        tensors |= {f"disc.{k}": v for k, v in cpu_state(self.disc).items()}
        tg, gg = flat_optimizer(self.opt_g, "opt_g.")
        td, gd = flat_optimizer(self.opt_d, "opt_d.")
        save_file(tensors | tg | td, str(self.out / "last.safetensors.tmp"))
        (self.out / "last.safetensors.tmp").replace(self.out / "last.safetensors")
        optim = {"opt_g": {"groups": gg}, "opt_d": {"groups": gd}}
        (self.out / "optim.json").write_text(json.dumps(optim, default=float))
        (self.out / "config.json").write_text(json.dumps(asdict(self.cfg), indent=2) + "\n")
        (self.out / "state.json").write_text(json.dumps(asdict(self.state), indent=2) + "\n")

    def _load_last(self) -> None:
        try:
            self.state = TrainState(**json.loads((self.out / "state.json").read_text()))
            tensors = load_file(str(self.out / "last.safetensors"), device=str(self.device))
            optim = json.loads((self.out / "optim.json").read_text())
        except (OSError, ValueError, TypeError) as exc:
            raise CheckpointError(f"{self.out}: cannot resume ({exc})") from None
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        self.disc.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("disc.")})
        for name, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            # runs from before kept non-tensor slots in the JSON
            old = {f"{name}.{k}": torch.tensor(v) for k, v in optim[name].get("scalars", {}).items()}
            unflat_optimizer(opt, tensors | old, optim[name]["groups"], f"{name}.")
        check_resume_bounds(self.out, self.state.step, self.state.seconds, self.cfg.steps, self.cfg.minutes)
        log.info("resumed %s at step %d", self.out, self.state.step)

    def _save_best(self) -> None:
        save_file(cpu_state(self.model), str(self.out / "best.safetensors"))

    # -- loop --------------------------------------------------------------------------
    def run(self, bank: CropBank, val: list[FullSample]) -> TrainState:
        cfg, st = self.cfg, self.state
        if val and math.isnan(st.baseline_psnr):
            st.baseline_psnr = classical_psnr(val, cfg.fallback())
            TimeBar.write(f"validation: classical base ({cfg.base}) {st.baseline_psnr:.3f} dB on {len(val)} frames")
        self.model.train()
        timed_loop(
            st, steps=cfg.steps, minutes=cfg.minutes, val_every_s=cfg.val_every_s, desc="train interp",
            step=lambda progress: self._step(bank, progress), checkpoint=lambda loss: self._checkpoint(val, loss),
        )  # fmt: skip
        return st

    def _step(self, bank: CropBank, progress: float) -> float:
        """One optimizer step on a random batch of the bank; the pyramid loss (plus the adversarial
        term from `adv_start` of the run on), returned."""
        cfg = self.cfg
        for g in self.opt_g.param_groups:
            g["lr"] = cosine_lr(cfg.lr, progress)
        b = _batch(bank, self.rng.integers(0, len(bank), cfg.batch), self.rng)
        b = {k: v.to(self.device, non_blocking=True) for k, v in b.items()}
        pred = self.model(b["frame0"], b["frame1"], b["warped0"], b["warped1"], b["t"], b["flow_t0"], b["flow_t1"])
        loss = laplacian_l1(pred, b["target"])
        adversarial = cfg.adv_weight > 0 and progress >= cfg.adv_start
        if adversarial:
            loss = loss + cfg.adv_weight * g_hinge_loss(self.disc(b["frame0"], pred, b["frame1"]))
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        if adversarial:
            real = self.disc(b["frame0"], b["target"], b["frame1"])
            fake = self.disc(b["frame0"], pred.detach(), b["frame1"])
            d_loss = d_hinge_loss(real, fake)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
        return float(loss.detach())

    def _checkpoint(self, val: list[FullSample], loss: float) -> None:
        st = self.state
        psnr = validate(self.model, val) if val else float("nan")
        improved = not val or psnr > st.best_psnr
        if improved:
            st.best_psnr, st.best_step = psnr, st.step
        self._save()
        if improved:
            self._save_best()
        line = {"step": st.step, "seconds": round(st.seconds, 1), "loss": loss, "val_psnr_y": psnr}
        with open(self.out / "log.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")
        TimeBar.write(
            f"step {st.step} ({st.seconds:.0f} s): loss {loss:.4f}, validation {psnr:.3f} dB "
            f"(classical base {st.baseline_psnr:.3f}){' best' if improved and val else ''}"
        )


def train(cfg: TrainConfig, resume: bool = False) -> TrainState:
    if not cfg.machine:
        from ganstream.training.trainer import machine_description

        cfg.machine = machine_description()
    trainer = Trainer(cfg, resume=resume)
    t0 = time.monotonic()
    flow_options = FlowOptions(**cfg.flow)
    bank = build_crop_bank(
        [Path(p) for p in cfg.data], crop=cfg.crop, crops_per_sample=cfg.crops_per_sample,
        stride2=cfg.stride2, stride3=cfg.stride3, max_frames=cfg.max_frames, seed=cfg.seed,
        measured_t=cfg.measured_t, cubic_warp=cfg.cubic_warp, flow_options=flow_options,
    )  # fmt: skip
    val_clips = [Path(p) for p in cfg.val]
    val = (
        build_validation(val_clips, cfg.val_frames, flow_options=flow_options, cubic_warp=cfg.cubic_warp)
        if val_clips
        else []
    )
    log.info("%d training crops, %d validation frames, built in %.0f s", len(bank), len(val), time.monotonic() - t0)
    return trainer.run(bank, val)
