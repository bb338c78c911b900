"""`serve` with `sr2x-auto`: each camera chooses its model, on engines shared by every camera
(stream/service/choice_stage.py)."""

from __future__ import annotations

import numpy as np

from ganstream.engines.input_choice import StreamChoice
from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.service.choice_stage import SharedChoiceStage
from ganstream.stream.service.config import BatchingSettings, CameraSettings, EngineSettings
from ganstream.stream.service.engines import EnginePool, build_camera_stages, unknown_model
from ganstream.stream.stage_factory import installed_models, task_of
from ganstream.training.codec import h264_roundtrip
from tests.unit.test_input_choice import scene


def test_each_camera_runs_the_model_its_frames_need_on_the_shared_engines() -> None:
    pool = EnginePool(EngineSettings(backend="ort", precision="fp32"), BatchingSettings(max_batch=4))
    clean_frames = [scene(96, 128) for _ in range(3)]
    coded_frames = list(h264_roundtrip(np.stack(clean_frames), crf=36))
    stages = {}
    try:
        for name in ("webcam", "h264cam"):  # the default chain: sr = 2, the per-camera choice
            (stage,) = build_camera_stages(CameraSettings(name=name, source="test:ball"), pool)
            assert isinstance(stage, SharedChoiceStage) and stage.label.startswith("sr2x-auto ort fp32")
            assert stage.configure(VideoSpec(width=128, height=96)).width == 256
            stages[name] = stage
        for i in range(3):
            for name, frames in (("webcam", clean_frames), ("h264cam", coded_frames)):
                (out,) = stages[name].process(Frame(pixels=frames[i], pts=i * 40_000_000, duration=40_000_000, seq=i))
                assert out.pixels.shape == (192, 256, 3)
        assert stages["webcam"].choice.current == "clean" and stages["h264cam"].choice.current == "compressed"
        engines = {e.name.split("/")[0]: e for e in pool.engines()}
        assert set(engines) == {"sr2x", "sr2x-clean"}  # two shared engines, not one per camera
        assert engines["sr2x-clean"].figures.frames >= 3 and engines["sr2x"].figures.frames >= 3  # + strength runs
        assert "input choice: sr2x-clean on 3 frames, sr2x on 0" in stages["webcam"].summary_line()
        assert "input choice: sr2x-clean on 0 frames, sr2x on 3" in stages["h264cam"].summary_line()

        # The webcam's feed turns to H.264 after its opening pair: it switches, and the switch
        # fades over both engines.
        webcam = stages["webcam"]
        webcam.choice = StreamChoice(every=1, decay=0.0, fade=3)
        before = {k: e.figures.frames for k, e in engines.items()}
        for i, pixels in enumerate((clean_frames[0], clean_frames[1], coded_frames[0], coded_frames[1])):
            (out,) = webcam.process(Frame(pixels=pixels, pts=i * 40_000_000, duration=40_000_000, seq=3 + i))
            assert out.pixels.shape == (192, 256, 3)
        assert webcam.choice.switches == 1 and webcam.choice.current == "compressed" and webcam.choice.fading
        ran = {k: e.figures.frames - before[k] for k, e in engines.items()}
        assert ran["sr2x"] >= 2 and ran["sr2x-clean"] >= 4  # the fading frames ran on both
    finally:
        for s in stages.values():
            s.close()
        pool.close()


def test_a_choice_is_a_known_model_to_serve_only_with_both_of_its_models() -> None:
    installed = installed_models()
    assert task_of("sr2x-auto", installed) == "sr"
    assert task_of("sr4x-auto", installed) is None  # no sr4x-clean is shipped
    assert "'sr4x-clean' not installed" in unknown_model("sr4x-auto", installed)
    assert "sr2x-auto" in unknown_model("nosuch", installed)


def test_a_choice_of_another_scale_is_refused_in_one_line() -> None:
    import pytest

    from ganstream.stream.errors import StageError
    from ganstream.stream.service.config import ChainSettings

    pool = EnginePool(EngineSettings(backend="ort"), BatchingSettings())
    cam = CameraSettings(name="gate", source="test:ball", chain=ChainSettings(sr=4, models=["sr2x-auto"]))
    with pytest.raises(StageError, match="camera 'gate': model 'sr2x-auto' upscales x2, not x4"):
        build_camera_stages(cam, pool)
    pool.close()
