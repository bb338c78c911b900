"""The options of one training run (saved as the run's config.json and in the model card)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ganstream.training.codec import crf_range_error
from ganstream.training.errors import CheckpointError, ConfigError
from ganstream.training.losses import ADV_KINDS, PIXEL_LOSSES

CONFIG_FILE = "config.json"


@dataclass
class TrainConfig:
    task: str = "sr"  # "sr" or "restore"
    scale: int = 2
    preset: str = "tiny"
    stage: str = "psnr"  # "psnr" (pretraining) or "gan" (fine-tuning from --init)
    data: str = "data"
    init: str = ""  # run whose EMA generator starts this one (gan stage: required; psnr: a warm start)
    steps: int = 3000
    max_minutes: float = 0.0  # 0: no time bound; otherwise stop (and save) after this long
    batch: int = 16
    crop: int = 128  # ground-truth crop; the network sees crop/scale
    lr_g: float = 5e-4
    lr_d: float = 2e-4
    seed: int = 0
    val_every: int = 250
    ckpt_every: int = 500
    ema_decay: float = 0.995  # short CPU runs: an average over the last ~200 steps
    pixel: str = "charbonnier"
    pixel_weight: float = 1.0
    temporal_weight: float = 0.5
    adv: str = "nonsaturating"
    adv_weight: float = 0.02
    fm_weight: float = 0.2
    d_feat: int = 32
    amp: str = "auto"  # "auto" (bf16 on CPUs that support it, fp16 on CUDA), "off"
    channels_last: bool = True
    workers: int = 1
    val_size: int = 192
    degrade: str = "default"  # degradation preset of the task; "clean" for tests
    h264_prob: float | None = None  # share of batches through real H.264; None: the preset's
    # libx264 CRF range [low, high] those batches are coded at (uniform); None: the preset's
    h264_crf: list[float] | None = None
    clean_prob: float | None = None  # share of samples with a downscale only; None: the preset's
    blur_prob: float | None = None  # chance of a blur in each degradation round; None: the preset's
    coded_gt_prob: float = 0.0  # share of samples whose ground truth is JPEG-coded first
    soft_gt_prob: float = 0.0  # share of samples whose ground truth is defocused first

    def __post_init__(self) -> None:
        if self.task not in ("sr", "restore"):
            raise ConfigError(f"task must be sr or restore, got {self.task!r}")
        if self.task == "restore":
            self.scale = 1
        if self.stage not in ("psnr", "gan"):
            raise ConfigError(f"stage must be psnr or gan, got {self.stage!r}")
        if self.stage == "gan" and not self.init:
            raise ConfigError("the gan stage starts from a PSNR-trained run: pass --init RUN")
        if self.degrade not in ("default", "clean", "compressed") or (
            self.degrade == "compressed" and self.task != "sr"
        ):
            raise ConfigError(f"degrade must be default, clean or (sr only) compressed, got {self.degrade!r}")
        if self.pixel not in PIXEL_LOSSES:
            raise ConfigError(f"pixel loss must be one of {', '.join(PIXEL_LOSSES)}, got {self.pixel!r}")
        if self.adv not in ADV_KINDS:
            raise ConfigError(f"adversarial loss must be one of {', '.join(ADV_KINDS)}, got {self.adv!r}")
        if self.crop % (2 * self.scale):
            raise ConfigError(f"crop {self.crop} must be a multiple of {2 * self.scale}")
        if self.h264_prob is not None and not 0.0 <= self.h264_prob <= 1.0:
            raise ConfigError(f"h264 probability must be within [0, 1], got {self.h264_prob}")
        if self.h264_crf is not None:
            if len(self.h264_crf) != 2:
                raise ConfigError(f"h264 CRF range must be two values [low, high], got {self.h264_crf}")
            if problem := crf_range_error(*self.h264_crf):
                raise ConfigError(f"h264 CRF range: {problem}")
            self.h264_crf = [float(v) for v in self.h264_crf]
        if self.clean_prob is not None and not 0.0 <= self.clean_prob <= 1.0:
            raise ConfigError(f"clean probability must be within [0, 1], got {self.clean_prob}")
        if self.blur_prob is not None and not 0.0 <= self.blur_prob <= 1.0:
            raise ConfigError(f"blur probability must be within [0, 1], got {self.blur_prob}")
        if not 0.0 <= self.soft_gt_prob <= 1.0:
            raise ConfigError(f"soft ground-truth probability must be within [0, 1], got {self.soft_gt_prob}")
        if not 0.0 <= self.coded_gt_prob <= 1.0:
            raise ConfigError(f"coded ground-truth probability must be within [0, 1], got {self.coded_gt_prob}")
        if self.d_feat < 4:
            raise ConfigError(f"discriminator width must be at least 4, got {self.d_feat}")
        if self.steps < 1 or self.batch < 1:
            raise ConfigError(f"steps and batch must be positive, got {self.steps} and {self.batch}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def save(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / CONFIG_FILE).write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, run_dir: Path) -> TrainConfig:
        path = run_dir / CONFIG_FILE
        if not path.is_file():
            raise CheckpointError(f"{run_dir}: not a training run ({CONFIG_FILE} is missing)")
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
