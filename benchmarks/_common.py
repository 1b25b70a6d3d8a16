"""What the asv suite measures, frozen here: it must not change with the build under test.

asv runs today's benchmark files against every commit of the project's history.  So the
parameter matrix (workload shapes, variant names, dtypes, pooling methods, activations),
the inputs, the references and the helpers the ``track_*`` benchmarks time with are all
written in this directory, and a benchmark reaches the build under test only through its
public API: ``suite.feature_map``, ``suite.pool``, ``suite.conv_pool``,
``suite.variants()`` and ``suite.TextCNN``.  A case an older build cannot run (a variant it
does not register) raises ``NotImplementedError`` in ``setup``, which asv records as n/a.

A name added to a list below is a new column of the history; changing what an existing
name means (a shape, a seed) rewrites history, so give it a new name instead.
``tests/test_benchmarks.py`` checks that every variant the current build registers is
listed here and that the shapes agree with ``suite.workloads``.
"""
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

import suite

DTYPES = ("float64", "float32")

#: Feature-map variants; ``suite.conv_pool`` has a fused variant of each.
FEATURE_MAP_VARIANTS = ("loops", "seed", "tiles", "simd", "direct", "blas", "packed",
                        "parallel", "auto")
#: The variants that run on several OpenMP threads when asked.
THREADED_VARIANTS = ("parallel", "auto")
POOL_METHODS = ("max", "avg", "kmax", "chunk_max")
#: The extra argument of the pooling methods that take one.
POOL_ARGS = {"kmax": {"k": 3}, "chunk_max": {"chunks": 4}}
# One long map and a large k for k-max pooling (benchmarks/pooling.py, KmaxLongMap).
LONG_MAP, LONG_MAP_K = 40000, 20000
#: Image-sized maps, tens of thousands of positions each, a few MB a stack: (maps, rows,
#: cols, dtype).  Their time is mostly the memory traffic of reading them once.
IMAGE_MAPS = {"32x140x120-float32": (32, 140, 120, "float32"),
              "8x250x200-float64": (8, 250, 200, "float64")}
ACTIVATIONS = ("identity", "relu", "selu", "tanh")
#: The layer of Kim 2014: ReLU, then max-over-time pooling.
LAYER = {"activation": "relu", "method": "max"}

#: name -> (batch, n, d, banks), each bank (channels, h, w): one call per bank.
WORKLOADS = {
    "utterance": (1, 16, 300, ((100, 2, 300), (100, 3, 300), (100, 4, 300), (100, 5, 300))),
    "kim-mr": (1, 64, 300, ((100, 3, 300), (100, 4, 300), (100, 5, 300))),
    "kim-mr-b64": (64, 64, 300, ((100, 3, 300), (100, 4, 300), (100, 5, 300))),
    "image": (1, 128, 128, ((16, 5, 5),)),
    "image-3x3": (1, 128, 128, ((16, 3, 3),)),
    "image-7x7": (1, 128, 128, ((16, 7, 7),)),
    "image-3x5": (1, 128, 128, ((16, 3, 5),)),
    "images-b64": (64, 32, 32, ((16, 3, 3),)),
}
#: Batches where holding every feature map costs memory (the peak-memory benchmarks).
MEMORY_WORKLOADS = {
    "kim-mr-b64": WORKLOADS["kim-mr-b64"],
    "kim-mr-b256": (256,) + WORKLOADS["kim-mr"][1:],
}
#: The seed's classifier (``suite.TextCNN``): vocabulary, the word-column tables' widths,
#: the tag tables (vocab, dim), bank heights, channels per bank and classes.
INTENT = {"vocab": 20000, "word_dims": (300, 50), "tags": ((30, 16), (45, 16)),
          "heights": (2, 3, 4, 5), "channels": 100, "classes": 12}
#: Cases of the classifier: (batch, n, (shortest, longest)) padded batches.
INTENT_CASES = {"utterance-8": (1, 8, (8, 8)), "utterance-16": (1, 16, (16, 16)),
                "batch-64": (64, 24, (4, 24))}
