"""Dataset registry: bundled sets, shared IDX files, manifests, subsets, offline errors and
downloads (only ever from local file:// URLs)."""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from qiskit_unlearn.data import (
    DATASETS,
    IDX_FILES,
    MNIST,
    DataError,
    download_file,
    files,
    load_dataset,
    select_classes,
    write_idx,
)

SHARED = Path(os.environ.get("QUNLEARN_DATA_DIR")
              or Path(__file__).resolve().parents[3] / "shared" / "data")
needs_shared = pytest.mark.skipif(not (SHARED / "mnist").is_dir(),
                                  reason=f"shared data folder {SHARED} is absent")


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    """A private cache, no data-folder variable, offline by default, and file:// URLs only."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("QUNLEARN_DATA_DIR", raising=False)
    monkeypatch.setenv("QUNLEARN_OFFLINE", "1")
    real = files.urlopen

    def local_only(url, *args, **kwargs):
        assert url.startswith("file://"), f"a test tried to reach the network: {url}"
        return real(url, *args, **kwargs)

    monkeypatch.setattr(files, "urlopen", local_only)


@pytest.fixture(scope="module")
def mnist():
    if not (SHARED / "mnist").is_dir():
        pytest.skip(f"shared data folder {SHARED} is absent")
    return load_dataset("mnist", data_dir=SHARED)


def test_iris_and_digits_from_scikit_learn():
    iris = load_dataset("iris")
    assert iris.x.shape == (150, 4) and iris.class_names == ("setosa", "versicolor", "virginica")
    assert iris.class_counts() == [50, 50, 50] and iris.official_test is None
    assert iris.metadata["genuine"] is True
    assert len(iris.metadata["files"]["iris.csv"]["sha256"]) == 64
    digits = load_dataset("digits")
    assert digits.x.shape == (1797, 8, 8) and digits.num_classes == 10
    assert json.loads(json.dumps(digits.metadata))["genuine"] is True


@pytest.mark.parametrize("name", ["iris", "digits", "fashion-mnist", "mnist", "xxz"])
def test_registry_class_names_are_the_loaded_datasets(name, tmp_path):
    """Configs are checked against ``DatasetSpec.class_names`` without loading any data."""
    if name in ("mnist", "fashion-mnist") and not (SHARED / name).is_dir():
        pytest.skip(f"shared data folder {SHARED} is absent")
    options = {"num_spins": 4, "num_samples": 12, "cache_dir": str(tmp_path)} \
        if name == "xxz" else {}
    data_dir = SHARED if name in ("mnist", "fashion-mnist") else None
    loaded = load_dataset(name, data_dir=data_dir, **options)
    assert DATASETS[name].class_names(options) == loaded.class_names
    if name == "xxz":
        binary = {**options, "phases": "binary"}
        assert DATASETS[name].class_names(binary) == \
            load_dataset(name, **binary).class_names


def test_unknown_names_and_options_list_the_choices():
    with pytest.raises(DataError, match="choose one of: digits, fashion-mnist, iris, mnist, xxz"):
        load_dataset("cifar")
    with pytest.raises(DataError, match=r"iris: unknown option.* foo; its options: none"):
        load_dataset("iris", foo=1)
    with pytest.raises(DataError, match="its options: download, base_url"):
        load_dataset("mnist", num_spins=4)


def test_shared_mnist_subset_is_flagged_not_genuine(mnist):
    assert mnist.x.shape == (10000, 28, 28) and mnist.x.dtype == np.uint8
    assert mnist.official_test.sum() == 1500
    meta = mnist.metadata
    assert meta["genuine"] is False and meta["origin"] == "data_dir argument"
    assert "10,000-digit MNIST subset" in meta["note"]
    for name in IDX_FILES:
        entry = meta["files"][name]
        assert entry["genuine"] is False and Path(entry["path"]).is_file()
        assert entry["sha256"] != MNIST.sha256[name]
    json.dumps(meta)


@needs_shared
def test_fashion_mnist_is_genuine_and_classes_by_name():
    ds = load_dataset("fashion-mnist", data_dir=SHARED, classes=["Trouser", "Bag"])
    assert ds.metadata["genuine"] is True and "note" not in ds.metadata
    assert ds.class_names == ("Trouser", "Bag") and ds.class_counts() == [7000, 7000]
    assert ds.metadata["classes"]["original_labels"] == [1, 8]
    assert ds.official_test.sum() == 2000


@needs_shared
def test_environment_variable_and_argument_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("QUNLEARN_DATA_DIR", str(SHARED))
    ds = load_dataset("mnist", classes=[0])
    assert ds.metadata["origin"] == "QUNLEARN_DATA_DIR" and len(ds) == 1001
    with pytest.raises(DataError, match="'mnist/' subfolder"):
        load_dataset("mnist", data_dir=tmp_path)  # the argument wins, and it is empty


def test_class_subset_relabels_in_the_order_given(mnist):
    sub = select_classes(mnist, [9, 1])
    assert sub.class_names == ("9", "1")
    original = mnist.y[np.isin(mnist.y, [1, 9])]
    np.testing.assert_array_equal(sub.y, np.where(original == 9, 0, 1))
    assert sub.metadata["classes"]["original_class_names"] == ["9", "1"]
    assert len(sub.official_test) == len(sub)
    with pytest.raises(DataError, match="unknown class 10"):
        select_classes(mnist, [1, 10])
    with pytest.raises(DataError, match="without repeats"):
        select_classes(mnist, [1, 1])


def test_samples_per_class_is_balanced_and_seeded(mnist, monkeypatch):
    monkeypatch.setenv("QUNLEARN_DATA_DIR", str(SHARED))
    a = load_dataset("mnist", classes=[1, 9], samples_per_class=100, seed=3)
    b = load_dataset("mnist", classes=[1, 9], samples_per_class=100, seed=3)
    c = load_dataset("mnist", classes=[1, 9], samples_per_class=100, seed=4)
    assert a.class_counts() == [100, 100] and a.metadata["samples_per_class"] == 100
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)
    with pytest.raises(DataError, match=r"class 0 \('5'\) has only 863 samples, fewer than "
                                        r"samples_per_class=900"):
        load_dataset("mnist", classes=[5], samples_per_class=900)


def test_offline_without_files_says_where_to_put_them(tmp_path, monkeypatch):
    with pytest.raises(DataError) as err:
        load_dataset("fashion-mnist")
    message = str(err.value)
    assert "downloads are disabled" in message and "QUNLEARN_DATA_DIR" in message
    assert str(tmp_path / "cache" / "qiskit-unlearn" / "fashion-mnist") in message
    monkeypatch.delenv("QUNLEARN_OFFLINE")
    with pytest.raises(DataError, match="downloads are disabled"):
        load_dataset("mnist", download=False)


def _mirror(folder: Path, n: int = 12) -> dict[str, str]:
    """Small synthetic IDX files in the standard layout; returns their SHA-256."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8) % 10)
    return {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in IDX_FILES}


