"""Preprocessing for the three ways data enters a hybrid model, fitted on training data only.

* :class:`AnglePCA` — PCA to the qubit count, then min-max scaling to [-π, π] for angle
  encoding;
* :class:`AmplitudeAngles` — zero-pad to 2^n, normalize, and convert to the RY angles of
  ``qiskit_unlearn.ansatz.amplitude_state_preparation``;
* :class:`ImageScaler` — images as float32 in [0, 1], shape (N, 1, H, W), for a CNN front end;
* :class:`Standardize` — zero mean, unit variance per feature; :class:`Identity` — nothing.

Every statistic (PCA basis, minima, maxima, means) comes from ``fit(x_train)`` alone, so
validation and test data never leak into training, and values of other splits that fall
outside the training range are clipped into it.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike
from sklearn.decomposition import PCA

from qiskit_unlearn.ansatz.amplitude import amplitude_encode, amplitude_encoding_angles
from qiskit_unlearn.ansatz.base import AnsatzError
from qiskit_unlearn.data.idx import DataError, check_int
from qiskit_unlearn.registry import Registry


def _flat(x: ArrayLike) -> np.ndarray:
    """(N, ...) samples as float64 rows (N, features)."""
    arr = np.asarray(x)
    if arr.ndim < 1 or len(arr) == 0:
        raise DataError(f"expected a non-empty batch of samples, got shape {arr.shape}")
    return arr.reshape(len(arr), -1).astype(np.float64)


class Preprocessor:
    """``fit(x_train)`` learns statistics, ``transform(x)`` applies them to any split.

    A subclass also says how a config builds it
    (:meth:`~qiskit_unlearn.data.Preprocessor.from_config`) and which model keys that needs
    (:attr:`~qiskit_unlearn.data.Preprocessor.needs`), so the config schema and the run derive
    both from here.
    """

    kind = "none"
    #: ``[model]`` keys :meth:`~qiskit_unlearn.data.Preprocessor.from_config` reads (the config
    #: is refused without them).
    needs: ClassVar[tuple[str, ...]] = ()
    _fitted = False

    @classmethod
    def config_kwargs(cls, data: Mapping[str, Any], model: Mapping[str, Any]) -> dict[str, Any]:
        """Constructor arguments from a validated config's ``[data]`` and ``[model]``.

        Args:
            data: The validated ``[data]`` section.
            model: The validated ``[model]`` section.

        Returns:
            Keyword arguments of the constructor (none for the base class).
        """
        return {}

    @classmethod
    def check_features(cls, features: int, data: Mapping[str, Any],
                       model: Mapping[str, Any]) -> None:
        """Refuse a config whose data cannot feed its model.

        The base class accepts every config.

        Args:
            features: Number of features of one raw sample (flattened).
            data: The validated ``[data]`` section.
            model: The validated ``[model]`` section.

        Raises:
            DataError: If the preprocessed data cannot feed the model.
        """

    @classmethod
    def from_config(cls, data: Mapping[str, Any], model: Mapping[str, Any]) -> Preprocessor:
        """Build the preprocessor a validated config asks for.

        Args:
            data: The validated ``[data]`` section.
            model: The validated ``[model]`` section (must hold the keys in ``needs``).

        Returns:
            An unfitted preprocessor.
        """
        return cls(**cls.config_kwargs(data, model))

    def __init__(self) -> None:
        pass

    def fit(self, x_train: ArrayLike) -> Preprocessor:
        """Learn the statistics from the training split.

        Args:
            x_train: Training samples, shape (N, ...).

        Returns:
            The preprocessor itself, fitted.

        Raises:
            DataError: If the samples cannot be used (e.g. an empty batch or too few samples
                for the PCA).
        """
        self._fit(x_train)
        self._fitted = True
        return self

    def transform(self, x: ArrayLike) -> np.ndarray:
        """Apply the fitted statistics to any split.

        Args:
            x: Samples, shape (N, ...), like the training samples.

        Returns:
            The preprocessed samples (shape depends on the preprocessor).

        Raises:
            DataError: If the preprocessor is not fitted or ``x`` does not match the training
                samples.
        """
        if not self._fitted:
            raise DataError(f"{type(self).__name__}: call fit(x_train) before transform")
        return self._transform(x)

    def fit_transform(self, x_train: ArrayLike) -> np.ndarray:
        """Fit on ``x_train`` and transform it.

        Args:
            x_train: Training samples, shape (N, ...).

        Returns:
            The preprocessed training samples.
        """
        return self.fit(x_train).transform(x_train)

    @property
    def config(self) -> dict[str, Any]:
        """The kind and constructor arguments, for the run's manifest."""
        params = inspect.signature(type(self).__init__).parameters
        return {"kind": self.kind, **{k: getattr(self, k) for k in params if k != "self"}}

    def _fit(self, x_train: ArrayLike) -> None:
        pass

    def _transform(self, x: ArrayLike) -> np.ndarray:
        return np.asarray(x)


class Identity(Preprocessor):
    """Leaves the data as it is (e.g. XXZ states that feed amplitude angles elsewhere)."""