BATCH1_WORKLOADS = tuple(name for name, (batch, *_) in WORKLOADS.items() if batch == 1)
BATCHED_WORKLOADS = tuple(name for name, (batch, *_) in WORKLOADS.items() if batch > 1)


def flops(workload):
    """Floating-point operations of a workload's calls: a multiply and an add per tap."""
    batch, n, d, banks = WORKLOADS[workload]
    return sum(2 * batch * c * h * w * (n - h + 1) * (d - w + 1) for c, h, w in banks)


def inputs(shape, dtype, seed=1234):
    """Seeded ``x`` and ``[(weights, bias), ...]`` for a ``(batch, n, d, banks)`` shape."""
    batch, n, d, banks = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, n, d)).astype(dtype)
    # Filters scaled by 1/sqrt(fan-in), so that features stay of order one.
    return x, [((rng.standard_normal(bank) / np.sqrt(bank[1] * bank[2])).astype(dtype),
                rng.standard_normal(bank[0]).astype(dtype)) for bank in banks]


def maps(shape, dtype, seed=1234):
    """Seeded stand-ins for the feature maps of each bank, to pool."""
    batch, n, d, banks = shape
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((batch, c, n - h + 1, d - w + 1)).astype(dtype)
            for c, h, w in banks]


def intent_model(dtype, seed=1234):
    """Seeded ``suite.TextCNN`` of the ``INTENT`` shapes, SELU, word/word/tag/POS columns."""
    if not hasattr(suite, "TextCNN"):
        raise NotImplementedError("this build has no suite.TextCNN")
    spec, rng = INTENT, np.random.default_rng(seed)
    tables = [(spec["vocab"], d) for d in spec["word_dims"]] + list(spec["tags"])
    dim = sum(d for _, d in tables)
    embeddings = [(rng.standard_normal(shape) / np.sqrt(shape[1])).astype(dtype)
                  for shape in tables]
    filters = [((rng.standard_normal((spec["channels"], h, dim)) / np.sqrt(h * dim))
                .astype(dtype), (0.1 * rng.standard_normal(spec["channels"])).astype(dtype))
               for h in spec["heights"]]
    features = spec["channels"] * len(spec["heights"])
    classifier = ((rng.standard_normal((spec["classes"], features)) / np.sqrt(features))
                  .astype(dtype), np.zeros(spec["classes"], dtype))
    columns = [0] * len(spec["word_dims"]) + list(range(1, len(spec["tags"]) + 1))
    return suite.TextCNN(embeddings, filters, classifier, columns=columns, activation="selu")


def intent_tokens(case, seed=1234):
    """Seeded ``(tokens (batch, n, k), lengths (batch,))``, int64, id 0 past each length."""
    batch, n, (shortest, longest) = INTENT_CASES[case]
    rng = np.random.default_rng(seed)
    vocabs = [INTENT["vocab"]] + [v for v, _ in INTENT["tags"]]
    tokens = np.stack([rng.integers(0, v, (batch, n)) for v in vocabs], axis=-1)
    lengths = rng.integers(shortest, longest + 1, batch)
    tokens[np.arange(n)[None, :] >= lengths[:, None]] = 0
    return tokens.astype(np.int64), lengths.astype(np.int64)


def require(kernel, name):
    """Raise ``NotImplementedError`` (asv: n/a) when the build has no such variant."""
    if name not in suite.variants()[kernel]:
        raise NotImplementedError(f"this build has no {kernel} variant {name!r}")


# -- the references, as scipy.signal and NumPy compute them ------------------------------

def correlate2d(x, banks):
    """``scipy.signal.correlate2d(sentence, w, "valid") + b`` per sentence and channel."""
    from scipy.signal import correlate2d as corr
    return [np.array([[corr(s, w, mode="valid") + b for w, b in zip(weights, bias)]
                      for s in x]) for weights, bias in banks]


