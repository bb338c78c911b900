"""Platform profiles: which GStreamer elements decode, move frames between memories and encode.

A profile is a row of element choices, nothing more; the pipeline builders splice its fragments
in (`Pipeline` for ``ganstream run --profile``, `launch_line` for a gst-launch-1.0 line using the
ganstream elements). `cpu` is the portable default; `jetson` uses the L4T multimedia elements
(NVMM buffers, nvvidconv between NVMM and system memory) with the TensorRT backend; `nvidia`
uses GStreamer's nvcodec plugin (NVDEC/NVENC on a desktop or server GPU).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ganstream.stream.errors import ConfigError, MissingDependencyError

_FACTORY = re.compile(r"(?:^|!)\s*([a-z][a-z0-9_-]*)")


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    decoders: tuple[str, ...] = ()  # preferred by decodebin (their rank is raised)
    download: str = ""  # fragment after the decoder: device memory -> system memory raw video
    encoder: str = ""  # fragment: raw video -> H.264 byte-stream ("" = the sinks' x264enc)
    camera: str = ""  # source element for CSI cameras
    backend: str = "auto"  # inference backend when --backend is not given
    install_hint: str = ""

    def elements(self) -> list[str]:
        """Every element factory this profile uses."""
        names = [*self.decoders]
        for fragment in (self.download, self.encoder, self.camera):
            names += _FACTORY.findall(fragment)
        return list(dict.fromkeys(n for n in names if n != "video"))

    def missing(self) -> list[str]:
        """The elements of this profile that are not installed here."""
        from ganstream.stream.gst import has_element

        return [name for name in self.elements() if not has_element(name)]

    def require(self) -> None:
        """One clear line when this platform lacks the profile's elements."""
        missing = self.missing()
        if missing:
            hint = f" ({self.install_hint})" if self.install_hint else ""
            raise MissingDependencyError(
                f"profile '{self.name}' needs GStreamer elements missing here: {', '.join(missing)}{hint}"
            )

    def prefer_decoders(self) -> None:
        """Make decodebin / uridecodebin pick this profile's hardware decoders first."""
        from ganstream.stream.gst import init

        Gst = init()
        for name in self.decoders:
            factory = Gst.ElementFactory.find(name)
            if factory is not None:
                factory.set_rank(Gst.Rank.PRIMARY + 100)

    def to_system_memory(self) -> str:
        """The fragment (with a trailing ' ! ') that brings decoded frames to system memory."""
        return f"{self.download} ! " if self.download else ""


PROFILES: dict[str, Profile] = {
    "cpu": Profile("cpu", "software decode (decodebin) and x264enc; any machine"),
    "jetson": Profile(
        "jetson",
        "NVIDIA Jetson (JetPack): nvv4l2decoder, nvvidconv, nvv4l2h264enc, nvarguscamerasrc; TensorRT",
        decoders=("nvv4l2decoder",),
        download="nvvidconv ! video/x-raw,format=RGBA",
        encoder="videoconvert ! video/x-raw,format=RGBA ! nvvidconv ! video/x-raw(memory:NVMM),format=NV12 "
        "! nvv4l2h264enc insert-sps-pps=true",
        camera="nvarguscamerasrc",
        backend="trt",
        install_hint="JetPack's GStreamer plugins: nvidia-l4t-gstreamer",
    ),
    "jetson-nano": Profile(
        "jetson-nano",
        "NVIDIA Jetson Orin Nano (no hardware encoder): nvv4l2decoder, nvvidconv, x264enc; TensorRT",
        decoders=("nvv4l2decoder",),
        download="nvvidconv ! video/x-raw,format=RGBA",
        camera="nvarguscamerasrc",
        backend="trt",
        install_hint="JetPack's GStreamer plugins: nvidia-l4t-gstreamer",
    ),
    "nvidia": Profile(
        "nvidia",
        "desktop/server NVIDIA GPU: nvh264dec, cudadownload, cudaupload, nvh264enc (GStreamer nvcodec); TensorRT",
        decoders=("nvh264dec",),
        download="cudadownload",
        encoder="videoconvert ! video/x-raw,format=NV12 ! cudaupload ! nvh264enc",
        backend="trt",
        install_hint="gstreamer1.0-plugins-bad >= 1.22 with the NVIDIA driver's libnvidia-encode/libnvcuvid",
    ),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}") from None


def launch_line(profile: Profile, source: str, sink: str, stages: str = "ganstream_sr") -> str:
    """A gst-launch-1.0 line: `source` (a .mp4 file, or "camera") -> `stages` -> `sink` (.mp4)."""
    if source == "camera":
        if not profile.camera:
            raise ConfigError(f"profile '{profile.name}' has no CSI camera element; use v4l2src")
        head = f"{profile.camera} ! {profile.to_system_memory()}"
    else:
        decoder = profile.decoders[0] if profile.decoders else "avdec_h264"
        head = f"filesrc location={source} ! qtdemux ! h264parse ! {decoder} ! {profile.to_system_memory()}"
    encoder = profile.encoder or "videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=veryfast"
    return (
        f"{head}videoconvert ! video/x-raw,format=RGB ! {stages} ! {encoder} ! h264parse ! mp4mux "
        f"! filesink location={sink}"
    )
