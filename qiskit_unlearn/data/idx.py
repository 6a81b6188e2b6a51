"""Strict reader (and writer) for the IDX format of MNIST-style datasets, gzipped or not.

IDX is big-endian: two zero bytes, a type code (0x08 = uint8), the number of dimensions, one
uint32 per dimension, then the data. The MNIST files use magic ``0x00000803`` (images N×28×28)
and ``0x00000801`` (labels N). A file that is cut short, has trailing bytes or the wrong
header would otherwise turn into silently misaligned images and labels, so every deviation
raises :class:`DataError` naming the file and what is wrong.
"""

from __future__ import annotations

import gzip
import zlib
from os import PathLike
from pathlib import Path

import numpy as np

from qiskit_unlearn import validation
from qiskit_unlearn.storage import write_bytes_atomic

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

# IDX type code -> big-endian NumPy dtype.
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items()}


class DataError(ValueError):
    """Data that cannot be found, read or used as asked; the message says what to change."""


def check_int(value: object, name: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, or a :class:`DataError` naming the argument."""
    return validation.check_int(value, name, low=minimum, error=DataError)


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path}: the gzip stream is corrupt or truncated ({exc})") from exc


def read_idx(path: str | PathLike[str], magic: int | None = None) -> np.ndarray:
    """Parse one IDX file (gzip detected from its content) into a native-endian array.

    Args:
        path: The file, gzipped or not.
        magic: The expected magic number (e.g. ``0x00000803`` for MNIST images,
            ``0x00000801`` for labels), which pins the type code and number of dimensions;
            None accepts any valid IDX header.

    Returns:
        The array, with the file's dtype in native byte order and shape from its header.

    Raises:
        DataError: If the file cannot be read, is not IDX, has another magic number, or is
            truncated or has trailing bytes.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: {len(data)} bytes is too short for an IDX header")
    found = int.from_bytes(data[:4], "big")
    if data[:2] != b"\0\0" or data[2] not in _DTYPES or data[3] == 0:
        raise DataError(f"{path}: bad IDX magic number 0x{found:08x} (not an IDX file)")
    if magic is not None and found != magic:
        raise DataError(f"{path}: IDX magic number 0x{found:08x}, expected 0x{magic:08x} "
                        f"({_describe(magic)})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes, need {header} for "
                        f"{ndim} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    dtype = np.dtype(_DTYPES[data[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    payload = len(data) - header
    if payload < expected:
        raise DataError(f"{path}: truncated: dimensions {shape} need {expected} data bytes, "
                        f"found {payload}")
    if payload > expected:
        raise DataError(f"{path}: {payload - expected} unexpected trailing bytes after the "
                        f"{shape} array")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _describe(magic: int) -> str:
    return {IMAGES_MAGIC: "uint8 images, 3 dimensions",
            LABELS_MAGIC: "uint8 labels, 1 dimension"}.get(magic, "IDX")


def read_images(path: str | PathLike[str],
                image_shape: tuple[int, int] | None = (28, 28)) -> np.ndarray:
    """uint8 images of shape (N, rows, cols) from an IDX images file.

    Args:
        path: The file, gzipped or not.
        image_shape: The expected (rows, cols); None accepts any.

    Returns:
        The images, shape (N, rows, cols), dtype uint8.

    Raises:
        DataError: If the file is not a valid IDX images file or the images have another shape.
    """
    images = read_idx(path, IMAGES_MAGIC)
    if image_shape is not None and images.shape[1:] != tuple(image_shape):
        raise DataError(f"{path}: images are {images.shape[1]}×{images.shape[2]}, expected "
                        f"{image_shape[0]}×{image_shape[1]}")
    return images


def read_labels(path: str | PathLike[str], num_classes: int | None = 10) -> np.ndarray:
    """uint8 labels of shape (N,) from an IDX labels file.

    Args:
        path: The file, gzipped or not.
        num_classes: Every label must be below this; None leaves labels unchecked.

    Returns:
        The labels, shape (N,), dtype uint8.

    Raises:
        DataError: If the file is not a valid IDX labels file or a label is out of range.
    """
    labels = read_idx(path, LABELS_MAGIC)
    if num_classes is not None and labels.size and int(labels.max()) >= num_classes:
        raise DataError(f"{path}: label {int(labels.max())} is out of range for "
                        f"{num_classes} classes")
    return labels


def read_image_label_pair(images: str | PathLike[str], labels: str | PathLike[str],
                          image_shape: tuple[int, int] | None = (28, 28),
                          num_classes: int | None = 10) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels that belong together: their counts must agree.

    Args:
        images: The IDX images file (see :func:`read_images`).
        labels: The IDX labels file (see :func:`read_labels`).
        image_shape: The expected (rows, cols) of the images; None accepts any.
        num_classes: Upper bound (exclusive) of the labels; None leaves them unchecked.

    Returns:
        Images of shape (N, rows, cols) and labels of shape (N,), both uint8.

    Raises:
        DataError: If either file is invalid or their counts differ.
    """
    x = read_images(images, image_shape)
    y = read_labels(labels, num_classes)
    if len(x) != len(y):
        raise DataError(f"{images} has {len(x)} images but {labels} has {len(y)} labels")
    return x, y


def write_idx(path: str | PathLike[str], array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as IDX (gzipped if ``compress``, default: when the name ends in .gz).

    Used to build test fixtures and to store converted data in the standard layout.

    Args:
        path: The file to write (replaced atomically).
        array: An array of at least one dimension with an IDX dtype (uint8, int8, int16,
            int32, float32 or float64).
        compress: Gzip the file; None compresses when ``path`` ends in ``.gz``.

    Returns:
        ``path`` as a path.

    Raises:
        DataError: If the array's dtype or number of dimensions cannot be written as IDX.
    """
    path = Path(path)
    arr = np.asarray(array)
    code = _CODES.get(arr.dtype.newbyteorder("="))
    if code is None or arr.ndim == 0 or arr.ndim > 255:
        raise DataError(f"cannot write a {arr.dtype} array with {arr.ndim} dimensions as IDX")
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    data = header + arr.astype(np.dtype(_DTYPES[code])).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    write_bytes_atomic(path, data)
    return path