class Standardize(Preprocessor):
    """Per-feature zero mean and unit variance (constant features are only centred)."""

    kind = "standardize"

    def _fit(self, x_train: ArrayLike) -> None:
        x = _flat(x_train)
        self.mean_ = x.mean(axis=0)
        std = x.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)

    def _transform(self, x: ArrayLike) -> np.ndarray:
        return (_flat(x) - self.mean_) / self.scale_


class AnglePCA(Preprocessor):
    """Flatten, PCA to ``n_components`` (None: keep the features), scale into ``feature_range``.

    One feature per qubit: the rotation angles of angle encoding. Scaling is min-max on the
    training projections; other splits are clipped into the range. ``transform`` returns shape
    (N, n_components).

    Args:
        n_components: Number of principal components (at least 1, at most the number of
            training samples and features); None keeps the flattened features as they are.
        feature_range: (low, high) of the scaled features, in radians; low < high.

    Raises:
        DataError: If ``n_components`` is not an integer >= 1 or the range is empty.
    """

    kind = "pca-angles"
    needs = ("num_qubits",)

    @classmethod
    def config_kwargs(cls, data: Mapping[str, Any], model: Mapping[str, Any]) -> dict[str, Any]:
        """``n_components`` = ``model.num_qubits`` (if ``data.angle_pca``), ``data.angle_range``.

        Args:
            data: The validated ``[data]`` section.
            model: The validated ``[model]`` section.

        Returns:
            Keyword arguments of the constructor.
        """
        return {"n_components": model["num_qubits"] if data["angle_pca"] else None,
                "feature_range": tuple(float(v) for v in data["angle_range"])}

    @classmethod
    def check_features(cls, features: int, data: Mapping[str, Any],
                       model: Mapping[str, Any]) -> None:
        """Without PCA, the raw features must number ``model.num_qubits``.

        Args:
            features: Number of features of one raw sample (flattened).
            data: The validated ``[data]`` section.
            model: The validated ``[model]`` section.

        Raises:
            DataError: If ``data.angle_pca`` is off and ``features != model.num_qubits``.
        """
        if not data["angle_pca"] and features != model["num_qubits"]:
            raise DataError(f"data.angle_pca = false feeds the {features} features straight "
                            f"to the circuit, but model.num_qubits = {model['num_qubits']}; set "
                            f"num_qubits = {features} or angle_pca = true")

    def __init__(self, n_components: int | None = None,
                 feature_range: tuple[float, float] = (-np.pi, np.pi)) -> None:
        if n_components is not None:
            n_components = check_int(n_components, "n_components")
        lo, hi = (float(v) for v in feature_range)
        if not lo < hi:
            raise DataError(f"feature_range must be (low, high) with low < high, got "
                            f"{feature_range!r}")
        self.n_components = n_components
        self.feature_range = (lo, hi)

    def _fit(self, x_train: ArrayLike) -> None:
        x = _flat(x_train)
        self.pca_ = None
        if self.n_components is not None:
            if self.n_components > min(x.shape):
                raise DataError(f"AnglePCA: {self.n_components} components need at least as "
                                f"many training samples and features, got {x.shape}")
            # Full SVD: deterministic, no random state involved.
            self.pca_ = PCA(self.n_components, svd_solver="full").fit(x)
            x = self.pca_.transform(x)
        self.data_min_ = x.min(axis=0)
        span = x.max(axis=0) - self.data_min_
        self.data_range_ = np.where(span > 0, span, 1.0)

    def _transform(self, x: ArrayLike) -> np.ndarray:
        z = _flat(x)
        if self.pca_ is not None:
            z = self.pca_.transform(z)
        lo, hi = self.feature_range
        z = lo + (z - self.data_min_) / self.data_range_ * (hi - lo)
        return np.clip(z, lo, hi)


