"""Zero-noise extrapolation: exact weights, and estimator and gradients extrapolated alike."""

from __future__ import annotations

import numpy as np
import pytest

from qiskit_unlearn import make_qnn
from qiskit_unlearn.ansatz import hqml_ansatz, z_observables
from qiskit_unlearn.backends.noisy import scaled_rates
from qiskit_unlearn.engine.zne import extrapolation_weights

RATES = {"depolarizing_1q": 0.01, "depolarizing_2q": 0.05, "t1": 40e3, "t2": 30e3}


@pytest.mark.parametrize("factors", [[1, 2], [1, 1.5, 2, 3], [1, 3, 5]])
def test_richardson_is_exact_for_polynomials_of_its_degree(factors):
    c = np.asarray(factors, dtype=float)
    w = extrapolation_weights(factors, "richardson")
    coeffs = np.random.default_rng(len(factors)).normal(size=len(factors))
    values = np.polyval(coeffs[::-1], c)  # a + b c + ... of degree len - 1
    assert w @ values == pytest.approx(coeffs[0], abs=1e-10)


def test_linear_fit_is_the_least_squares_intercept():
    c = np.array([1.0, 1.5, 2.0, 3.0])
    y = np.array([0.8, 0.71, 0.65, 0.5])
    _, intercept = np.polyfit(c, y, 1)
    assert extrapolation_weights(c, "linear") @ y == pytest.approx(intercept, abs=1e-12)
    with pytest.raises(ValueError, match="zne_fit must be one of"):
        extrapolation_weights(c, "cubic")


def _qnn(**options):
    ansatz = hqml_ansatz(3, reps=1, entanglement="ring", entangler="cz")
    return make_qnn(ansatz.circuit, input_params=ansatz.input_params,
                    weight_params=ansatz.weight_params, observables=z_observables(3),
                    backend="noisy", **options)


def test_extrapolated_values_and_gradients_combine_the_scaled_runs():
    factors = [1.0, 1.5, 2.0, 3.0]
    zne = _qnn(**RATES, zne_factors=factors)
    scaled = [_qnn(**scaled_rates(RATES, c)) for c in factors]
    w = extrapolation_weights(factors)
    rng = np.random.default_rng(0)
    x = rng.uniform(-np.pi, np.pi, (4, zne.num_inputs))
    wts = rng.uniform(-np.pi, np.pi, zne.num_weights)
    combined = sum(wi * q.forward(x, wts) for wi, q in zip(w, scaled, strict=True))
    np.testing.assert_allclose(zne.forward(x, wts), combined, atol=1e-12)
    gi, gw = zne.backward(x, wts)
    parts = [q.backward(x, wts) for q in scaled]
    for got, k in ((gi, 0), (gw, 1)):
        expected = sum(wi * p[k] for wi, p in zip(w, parts, strict=True))
        np.testing.assert_allclose(got, expected, atol=1e-12)
    upstream = rng.normal(size=(4, 3))
    vi, vw = zne.vjp(x, wts, upstream)
    np.testing.assert_allclose(vw, np.einsum("so,sop->p", upstream, gw), atol=1e-10)
    np.testing.assert_allclose(vi, np.einsum("so,sop->sp", upstream, gi), atol=1e-10)
    # extrapolation moves the values towards the noiseless ones
    exact = make_qnn(zne.circuit, input_params=zne.input_params,
                     weight_params=zne.weight_params, observables=z_observables(3))
    ideal = exact.forward(x, wts)
    assert np.abs(zne.forward(x, wts) - ideal).max() < np.abs(scaled[0].forward(x, wts)
                                                              - ideal).max()


def test_readout_mitigation_inverts_the_readout_error_exactly():
    noisy = _qnn(depolarizing_2q=0.02, readout_error=0.1, mitigate_readout=True)
    without = _qnn(depolarizing_2q=0.02)
    x = np.random.default_rng(1).uniform(-1, 1, (3, noisy.num_inputs))
    w = np.random.default_rng(2).uniform(-1, 1, noisy.num_weights)
    np.testing.assert_allclose(noisy.forward(x, w), without.forward(x, w), atol=1e-12)
    assert noisy.backend_info["readout_error"] == "mitigated (inverted exactly)"


@pytest.mark.parametrize(("options", "match"), [
    ({**RATES, "zne_factors": [1]}, "at least two distinct"),
    ({**RATES, "zne_factors": [0.5, 1]}, "factors >= 1"),
    ({**RATES, "zne_factors": [1, 2], "zne_fit": "cubic"}, "zne_fit"),
    ({"device": "manila", "zne_factors": [1, 2]}, "cannot be stretched exactly"),
    ({"readout_error": 0.1, "zne_factors": [1, 2]}, "use mitigate_readout"),
    ({"depolarizing_2q": 0.6, "zne_factors": [1, 2]}, "above 1"),
    ({**RATES, "mitigate_readout": "yes"}, "true or false"),
])
def test_bad_mitigation_options_are_clear_errors(options, match):
    from qiskit_unlearn.backends.base import BackendError

    with pytest.raises(BackendError, match=match):
        _qnn(**options)
