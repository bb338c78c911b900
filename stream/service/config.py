"""The service's config file (TOML), validated against a typed pydantic schema at load.

Every mistake becomes one line naming the file, the camera (when it is in one), the key and what
was expected: ``cameras.toml: camera 'gate': chain.sr: expected one of 0, 2, 3, 4, got 5``.
Credentials never need to be in the file: ``${NAME}`` in a source URI or a token is replaced by
the environment variable NAME or, failing that, by NAME from the secrets file the config names
(a TOML table of strings, readable by its owner only).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ganstream.stream.errors import ConfigError

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
EXAMPLE_PATH = Path(__file__).resolve().parent / "example.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)


class EngineSettings(_Strict):
    backend: Literal["auto", "openvino", "ort", "torch", "trt", "triton"] = "auto"
    precision: Literal["", "fp32", "fp16", "bf16", "int8"] = ""
    device: str = "cpu"
    threads: int = Field(default=0, ge=0, le=256)
    triton_url: str = ""  # host:port of a Triton gRPC endpoint, for backend = "triton"


class BatchingSettings(_Strict):
    enabled: bool = True
    max_batch: int = Field(default=8, ge=1, le=64)
    push_timeout_ms: float = Field(default=0.0, ge=0.0, le=10_000.0)  # 0: derived from the frame rate
    timeout_frames: float = Field(default=0.5, gt=0.0, le=4.0)  # the derived timeout, in frame intervals


class RecordingSettings(_Strict):
    directory: str = "recordings"
    segment_minutes: float = Field(default=10.0, gt=0.0, le=24 * 60.0)
    container: Literal["mp4", "mkv"] = "mp4"
    keep_segments: int = Field(default=0, ge=0)  # per camera; 0 = no count limit
    max_total_mb: float = Field(default=0.0, ge=0.0)  # per camera; 0 = no size limit


class RestreamSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8554, ge=0, le=65535)
    user: str = ""
    password: str = ""  # use "${ENV_NAME}"; required with a user


class ApiSettings(_Strict):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    token: str = ""  # use "${ENV_NAME}"; required when host is not a loopback address


class ShardSettings(_Strict):
    index: int = Field(default=0, ge=0)
    count: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _index_below_count(self) -> ShardSettings:
        if self.index >= self.count:
            raise ValueError(f"index must be below count ({self.count}), got {self.index}")
        return self


class ChainSettings(_Strict):
    restore: bool = False
    sr: Literal[0, 2, 3, 4] = 2
    interpolate: int = Field(default=0, ge=0, le=16)
    models: list[str] = Field(default_factory=list)
    backend: Literal["", "auto", "openvino", "ort", "torch", "trt", "triton"] = ""  # "": [engine].backend
    residual_gain: bool = True  # sr: keep only the share of the model's correction this camera's frames support
    temporal_blend: bool = True  # restore: average the input along the flow where frames agree, before the model

    @field_validator("interpolate")
    @classmethod
    def _factor(cls, v: int) -> int:
        if v == 1:
            raise ValueError("expected 0 (off) or a factor 2..16, got 1")
        return v


class OutputSettings(_Strict):
    restream: bool = True
    record: bool = False
    file: str = ""
    v4l2: str = ""

    @property
    def any(self) -> bool:
        return self.restream or self.record or bool(self.file) or bool(self.v4l2)


class CameraSettings(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    source: str = Field(min_length=1)
    enabled: bool = True
    realtime: bool | None = None  # None: realtime for live sources (rtsp, v4l2), not for files
    fps: float = Field(default=0.0, ge=0.0, le=1000.0)  # expected rate; 0: from the source
    audio: bool = True  # carry an RTSP camera's audio into its outputs when it sends some
    chain: ChainSettings = Field(default_factory=ChainSettings)
    outputs: OutputSettings = Field(default_factory=OutputSettings)


class ServiceSettings(_Strict):
    secrets_file: str = ""
    engine: EngineSettings = Field(default_factory=EngineSettings)
    batching: BatchingSettings = Field(default_factory=BatchingSettings)
    recording: RecordingSettings = Field(default_factory=RecordingSettings)
    restream: RestreamSettings = Field(default_factory=RestreamSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    shard: ShardSettings = Field(default_factory=ShardSettings)
    cameras: list[CameraSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> ServiceSettings:
        seen: set[str] = set()
        for cam in self.cameras:
            if cam.name in seen:
                raise ValueError(f"camera name {cam.name!r} is used twice; names must be unique")
            seen.add(cam.name)
        return self

    def camera(self, name: str) -> CameraSettings | None:
        return next((c for c in self.cameras if c.name == name), None)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- loading ---------------------------------------------------------------------------------
def load_config(path: str | os.PathLike[str], env: dict[str, str] | None = None) -> ServiceSettings:
    """Read, validate and resolve ``${NAME}`` references; raises ConfigError (one line)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(data, origin=str(path), env=env, base=path.parent)


