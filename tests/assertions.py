"""Shared assertions of the tests: feature maps against scipy.signal within rounding."""
import numpy as np

from suite import reference


def assert_feature_maps_close(actual, x, weights, bias):
    """Compare with scipy.signal.correlate2d, by ``suite.reference.assert_close``.

    Each output's error is held to the sum of the magnitudes of its terms, so a long dot
    product may lose as many digits to rounding as it has terms to sum.
    """
    x = np.asarray(x, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    bias = np.zeros(len(weights)) if bias is None else np.asarray(bias, dtype=np.float64)
    expected = reference.feature_map(x, weights, bias)
    reference.assert_close(actual, expected, actual.dtype,
                           magnitude=reference.feature_map_magnitude(x, weights, bias))
