"""``ganstream train recurrent``: teach a shipped single-frame model to use its previous output.

The run starts from a single-frame model (``--init engines/models/restore`` or ``sr2x``):
`from_single_frame` copies it with the new input channels at zero, so step 0 *is* that model.
Each step unrolls the recurrence over `length` consecutive frames of a batch of sequences,
exactly as the runtime does (``ganstream.engines.recurrence.Recurrence``: DIS flow on the
degraded frames, the previous uint8 output warped and folded). The state is data, not graph:
gradients stop at it (truncated back-propagation), which keeps memory at one frame's and lets
training use the runtime's own OpenCV warping.

Validation runs whole selection-split clips through the recurrence (first `val_frames` frames,
centre-cropped) and compares with step 0, the single-frame model: the best step is kept.

With `single_frame` the --init model itself trains, without a memory (``WithoutMemory``), on
the same sequences: with `filtered_input` that is the restore stage's single-frame model on the
frames the stage's temporal filter gives it, exported as the single-frame model it is.

The run folder holds ``config.json``, ``state.json``, ``last.safetensors`` + ``optim.pt``
(resumable), ``best.safetensors`` and ``log.jsonl``.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ganstream.engines.archs import build_generator
from ganstream.engines.archs.recurrent import MAX_NEIGHBOURS, RecurrentCompact, from_single_frame, with_neighbours
from ganstream.engines.card import ModelCard
from ganstream.engines.flow import FlowOptions
from ganstream.engines.recurrence import Recurrence, RecurrenceSpec, aligned
from ganstream.engines.temporal_blend import TemporalBlend
from ganstream.training.checkpoint import cpu_state, load_model_folder, training_device
from ganstream.training.codec import h264_roundtrip
from ganstream.training.degrade import DEGRADE_PRESETS, degrade_batch, degrade_preset
from ganstream.training.errors import CheckpointError, ConfigError
from ganstream.training.evaluate import EVAL_H264_CRF
from ganstream.training.metrics import psnr_y
from ganstream.training.resume_bounds import check_resume_bounds
from ganstream.training.temporal.data import SequencePool, load_sequences, sample_sequence
from ganstream.training.time_bar import TimeBar
from ganstream.training.timed_loop import cosine_lr, timed_loop
from ganstream.training.weight_average import update_average

log = logging.getLogger(__name__)

VAL_NOISE_SIGMA = 15.0  # restore validation: the eval's clipped Gaussian noise


@dataclass
class TemporalConfig:
    init: str  # a single-frame model folder (sr or restore), or a recurrent one to continue from
    data: str = "data"
    out: str = "runs/vrestore"
    minutes: float = 60.0
    steps: int = 1_000_000
    batch: int = 8
    crop: int = 96  # ground truth; the network sees crop / scale
    length: int = 6  # frames unrolled per sequence
    lr: float = 2e-4
    # the first convolution, whose state inputs start at zero, learns this much faster: the
    # rest of the network is already trained (on the selection split, r1 without it gained
    # 0.14 dB in 174 steps)
    first_lr_mult: float = 10.0
    clip_prob: float = 0.6
    # share of the photographs' sequences that move by half pixels (area-downscaled from twice the
    # size) instead of whole ones: sub-pixel shifts on the SR input grid; 0 for runs saved before
    subpixel_share: float = 0.0
    max_frames: int = 150  # frames decoded per training clip
    val_frames: int = 16
    val_side: int = 256  # validation clips are centre-cropped to at most this
    val_every_s: float = 300.0
    seed: int = 0
    threads: int = 2
    # the training input's mix (training/degrade.py): "clean" for a model that continues a
    # clean-input one (sr2x-clean), whose sharpening the default mix's blur and codec would undo
    degrade: str = "default"
    # previous input frames fed beside the previous output (a causal window; 0: the output alone)
    neighbours: int = 0
    # "cuda": the network on a GPU; the flows, warps and degradations stay on the CPU
    device: str = "cpu"
    # restore models: each sequence's input through the stage's temporal filter first
    # (``engines.temporal_blend``), and the memory on the filter's flow, as the restore stages
    # run them (stream/stages/enhance.py); without it the network trains on raw noisy frames
    # and runs on filtered ones
    filtered_input: bool = False
    # with filtered_input: the share of sequences through the filter; the rest train on raw
    # frames, as the network gets them where the filter has no history (a stream's first frames
    # after each reset, single images)
    filtered_share: float = 1.0
    # train the --init single-frame model itself (no memory) on these sequences; with
    # filtered_input: the restore stage's single-frame model on the frames it really gets
    single_frame: bool = False
    # an exponential moving average of the weights is what validation scores and best.safetensors
    # holds (as `train sr` keeps its generator's): the raw weights of one step swing the
    # validation by a few hundredths of a dB, the size of the gains a fine-tune is looking for;
    # 0 scores the raw weights (runs saved before this existed)
    ema_decay: float = 0.995
    # sr runs on clean or default input: validate on the bicubic downscale of each clip as well as
    # the area one, as `ganstream eval` has both rows (a vsr2x chosen on area input alone gained
    # there and lost on bicubic downscales); runs saved before this validated on area alone
    val_bicubic: bool = True
    # the state aligned as finely as the runtime can (``engines.recurrence.aligned``: DIS to the
    # working size's own pyramid level, bicubic warps); written into the exported card, so the
    # runtime aligns it the same way. A run from a model trained so keeps it.
    aligned: bool = False

    def __post_init__(self) -> None:
        if self.length < 2:
            raise ConfigError(f"--length must be at least 2 frames, got {self.length}")
        if self.crop % 4:
            raise ConfigError(f"--crop must be a multiple of 4, got {self.crop}")
        if not 0.0 <= self.clip_prob <= 1.0:
            raise ConfigError(f"--clip-prob must be between 0 and 1, got {self.clip_prob}")
        if not 0.0 <= self.subpixel_share <= 1.0:
            raise ConfigError(f"--subpixel-share must be between 0 and 1, got {self.subpixel_share}")
        if not 0 <= self.neighbours <= MAX_NEIGHBOURS:
            raise ConfigError(f"--neighbours must be 0 to {MAX_NEIGHBOURS}, got {self.neighbours}")
        if self.degrade not in DEGRADE_PRESETS:
            raise ConfigError(f"--degrade must be one of {', '.join(DEGRADE_PRESETS)}, got {self.degrade!r}")
        if not self.val_every_s > 0:
            raise ConfigError(f"--val-every must be a positive number of seconds, got {self.val_every_s}")
        if not 0.0 <= self.filtered_share <= 1.0:
            raise ConfigError(f"--filtered-share must be between 0 and 1, got {self.filtered_share}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"--ema must be at least 0 and below 1, got {self.ema_decay}")
        if self.single_frame and self.neighbours:
            raise ConfigError("--single-frame trains a model without memory: it takes no --neighbours")
        # (an SR init with --filtered-input is refused in the trainer, once the scale is known)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TemporalConfig:
        known = {f.name for f in fields(cls)}
        # runs saved before the factor existed trained their first layer at the common rate, and
        # runs saved before the moving average existed scored their raw weights
        old = {"first_lr_mult": 1.0, "ema_decay": 0.0, "val_bicubic": False}
        return cls(**{**old, **{k: v for k, v in d.items() if k in known}})


@dataclass
class TemporalState:
    step: int = 0
    seconds: float = 0.0
    best_psnr: float = float("-inf")
    best_step: int = 0
    single_frame_psnr: float = float("nan")  # the init model on the same validation frames


def _load_network(folder: Path, wanted: str) -> tuple[nn.Module, ModelCard]:
    """The network of the sr or restore model in `folder`, with its weights, and its card."""
    card = ModelCard.load(folder)
    if card.task not in ("sr", "restore"):
        raise ConfigError(f"--init {folder}: a {card.task} model; give {wanted}")
    arch, weights = load_model_folder(folder)
    net = build_generator(arch)
    net.load_state_dict(weights)
    return net, card


def load_init(folder: Path, neighbours: int = 0) -> tuple[RecurrentCompact, ModelCard]:
    """A recurrent model from `folder` taking `neighbours` previous input frames: converted from a
    single-frame model, or continued (widened with the neighbours at zero where it had fewer)."""
    net, card = _load_network(folder, "an sr or restore model")
    if isinstance(net, RecurrentCompact):
        if net.neighbours > neighbours:
            raise ConfigError(f"--init {folder}: takes {net.neighbours} neighbours; --neighbours cannot be fewer")
        return with_neighbours(net, neighbours), card
    try:
        return from_single_frame(net, neighbours), card
    except ValueError as e:
        raise ConfigError(
            f"--init {folder}: {e}; start from a tiny model such as engines/models/sr2x-clean (or add --single-frame)"
        ) from e


class WithoutMemory(nn.Module):
    """A single-frame network in the recurrent trainer's place (--single-frame): the state input is
    not used, so the network trains on the same sequences and exports as the model it is."""

    def __init__(self, net: nn.Module, scale: int) -> None:
        super().__init__()
        self.net = net
        self.scale = scale

    def forward(self, x: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def own_weights(model: RecurrentCompact | WithoutMemory) -> nn.Module:
    """The network whose weights a checkpoint holds: a --single-frame run's own single-frame
    network (loadable as that model), else the recurrent model itself."""
    return model.net if isinstance(model, WithoutMemory) else model


def load_single(folder: Path) -> tuple[nn.Module, ModelCard]:
    """The single-frame network of `folder` and its card (for --single-frame)."""
    net, card = _load_network(folder, "a single-frame sr or restore model")
    if card.recurrent:
        raise ConfigError(f"--init {folder}: --single-frame needs a single-frame sr or restore model")
    return net, card


def _charbonnier(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    return torch.sqrt((x - y) ** 2 + eps * eps).mean()


def _tensor(a: np.ndarray, device: torch.device | None = None) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(a))
    if device is not None:
        t = t.to(device, non_blocking=True)  # uint8 over the bus: a quarter of the float bytes
    return t.permute(0, 3, 1, 2).float().div_(255.0)


def _to_uint8(y: torch.Tensor) -> np.ndarray:
    return (y.detach() * 255.0).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


class SequenceInput:
    """One sequence's input as a restore stage feeds it: the frame (through the temporal filter
    when `filtered`) and the memory's state input for it, on the filter's flow."""

    def __init__(self, spec: RecurrenceSpec, filtered: bool, memory: bool = True) -> None:
        # without a memory (--single-frame) no flow or warp is computed for a state nobody reads
        self.memory = Recurrence(spec) if memory else None
        self.filter = TemporalBlend(flow=spec.flow) if filtered else None

    def next(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the network's frame input, its state input) for the next raw input `frame`; the state
        has no channels without a memory."""
        x = frame if self.filter is None else self.filter.apply(frame, frame)
        if self.memory is None:
            return x, np.empty((*x.shape[:2], 0), np.uint8)
        return x, self.memory.previous_for(x, None if self.filter is None else self.filter.last_flow)

    def update(self, output: np.ndarray) -> None:
        if self.memory is not None:
            self.memory.update(output)