class AmplitudeAngles(Preprocessor):
    """Amplitude encoding on ``num_qubits``: the 2^n - 1 angles that prepare each sample.

    Samples with more than 2^n features are rejected unless ``pca=True``, which first projects
    onto the top 2^n principal components of the training data (a lossy step that should be
    chosen, not happen by accident). Without PCA nothing is fitted: each sample is normalized
    on its own. ``transform`` returns shape (N, 2^n - 1).

    Args:
        num_qubits: Number of qubits n (at least 1).
        pca: Project samples with more than 2^n features onto the top 2^n principal
            components of the training data.

    Raises:
        DataError: If ``num_qubits`` is not an integer >= 1.
    """

    kind = "amplitude"
    needs = ("num_qubits",)

    @classmethod
    def config_kwargs(cls, data: Mapping[str, Any], model: Mapping[str, Any]) -> dict[str, Any]:
        """``num_qubits`` = ``model.num_qubits``, ``pca`` = ``data.amplitude_pca``.

        Args:
            data: The validated ``[data]`` section.
            model: The validated ``[model]`` section.

        Returns:
            Keyword arguments of the constructor.
        """
        return {"num_qubits": model["num_qubits"], "pca": data["amplitude_pca"]}

    def __init__(self, num_qubits: int, pca: bool = False) -> None:
        self.num_qubits = check_int(num_qubits, "num_qubits")
        self.pca = bool(pca)

    def _fit(self, x_train: ArrayLike) -> None:
        x = _flat(x_train)
        dim = 2**self.num_qubits
        self.pca_ = None
        if x.shape[1] > dim:
            if not self.pca:
                raise DataError(f"AmplitudeAngles: {x.shape[1]} features do not fit in "
                                f"{self.num_qubits} qubits ({dim} amplitudes); use more qubits "
                                "or pca=True")
            if dim > min(x.shape):
                raise DataError(f"AmplitudeAngles: PCA to {dim} components needs at least "
                                f"{dim} training samples, got {len(x)}")
            self.pca_ = PCA(dim, svd_solver="full").fit(x)
        self.num_features_ = x.shape[1]

    def _reduced(self, x: ArrayLike) -> np.ndarray:
        z = _flat(x)
        if z.shape[1] != self.num_features_:
            raise DataError(f"AmplitudeAngles: fitted on {self.num_features_} features, got "
                            f"{z.shape[1]}")
        return self.pca_.transform(z) if self.pca_ is not None else z

    def states(self, x: ArrayLike) -> np.ndarray:
        """The normalized 2^n-amplitude vectors that the angles prepare.

        Args:
            x: Samples, shape (N, ...), with the training samples' number of features.

        Returns:
            Unit vectors of shape (N, 2^n).

        Raises:
            DataError: If the preprocessor is not fitted or a sample cannot be encoded (e.g.
                all zeros).
        """
        if not self._fitted:
            raise DataError("AmplitudeAngles: call fit(x_train) before states")
        try:
            return amplitude_encode(self._reduced(x), self.num_qubits)
        except AnsatzError as exc:
            raise DataError(f"AmplitudeAngles: {exc}") from exc

    def _transform(self, x: ArrayLike) -> np.ndarray:
        try:
            return amplitude_encoding_angles(self._reduced(x), self.num_qubits)
        except AnsatzError as exc:
            raise DataError(f"AmplitudeAngles: {exc}") from exc


class ImageScaler(Preprocessor):
    """Images as float32 in [0, 1] with a channel axis.

    (N, H, W) or square (N, ``H*W``) becomes (N, 1, H, W); (N, C, H, W) keeps its channels.

    Args:
        max_value: The pixel value that maps to 1 (> 0); None: 255 for uint8 images, else the
            training maximum. Brighter pixels of other splits are clipped.

    Raises:
        DataError: If ``max_value`` is not positive.
    """

    kind = "image"

    def __init__(self, max_value: float | None = None) -> None:
        if max_value is not None and not float(max_value) > 0:
            raise DataError(f"max_value must be positive, got {max_value!r}")
        self.max_value = max_value

    def _fit(self, x_train: ArrayLike) -> None:
        x = np.asarray(x_train)
        if self.max_value is not None:
            self.scale_ = float(self.max_value)
        elif x.dtype == np.uint8:
            self.scale_ = 255.0
        else:
            self.scale_ = float(np.max(x)) if x.size else 0.0
            if not self.scale_ > 0:
                raise DataError("ImageScaler: training images have no positive pixel to scale "
                                "by; pass max_value")
        self.shape_ = self._images(x).shape[1:]

    @staticmethod
    def _images(x: np.ndarray) -> np.ndarray:
        if x.ndim == 4:
            return x
        if x.ndim == 3:
            return x[:, None]
        side = math.isqrt(x.shape[1]) if x.ndim == 2 else 0
        if x.ndim == 2 and side * side == x.shape[1]:
            return x.reshape(len(x), 1, side, side)
        raise DataError(f"ImageScaler: expected images (N, H, W), (N, C, H, W) or square "
                        f"flattened images (N, H*W), got shape {x.shape}")

    def _transform(self, x: ArrayLike) -> np.ndarray:
        images = self._images(np.asarray(x))
        if images.shape[1:] != self.shape_:
            raise DataError(f"ImageScaler: fitted on images {self.shape_}, got "
                            f"{images.shape[1:]}")
        return np.clip(images.astype(np.float32) / np.float32(self.scale_), 0.0, 1.0)


PREPROCESSORS: Registry[type[Preprocessor]] = Registry("preprocessor", DataError)
for _cls in (AnglePCA, AmplitudeAngles, ImageScaler, Standardize, Identity):
    PREPROCESSORS.add(_cls.kind, _cls)


def make_preprocessor(kind: str, **kwargs: Any) -> Preprocessor:
    """Build a preprocessor by name (see :data:`PREPROCESSORS`); options are checked by name.

    Args:
        kind: ``pca-angles``, ``amplitude``, ``image``, ``standardize`` or ``none``.
        **kwargs: Constructor arguments of that preprocessor.

    Returns:
        An unfitted preprocessor.

    Raises:
        DataError: If ``kind`` is unknown or an argument is not one the preprocessor takes.
    """
    cls = PREPROCESSORS.lookup(kind)
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise DataError(f"{kind}: unknown option(s) {', '.join(unknown)}; its options: "
                        f"{', '.join(accepted) or 'none'}")
    return cls(**kwargs)
