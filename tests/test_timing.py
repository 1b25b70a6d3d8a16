"""suite.timing: sample counts, calibration and argument checks (no assertions on speed)."""
import pytest

from suite import timing


class Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1


def test_measure_gives_repeat_samples_and_counts_calibration():
    fn = Counter()
    got = timing.measure(fn, repeat=4, min_time=0.0)
    assert len(got) == 4 and all(t >= 0 for t in got)
    assert fn.calls == 4          # min_time 0: one call per sample, calibration included


def test_measure_stops_at_max_time_with_at_least_one_sample():
    fn = Counter()
    assert len(timing.measure(fn, repeat=1000, min_time=0.0, max_time=0.0)) == 1


def test_calibrate_repeats_short_calls_to_min_time():
    number, seconds = timing.calibrate(Counter(), min_time=0.002)
    assert number >= 2 and number & (number - 1) == 0
    assert number * seconds >= 0.002


def test_interleaved_samples_every_function_alike():
    fns = {"a": Counter(), "b": Counter()}
    got = timing.interleaved(fns, repeat=3, min_time=0.0)
    assert {k: len(v) for k, v in got.items()} == {"a": 3, "b": 3}
    assert fns["a"].calls == fns["b"].calls == 3


def test_interleaved_uses_a_first_timing_instead_of_calibrating():
    fns = {"slow": Counter(), "fast": Counter()}
    got = timing.interleaved(fns, repeat=2, min_time=0.5, max_time=None,
                             first={"slow": 0.75})
    assert got["slow"][0] == 0.75
    assert fns["slow"].calls == 1   # only the second round's sample


def test_sentence_sample_scales_to_the_batch():
    import numpy as np
    x = np.zeros((64, 3, 2))
    sample, scale = timing.sentence_sample(x, 8)
    assert sample.shape == (8, 3, 2) and scale == 8.0
    sample, scale = timing.sentence_sample(x[:1], 8)
    assert sample.shape == (1, 3, 2) and scale == 1.0


@pytest.mark.parametrize("call, message", [
    (lambda: timing.measure(Counter(), repeat=0), "repeat"),
    (lambda: timing.interleaved({"a": Counter()}, repeat=0), "repeat"),
    (lambda: timing.calibrate(Counter(), min_time=-1), "min_time"),
    (lambda: timing.sentence_sample(np_zeros(), 0), "max_sentences"),
])
def test_bad_arguments_name_themselves(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def np_zeros():
    import numpy as np
    return np.zeros((2, 3, 4))


def test_gemm_gflops_is_positive():
    assert timing.gemm_gflops("float32", size=64, repeat=1) > 0


def test_speedup_is_the_median_of_the_per_round_ratios():
    # Rounds 2/1, 4/1 and 9/3: the median ratio is 3, the ratio of the medians 4.
    assert timing.speedup([2.0, 4.0, 9.0], [1.0, 1.0, 3.0]) == 3.0
    with pytest.raises(ValueError, match="as many samples"):
        timing.speedup([1.0, 2.0], [1.0])


def test_tables_right_align_columns_of_numbers():
    from suite.report.tables import _table
    lines = _table(["name", "ms", "x"], [["loops", "17.585", "-"],
                                         ["tiles", "0.859", "31.99"]]).splitlines()
    assert lines[0] == "name       ms      x"
    assert lines[2] == "loops  17.585      -"
    assert lines[3] == "tiles   0.859  31.99"
