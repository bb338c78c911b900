"""The eval report: the restore speed target is read off a ratio against nlmeans in the same run."""

from __future__ import annotations

from ganstream.training.evaluate import Row, format_markdown


def test_report_gives_each_method_speed_against_nlmeans() -> None:
    rows = [
        Row("restore", "noise sigma 15", method, 33.0, 0.9, 5.0, 10.0, 0.5)
        for method in ("hqdn3d", "nlmeans (tuned)", "restore")
    ]
    timing = {"hqdn3d": 50.0, "nlmeans (tuned)": 400.0, "restore": 25.0, "sr2x (640x360 out)": 40.0}
    text = format_markdown(rows, timing, {"restore": "openvino bf16"})
    assert "| restore | noise sigma 15 | restore | 33.00 | +0.50 |" in text
    assert "restore: openvino bf16" in text
    speed = text.split("Speed against nlmeans")[1]
    assert "restore 16.0x" in speed and "hqdn3d 8.0x" in speed
    assert "sr2x" not in speed  # sr models are not denoisers


def test_report_without_nlmeans_has_no_speed_line() -> None:
    text = format_markdown([], {"sr2x (640x360 out)": 30.0}, {"sr2x": "openvino fp32"})
    assert "Speed against nlmeans" not in text and "| sr2x (640x360 out) | 30.0 |" in text


def test_detail_ratio_ranks_blur_below_the_reference_and_noise_above() -> None:
    import cv2
    import numpy as np

    from ganstream.training.metrics import detail_ratio

    rng = np.random.default_rng(1)
    ref = cv2.resize(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), (128, 96), interpolation=cv2.INTER_CUBIC)
    blurred = cv2.GaussianBlur(ref, (0, 0), 1.5)
    noisy = np.clip(ref + rng.normal(0, 10, ref.shape), 0, 255).astype(np.uint8)
    assert detail_ratio(ref, ref) == 1.0
    assert detail_ratio(blurred, ref) < 0.5 < 1.5 < detail_ratio(noisy, ref)


def test_every_clip_is_reported_with_its_difference_to_bicubic_and_the_colour_bias() -> None:
    import numpy as np

    from ganstream.training.evaluate import Clip, evaluate_group

    rng = np.random.default_rng(0)
    smooth = np.repeat(np.linspace(0, 255, 64, dtype=np.uint8)[None, None, :, None], 64, axis=1).repeat(3, axis=3)
    items = [
        Clip("photo", rng.integers(0, 256, (1, 64, 64, 3), np.uint8)),
        Clip("clip#0", smooth.repeat(2, axis=0)),
        Clip("clip#1", smooth.repeat(2, axis=0)),
    ]

    def brighter(x: np.ndarray) -> np.ndarray:  # bicubic, one level too bright: a biased "model"
        import cv2

        up = cv2.resize(x[0], (x.shape[2] * 2, x.shape[1] * 2), interpolation=cv2.INTER_CUBIC)
        return np.clip(up.astype(np.int16) + 1, 0, 255).astype(np.uint8)[None]

    rows = evaluate_group("sr", 2, {"brighter": brighter}, ["bicubic"], items, None)
    row = next(r for r in rows if r.method == "brighter" and r.dataset == "clean (area)")
    assert set(row.per_clip) == {"photo", "clip"}  # runs of one clip count as that clip
    assert all(d < 0 for d in row.per_clip_delta.values())
    assert all(0.8 < b < 1.2 for b in row.bias), row.bias  # one level, plus bicubic's own overshoot
    text = format_markdown(rows, {}, {"brighter": "test"})
    assert "Per clip, sr x2, clean (area)" in text and "| clip | " in text and "**worst**" in text
    brighter_line = next(line for line in text.splitlines() if "| clean (area) | brighter |" in line)
    assert "+1.0" in brighter_line  # the bias column


