"""Datasets, splits and preprocessing for hybrid quantum-classical models.

* :func:`load_dataset` — ``iris``, ``digits`` (scikit-learn's copies), ``mnist``,
  ``fashion-mnist`` (IDX files from a data folder, the user cache or a verified download) and
  ``xxz`` (XXZ-chain ground states labelled by phase), with class subsets and balanced,
  seeded subsampling; every :class:`Dataset` carries manifest ``metadata`` (files, SHA-256,
  ``genuine``);
* :func:`split_dataset` — stratified, seeded train / validation / test :class:`Splits`;
* preprocessors fitted on the training split only: :class:`AnglePCA`,
  :class:`AmplitudeAngles`, :class:`ImageScaler`, :class:`Standardize`
  (:func:`make_preprocessor` builds them by name);
* :func:`read_idx` and friends — the strict IDX parser.
"""

from qiskit_unlearn.data.dataset import Dataset
from qiskit_unlearn.data.files import (
    FASHION_MNIST,
    IDX_FILES,
    MNIST,
    IdxSource,
    download_file,
    downloads_allowed,
    locate_idx_files,
    resolve_data_dir,
    user_cache_dir,
)
from qiskit_unlearn.data.idx import (
    DataError,
    read_idx,
    read_image_label_pair,
    read_images,
    read_labels,
    write_idx,
)
from qiskit_unlearn.data.preprocess import (
    PREPROCESSORS,
    AmplitudeAngles,
    AnglePCA,
    Identity,
    ImageScaler,
    Preprocessor,
    Standardize,
    make_preprocessor,
)
from qiskit_unlearn.data.sources import (
    DATASETS,
    DatasetSpec,
    balanced_subsample,
    load_dataset,
    select_classes,
)
from qiskit_unlearn.data.splits import SPLIT_NAMES, Splits, split_dataset
from qiskit_unlearn.data.xxz import (
    PHASES,
    XXZ_VERSION,
    load_xxz,
    phase_labels,
    xxz_ground_states,
    xxz_hamiltonian,
)
from qiskit_unlearn.storage import sha256_file

# Annotations only (no new values): they give the re-exported constants their reference entries.
#: The registered datasets, name -> :class:`DatasetSpec` (see :func:`load_dataset`).
DATASETS: dict
#: The source of Fashion-MNIST (Zalando Research) and the SHA-256 of its genuine files.
FASHION_MNIST: IdxSource
#: The four standard IDX file names (train images and labels, then t10k images and labels).
IDX_FILES: tuple
#: The source of MNIST (LeCun and Cortes) and the SHA-256 of its genuine files.
MNIST: IdxSource
#: XXZ phase labellings, name -> class names (``three`` or ``binary``; see
#: :func:`phase_labels`).
PHASES: dict
#: The preprocessors by kind, kind -> class (see :func:`make_preprocessor`).
PREPROCESSORS: dict
#: The split names, in order (``train``, ``val``, ``test``).
SPLIT_NAMES: tuple
#: Version of the XXZ states and labels, bumped when they change so stale caches are not reused.
XXZ_VERSION: int

__all__ = [
    "DATASETS",
    "FASHION_MNIST",
    "IDX_FILES",
    "MNIST",
    "PHASES",
    "PREPROCESSORS",
    "SPLIT_NAMES",
    "XXZ_VERSION",
    "AmplitudeAngles",
    "AnglePCA",
    "DataError",
    "Dataset",
    "DatasetSpec",
    "Identity",
    "IdxSource",
    "ImageScaler",
    "Preprocessor",
    "Splits",
    "Standardize",
    "balanced_subsample",
    "download_file",
    "downloads_allowed",
    "load_dataset",
    "load_xxz",
    "locate_idx_files",
    "make_preprocessor",
    "phase_labels",
    "read_idx",
    "read_image_label_pair",
    "read_images",
    "read_labels",
    "resolve_data_dir",
    "select_classes",
    "sha256_file",
    "split_dataset",
    "user_cache_dir",
    "write_idx",
    "xxz_ground_states",
    "xxz_hamiltonian",
]