def test_download_verifies_and_then_uses_the_cache(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    for name, digest in _mirror(mirror).items():
        monkeypatch.setitem(MNIST.sha256, name, digest)  # pretend these are the genuine files
    monkeypatch.delenv("QUNLEARN_OFFLINE")
    ds = load_dataset("mnist", base_url=mirror.as_uri())
    assert ds.metadata["origin"] == "download" and ds.metadata["genuine"] is True
    assert len(ds) == 24 and ds.official_test.sum() == 12
    cache = tmp_path / "cache" / "qiskit-unlearn" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(IDX_FILES)
    monkeypatch.setenv("QUNLEARN_OFFLINE", "1")
    assert load_dataset("mnist").metadata["origin"] == "cache"


def test_download_with_wrong_checksum_leaves_nothing(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    _mirror(mirror)  # MNIST.sha256 still holds the genuine checksums: every file mismatches
    with pytest.raises(DataError, match="does not match the genuine"):
        load_dataset("mnist", base_url=mirror.as_uri(), download=True)
    cache = tmp_path / "cache" / "qiskit-unlearn" / "mnist"
    assert list(cache.iterdir()) == []


def test_download_file_is_atomic(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"payload" * 1000)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    dest = tmp_path / "out" / "file.bin"
    assert download_file(src.as_uri(), dest, digest).read_bytes() == src.read_bytes()
    with pytest.raises(DataError, match="does not match"):
        download_file(src.as_uri(), tmp_path / "out" / "other.bin", "0" * 64)
    with pytest.raises(DataError, match="download failed"):
        download_file((tmp_path / "missing").as_uri(), tmp_path / "out" / "x.bin", digest)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["file.bin"]