def fftconvolve(x, banks):
    """One ``scipy.signal.fftconvolve`` over the last two axes per bank (flipped filters)."""
    from scipy.signal import fftconvolve as conv
    return [conv(x[:, None], weights[None, :, ::-1, ::-1], mode="valid", axes=(-2, -1))
            + bias[:, None, None] for weights, bias in banks]


def numpy_pool(fmap, method, k=None, chunks=None):
    """Pool each map over its positions with NumPy."""
    flat = fmap.reshape(fmap.shape[:-2] + (-1,))
    if method == "max":
        return flat.max(axis=-1)
    if method == "avg":
        return flat.mean(axis=-1)
    if method == "kmax":
        top = np.sort(np.argpartition(-flat, k - 1, axis=-1)[..., :k], axis=-1)
        return np.take_along_axis(flat, top, axis=-1)
    pieces = np.array_split(flat, chunks, axis=-1)
    return np.stack([piece.max(axis=-1) for piece in pieces], axis=-1)


def relu(fmap):
    return np.maximum(fmap, 0)


# -- timing for the track_* benchmarks ---------------------------------------------------

def calibrate(fn, min_time):
    """Calls per sample (a power of two) so that a sample lasts ``min_time`` seconds."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - start >= min_time or number >= 1 << 20:
            return number
        number *= 2


def interleaved(fns, rounds, min_time=0.01, max_time=None):
    """Seconds per call of each function, one sample of each per round, in turn.

    Load that lasts a while hits every function of a round alike, so ratios taken
    round by round are fair on a shared machine.  The order alternates between rounds,
    so that no function always runs right after another.  With ``max_time``, no new
    round starts after that many seconds (there is always one).

    Returns
    -------
    dict
        Name to its list of samples, one per round.
    """
    numbers = {name: calibrate(fn, min_time) for name, fn in fns.items()}
    times = {name: [] for name in fns}
    start = time.perf_counter()
    for i in range(rounds):
        if i and max_time is not None and time.perf_counter() - start >= max_time:
            break
        for name in (list(fns) if i % 2 == 0 else list(fns)[::-1]):
            fn, number = fns[name], numbers[name]
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            times[name].append((time.perf_counter() - t0) / number)
    return times


def ratio(times, numerator, denominator):
    """The median over rounds of one function's time over another's in the same round."""
    return statistics.median(a / b for a, b in zip(times[numerator], times[denominator]))


# -- base classes --------------------------------------------------------------------------

class Pinned:
    """BLAS and OpenMP pools on one thread while a benchmark runs.

    Kernels are called with ``n_threads=1`` unless the benchmark's name says how many
    threads it uses; an explicit ``n_threads`` is not limited by the OpenMP pin.  A
    subclass's ``setup`` ends with ``warm_up``.
    """

    def setup(self, *params):
        # The references (and suite) import scipy.signal lazily: here, not in a timing.
        import scipy.signal  # noqa: F401
        self._limits = threadpool_limits(limits=1)

    def warm_up(self, *params):
        """Call every ``time_*`` benchmark of the case once, untimed.

        What a call does the first time in a fresh benchmark process (imports, the first
        touch of its memory, caches) then falls outside the timing, in ``asv run
        --quick`` too, which times one call with no warm-up of its own.
        """
        for name in sorted(dir(self)):
            if name.startswith("time_"):
                getattr(self, name)(*params)

    def teardown(self, *params):
        if hasattr(self, "_limits"):
            self._limits.restore_original_limits()


class OnWorkload(Pinned):
    """The case's ``workload`` and ``dtype`` inputs in ``self.x`` and ``self.banks``.

    A ``variant`` parameter must name a variant of ``kernel`` that the build registers.
    """

    kernel = "feature_map"

    def setup(self, *params):
        case = dict(zip(self.param_names, params))
        if "variant" in case:
            require(self.kernel, case["variant"])
        super().setup()
        self.x, self.banks = inputs(WORKLOADS[case["workload"]], case["dtype"])
        self.warm_up(*params)