def parse_config(
    data: dict[str, Any], origin: str = "config", env: dict[str, str] | None = None, base: Path | None = None
) -> ServiceSettings:
    try:
        settings = ServiceSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {describe_error(exc, data)}") from None
    secrets = _read_secrets(settings.secrets_file, origin, base)
    lookup = {**secrets, **(os.environ if env is None else env)}
    resolve_secrets(settings, lookup, origin)
    _check_exposure(settings, origin)
    return settings


def parse_camera(data: dict[str, Any], settings: ServiceSettings, origin: str = "request") -> CameraSettings:
    """Validate one camera table (an API request) in the context of a loaded config."""
    try:
        cam = CameraSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {describe_error(exc, {'cameras': [data]}, prefix=('cameras', 0))}") from None
    lookup = {**_read_secrets(settings.secrets_file, origin, None), **os.environ}
    cam.source = _expand(cam.source, lookup, f"{origin}: camera {cam.name!r}: source")
    return cam


def describe_error(exc: ValidationError, data: dict[str, Any], prefix: tuple[Any, ...] = ()) -> str:
    """The first validation error as 'camera NAME: KEY: expected ..., got ...'."""
    err = exc.errors()[0]
    loc = (*prefix, *err["loc"])
    where = ""
    if len(loc) >= 2 and loc[0] == "cameras" and isinstance(loc[1], int):
        cams = data.get("cameras") or []
        raw = cams[loc[1]] if loc[1] < len(cams) and isinstance(cams[loc[1]], dict) else {}
        name = raw.get("name") if isinstance(raw.get("name"), str) else f"#{loc[1] + 1}"
        where = f"camera {name!r}: "
        loc = loc[2:]
    key = ".".join(str(p) for p in loc) or "(top level)"
    kind = err["type"]
    got = err.get("input")
    if kind == "extra_forbidden":
        return f"{where}unknown key {key!r}"
    if kind == "missing":
        return f"{where}{key}: missing (required)"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ").replace("Input should be ", "expected ")
    if kind.endswith("_type") or kind in ("literal_error", "string_pattern_mismatch"):
        msg = _expected(kind, err)
    return f"{where}{key}: {msg}, got {got!r}" if not msg.endswith(repr(got)) else f"{where}{key}: {msg}"


def _expected(kind: str, err: Any) -> str:
    ctx = err.get("ctx") or {}
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '')}".replace("'", "")
    if kind == "string_pattern_mismatch":
        return "expected a name of letters, digits, '-' and '_' (up to 63, starting with a letter or digit)"
    nice = {
        "bool_type": "a boolean (true/false)",
        "int_type": "an integer",
        "float_type": "a number",
        "string_type": "a string",
        "list_type": "a list",
        "model_type": "a table",
        "dict_type": "a table",
    }
    return f"expected {nice.get(kind, kind.removesuffix('_type'))}"


def _read_secrets(name: str, origin: str, base: Path | None) -> dict[str, str]:
    if not name:
        return {}
    path = Path(name).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{origin}: secrets_file {path}: cannot read it ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: secrets_file {path}: not valid TOML ({exc})") from None
    bad = [k for k, v in data.items() if not isinstance(v, str)]
    if bad:
        raise ConfigError(f"{origin}: secrets_file {path}: key {bad[0]!r}: expected a string value")
    return {str(k): str(v) for k, v in data.items()}


def _expand(text: str, lookup: dict[str, str], where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in lookup:
            raise ConfigError(
                f"{where}: ${{{name}}} is not set (expected an environment variable or a secrets_file key)"
            )
        return lookup[name]

    return _VAR_RE.sub(sub, text)


def resolve_secrets(settings: ServiceSettings, lookup: dict[str, str], origin: str) -> None:
    for cam in settings.cameras:
        cam.source = _expand(cam.source, lookup, f"{origin}: camera {cam.name!r}: source")
    settings.api.token = _expand(settings.api.token, lookup, f"{origin}: api.token")
    settings.restream.password = _expand(settings.restream.password, lookup, f"{origin}: restream.password")
    settings.engine.triton_url = _expand(settings.engine.triton_url, lookup, f"{origin}: engine.triton_url")


def _check_exposure(settings: ServiceSettings, origin: str) -> None:
    api = settings.api
    if api.enabled and not is_loopback(api.host) and not api.token:
        raise ConfigError(
            f'{origin}: api.token: expected a token (e.g. "${{GANSTREAM_API_TOKEN}}") when api.host is '
            f"{api.host!r}, not a loopback address"
        )
    rs = settings.restream
    if bool(rs.user) != bool(rs.password):
        raise ConfigError(f"{origin}: restream: expected both user and password (basic auth) or neither")
    if settings.engine.backend == "triton" and not settings.engine.triton_url:
        raise ConfigError(f"{origin}: engine.triton_url: expected host:port of a Triton gRPC endpoint")


def example_text() -> str:
    """The fully commented default config shipped with ganstream."""
    return EXAMPLE_PATH.read_text()
