"""Platform profiles: element tables, gst-launch lines, and the one-line refusal where elements are missing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ganstream.stream.errors import ConfigError, MissingDependencyError
from ganstream.stream.profiles import PROFILES, get_profile, launch_line


def test_the_jetson_profile_uses_the_l4t_elements_and_tensorrt() -> None:
    jetson = get_profile("jetson")
    assert {"nvv4l2decoder", "nvvidconv", "nvv4l2h264enc", "nvarguscamerasrc"} <= set(jetson.elements())
    assert jetson.backend == "trt"


def test_the_nvidia_profile_uses_nvcodec() -> None:
    assert {"nvh264dec", "nvh264enc", "cudaupload", "cudadownload"} <= set(get_profile("nvidia").elements())


def test_an_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown profile 'tegra'; expected one of cpu, jetson, jetson-nano, nvidia"):
        get_profile("tegra")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_launch_lines_parse_where_the_elements_exist(name: str) -> None:
    from ganstream.stream.elements import register
    from ganstream.stream.gst import init

    profile = get_profile(name)
    line = launch_line(profile, "in.mp4", "out.mp4", "ganstream_sr model=bicubic")
    for element in profile.elements():
        assert element in line or element == profile.camera
    missing = profile.missing()
    if missing:
        print(f"profile {name}: not checked against GStreamer here, missing {', '.join(missing)}")
        pytest.skip(f"profile {name}: elements not installed here: {', '.join(missing)}")
    Gst = init()
    register()
    pipeline = Gst.parse_launch(line)  # raises GLib.Error for an unknown element or a bad property
    # Element names count up per process, so look the sink up by its factory.
    factories = {e.get_factory().get_name() for e in pipeline.iterate_elements()}
    assert "filesink" in factories


def test_require_names_every_missing_element_in_one_line() -> None:
    jetson = get_profile("jetson")
    missing = jetson.missing()
    if not missing:
        pytest.skip("the Jetson elements are installed here")
    with pytest.raises(MissingDependencyError) as err:
        jetson.require()
    text = str(err.value)
    assert "\n" not in text
    assert all(name in text for name in missing)


def test_run_with_a_missing_profile_exits_with_one_line() -> None:
    if not get_profile("jetson").missing():
        pytest.skip("the Jetson elements are installed here")
    done = subprocess.run(
        [sys.executable, "-m", "ganstream.stream", "run", "--profile", "jetson", "--source", "test:ball?frames=3",
         "--sink", "null", "--no-progress"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == [lines[0]] and "profile 'jetson' needs GStreamer elements missing here: nvv4l2decoder" in lines[0]


def test_a_camera_line_needs_a_camera_element() -> None:
    assert launch_line(get_profile("jetson"), "camera", "out.mp4").startswith("nvarguscamerasrc ! nvvidconv")
    with pytest.raises(ConfigError, match="no CSI camera element"):
        launch_line(get_profile("cpu"), "camera", "out.mp4")
