"""Shared assertions of the tests: feature maps against scipy.signal within rounding."""
import numpy as np

from suite import reference

# Relative tolerances; the absolute part is scaled by the sum of |terms| of each output,
# so a long dot product may lose as many digits to rounding as it has terms to sum.
RTOL = {np.dtype("float64"): 1e-10, np.dtype("float32"): 1e-4}


def assert_feature_maps_close(actual, x, weights, bias):
    """Compare with scipy.signal.correlate2d, within the dtype's rounding of the sums."""
    x = np.asarray(x, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    bias = np.zeros(len(weights)) if bias is None else np.asarray(bias, dtype=np.float64)
    expected = reference.feature_map(x, weights, bias)
    with np.errstate(invalid="ignore"):
        magnitude = reference.feature_map(np.abs(x), np.abs(weights), np.abs(bias))
    assert actual.shape == expected.shape
    finite = np.isfinite(magnitude)
    error = np.abs(actual[finite] - expected[finite])
    bound = RTOL[actual.dtype] * magnitude[finite]
    worst = np.argmax(error - bound) if error.size else None
    assert np.all(error <= bound), (
        f"error {error[worst]:.3g} above the bound {bound[worst]:.3g} "
        f"(value {actual[finite][worst]!r}, expected {expected[finite][worst]!r})")
    # Non-finite sums: NaN and inf where the reference has them.
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_array_equal(actual[np.isinf(expected)], expected[np.isinf(expected)])