def test_the_smooth_input_scores_a_sharpening_model_under_bicubic() -> None:
    """`eval --smooth`: soft ground truth, area-downscaled; a model that sharpens soft input loses."""
    import cv2
    import numpy as np

    from ganstream.training.evaluate import SMOOTH_SET, Clip, _sr_sets, evaluate_group

    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (2, 64, 64, 3), np.uint8)
    assert SMOOTH_SET not in _sr_sets([Clip("photo", frames)], 2)
    ((lr, truth),) = _sr_sets([Clip("photo", frames)], 2, smooth=True)[SMOOTH_SET]
    assert lr.shape == (2, 32, 32, 3) and truth.shape == frames.shape
    steps = [np.abs(np.diff(a.astype(float), axis=2)).mean() for a in (truth, frames)]
    assert steps[0] < 0.5 * steps[1]  # the ground truth itself is softened

    def sharpening(x: np.ndarray) -> np.ndarray:  # bicubic plus an unsharp mask
        up = cv2.resize(x[0], (x.shape[2] * 2, x.shape[1] * 2), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        sharp = up + 1.5 * (up - cv2.GaussianBlur(up, (0, 0), 1.0))
        return np.clip(sharp + 0.5, 0, 255).astype(np.uint8)[None]

    rows = evaluate_group("sr", 2, {"sharp": sharpening}, ["bicubic"], [Clip("photo", frames)], None, smooth=True)
    row = next(r for r in rows if r.method == "sharp" and r.dataset == SMOOTH_SET)
    assert row.delta < -1.0


def test_restore_is_scored_on_a_dim_scene_too() -> None:
    """Night footage: the same noise on a dim ground truth (clipped near black)."""
    import numpy as np

    from ganstream.training.evaluate import DIM_FACTOR, DIM_SET, Clip, _restore_sets

    frames = np.full((2, 32, 48, 3), 200, np.uint8)
    sets = _restore_sets([Clip("grey", frames)])
    assert list(sets) == ["noise sigma 15", DIM_SET, "H.264 CRF 30"]
    ((noisy, truth),) = sets[DIM_SET]
    assert int(truth.max()) == round(200 * DIM_FACTOR)
    assert abs(float(noisy.mean()) - float(truth.mean())) < 2 and float(noisy.std()) > 10
    # The plain noisy set is unchanged by the dim one (its own random stream).
    again = _restore_sets([Clip("grey", frames)])
    assert np.array_equal(again["noise sigma 15"][0][0], sets["noise sigma 15"][0][0])


def test_floors_count_the_items_a_model_leaves_under_the_input_and_hqdn3d() -> None:
    """Never worse than the classical filter: every item is checked, not only the mean."""

    def row(method: str, per_item: dict[str, float]) -> Row:
        return Row("restore", "noise sigma 15", method, 30.0, 0.9, 1.0, 1.0, 0.0, per_clip=per_item)

    rows = [
        row("input", {"a": 25.0, "b": 25.0, "c": 25.0}),
        row("hqdn3d", {"a": 28.0, "b": 28.0, "c": 28.0}),
        row("nlmeans (tuned)", {"a": 40.0, "b": 40.0, "c": 40.0}),
        # Above the input everywhere; under hqdn3d on b by a lot, on c by less than the margin.
        row("restore", {"a": 31.0, "b": 27.0, "c": 27.97}),
    ]
    from ganstream.training.evaluate import floor_check

    checks = {(r.method, floor): (under, n, worst) for r, floor, under, n, worst, _ in floor_check(rows)}
    assert set(checks) == {("restore", "input"), ("restore", "hqdn3d")}  # baselines are not checked
    assert checks[("restore", "input")] == (0, 3, 2.0)
    under, n, worst = checks[("restore", "hqdn3d")]
    assert (under, n) == (1, 3) and abs(worst + 1.0) < 1e-9
    text = format_markdown(rows, {}, {"restore": "test"})
    assert "| restore | noise sigma 15 | restore | hqdn3d | 1 of 3 | -1.00 | b |" in text