def run_sequence(
    model: nn.Module, frames: np.ndarray, spec: RecurrenceSpec, filtered: bool = False, memory: bool = True
) -> np.ndarray:
    """The model over (T, h, w, 3) uint8 frames as the runtime runs it; (T, H, W, 3) uint8 out."""
    seq = SequenceInput(spec, filtered, memory)
    outs = []
    device = next(model.parameters()).device
    with torch.no_grad():
        for f in frames:
            x, prev = seq.next(f)
            y = _to_uint8(model(_tensor(x[None], device), _tensor(prev[None], device)))[0]
            seq.update(y)
            outs.append(y)
    return np.stack(outs)


class TemporalTrainer:
    def __init__(self, cfg: TemporalConfig, resume: bool = False) -> None:
        self.cfg = cfg
        self.out = Path(cfg.out)
        torch.manual_seed(cfg.seed)
        torch.set_num_threads(cfg.threads)
        self.device = training_device(cfg.device)
        self.model: RecurrentCompact | WithoutMemory
        if cfg.single_frame:
            net, self.init_card = load_single(Path(cfg.init))
            self.model = WithoutMemory(net, self.init_card.scale)
        else:
            self.model, self.init_card = load_init(Path(cfg.init), cfg.neighbours)
        # what the checkpoints hold: the single-frame network's own weights, loadable as that model
        self.weights = own_weights(self.model)
        self.model.to(self.device)
        # the averaged copy that validation scores and best.safetensors keeps (None: the raw weights)
        self.ema: RecurrentCompact | WithoutMemory | None = None
        if cfg.ema_decay > 0:
            self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.scale = self.model.scale
        if cfg.filtered_input and self.scale != 1:
            raise ConfigError("--filtered-input is for restore models (the SR stages run no temporal filter)")
        init_spec = RecurrenceSpec.from_card(self.init_card)
        if init_spec is not None and init_spec.cubic_warp and not cfg.aligned:
            # a run from an aligned model keeps its alignment; config.json says so, and the export reads it there
            self.cfg = cfg = replace(cfg, aligned=True)
        spec = RecurrenceSpec(scale=self.scale, flow=FlowOptions(), neighbours=cfg.neighbours)
        self.spec = aligned(spec) if cfg.aligned else spec
        self.degrade = degrade_preset(cfg.degrade, "restore" if self.scale == 1 else "sr")
        first = [p for n, p in self.model.named_parameters() if n.startswith("body.0.")]
        rest = [p for n, p in self.model.named_parameters() if not n.startswith("body.0.")]
        groups = [{"params": rest, "lr_mult": 1.0}]
        if first:  # (a --single-frame network has no new state inputs to learn faster)
            groups.append({"params": first, "lr_mult": cfg.first_lr_mult})
        self.opt = torch.optim.Adam(groups, lr=cfg.lr)
        self.state = TemporalState()
        if resume:
            self._load_last()
        elif (self.out / "state.json").exists():
            raise CheckpointError(f"{self.out}: a run is already there; pass --resume or pick another --out")

    @property
    def scored(self) -> RecurrentCompact | WithoutMemory:
        """The model validation scores: the moving average when the run keeps one."""
        return self.ema if self.ema is not None else self.model

    @property
    def scored_weights(self) -> nn.Module:
        """What best.safetensors holds: the scored model's weights, loadable as `self.weights` is."""
        return own_weights(self.scored)

    # -- checkpoints -------------------------------------------------------------------
    def _save(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        save_file(cpu_state(self.weights), str(self.out / "last.tmp"))
        (self.out / "last.tmp").replace(self.out / "last.safetensors")
        if self.ema is not None:
            save_file(cpu_state(self.scored_weights), str(self.out / "ema.tmp"))
            (self.out / "ema.tmp").replace(self.out / "ema.safetensors")
        torch.save(self.opt.state_dict(), self.out / "optim.pt")
        (self.out / "config.json").write_text(json.dumps(asdict(self.cfg), indent=2) + "\n")
        (self.out / "state.json").write_text(json.dumps(asdict(self.state), indent=2) + "\n")

    def _load_last(self) -> None:
        try:
            self.state = TemporalState(**json.loads((self.out / "state.json").read_text()))
            self.weights.load_state_dict(load_file(str(self.out / "last.safetensors"), device=str(self.device)))
            if self.ema is not None:
                self.scored_weights.load_state_dict(
                    load_file(str(self.out / "ema.safetensors"), device=str(self.device))
                )
            saved = torch.load(self.out / "optim.pt", weights_only=True, map_location=self.device)
            if len(saved["param_groups"]) == len(self.opt.param_groups):
                self.opt.load_state_dict(saved)
            else:  # a run from before the first layer had its own group: its moments start afresh
                log.warning("%s: optimizer state from an older layout; Adam's moments start afresh", self.out)
        except (OSError, ValueError, TypeError, RuntimeError) as exc:
            raise CheckpointError(f"{self.out}: cannot resume ({exc})") from None
        check_resume_bounds(self.out, self.state.step, self.state.seconds, self.cfg.steps, self.cfg.minutes)
        log.info("resumed %s at step %d", self.out, self.state.step)

    # -- data ----------------------------------------------------------------------------
    def batch(self, pool: SequencePool, step: int) -> tuple[np.ndarray, np.ndarray]:
        """(lr, hr) uint8 (B, T, h, w, 3) and (B, T, H, W, 3) for one step: a pure function of (seed, step)."""
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, step])
        hr = np.stack(
            [
                sample_sequence(pool, cfg.length, cfg.crop, rng, cfg.clip_prob, cfg.subpixel_share)
                for _ in range(cfg.batch)
            ]
        )
        return degrade_batch(hr, self.scale, self.degrade, rng), hr

    def validation(self, data_dir: Path) -> list[tuple[np.ndarray, np.ndarray]]:
        """(input, truth) frame stacks of the selection split's clips, degraded as `ganstream eval` does."""
        pool = load_sequences(data_dir, "selection", self.cfg.val_frames, photos=False)
        rng = np.random.default_rng(2024)
        items = []
        for name in sorted(pool.clips):
            gt = np.stack(pool.clips[name])
            _, h, w, _ = gt.shape
            m = 4 * self.scale
            ch, cw = min(h, self.cfg.val_side) // m * m, min(w, self.cfg.val_side) // m * m
            y, x = (h - ch) // 2, (w - cw) // 2
            gt = np.ascontiguousarray(gt[:, y : y + ch, x : x + cw])
            bicubic = None
            if self.scale == 1:
                noisy = gt.astype(np.float64) + rng.normal(0, VAL_NOISE_SIGMA, gt.shape) + 0.5
                lr = np.clip(noisy, 0, 255).astype(np.uint8)
            else:
                size = (cw // self.scale, ch // self.scale)
                lr = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in gt])
                if self.cfg.degrade == "compressed":  # scored on the input it is trained for, as `eval` codes it
                    lr = h264_roundtrip(lr, crf=EVAL_H264_CRF)
                elif self.cfg.val_bicubic:
                    bicubic = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_CUBIC) for f in gt])
            items.append((lr, gt))
            if bicubic is not None:
                items.append((bicubic, gt))
        return items

    def validate(self, items: list[tuple[np.ndarray, np.ndarray]]) -> float:
        model = self.scored
        model.eval()
        border = self.scale if self.scale > 1 else 0
        scores = []
        for lr, gt in items:
            outs = run_sequence(model, lr, self.spec, self.cfg.filtered_input, not self.cfg.single_frame)
            scores.append(float(np.mean([psnr_y(o, g, border) for o, g in zip(outs, gt, strict=True)])))
        self.model.train()
        return float(np.mean(scores))

    # -- loop ----------------------------------------------------------------------------
    def step(self, lr: np.ndarray, hr: np.ndarray) -> float:
        b, t = lr.shape[:2]
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, self.state.step, 1])
        seqs = [
            SequenceInput(self.spec, cfg.filtered_input and rng.random() < cfg.filtered_share, not cfg.single_frame)
            for _ in range(b)
        ]
        self.opt.zero_grad(set_to_none=True)
        total = 0.0
        for k in range(t):
            inputs = [seq.next(lr[i, k]) for i, seq in enumerate(seqs)]
            x, prev = np.stack([a for a, _ in inputs]), np.stack([p for _, p in inputs])
            y = self.model(_tensor(x, self.device), _tensor(prev, self.device))
            loss = _charbonnier(y, _tensor(hr[:, k], self.device)) / t
            loss.backward()
            total += float(loss.detach())
            out = _to_uint8(y)
            for i, seq in enumerate(seqs):
                seq.update(out[i])
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        if self.ema is not None:
            update_average(self.ema, self.model, self.cfg.ema_decay, self.state.step)
        return total

    def run(self, pool: SequencePool, val: list[tuple[np.ndarray, np.ndarray]]) -> TemporalState:
        cfg, st = self.cfg, self.state
        if val and math.isnan(st.single_frame_psnr):
            st.single_frame_psnr = st.best_psnr = self.validate(val)
            TimeBar.write(f"validation at step 0 (the --init model): {st.best_psnr:.3f} dB on {len(val)} items")
            self._save_best()
        self.model.train()

        def step(progress: float) -> float:
            for g in self.opt.param_groups:
                g["lr"] = g["lr_mult"] * cosine_lr(cfg.lr, progress)
            return self.step(*self.batch(pool, st.step))

        timed_loop(
            st, steps=cfg.steps, minutes=cfg.minutes, val_every_s=cfg.val_every_s, desc="train recurrent",
            step=step, checkpoint=lambda loss: self._checkpoint(val, loss),
        )  # fmt: skip
        return st

    def _save_best(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        save_file(cpu_state(self.scored_weights), str(self.out / "best.safetensors"))

    def _checkpoint(self, val: list[tuple[np.ndarray, np.ndarray]], loss: float) -> None:
        st = self.state
        psnr = self.validate(val) if val else float("nan")
        improved = not val or psnr > st.best_psnr
        if improved:
            st.best_psnr, st.best_step = psnr, st.step
            self._save_best()
        self._save()
        line = {"step": st.step, "seconds": round(st.seconds, 1), "loss": loss, "val_psnr_y": psnr}
        with open(self.out / "log.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")
        TimeBar.write(
            f"step {st.step} ({st.seconds:.0f} s): loss {loss:.4f}, validation {psnr:.3f} dB "
            f"(the --init model {st.single_frame_psnr:.3f}, best {st.best_psnr:.3f} at {st.best_step})"
        )


def train(cfg: TemporalConfig, resume: bool = False) -> TemporalState:
    trainer = TemporalTrainer(cfg, resume=resume)
    t0 = time.monotonic()
    pool = load_sequences(Path(cfg.data), "train", cfg.max_frames, photos=cfg.clip_prob < 1.0)  # none drawn at 1.0
    val = trainer.validation(Path(cfg.data))
    log.info(
        "%d training clips, %d photos, %d validation items, loaded in %.0f s",
        len(pool.clips), len(pool.photos), len(val), time.monotonic() - t0,
    )  # fmt: skip
    return trainer.run(pool, val)
