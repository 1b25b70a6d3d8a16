"""The named workloads: the single source of the shapes that are tested, benchmarked and reported.

A workload is a batch of sentence matrices (batch, n, d) and one or more filter banks
(channels, h, w); one kernel call is made per bank (a text-CNN has one bank per window
height), and a workload's time is the time of all its calls.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Tuple

import numpy as np

__all__ = ["Workload", "WORKLOADS", "MEMORY_WORKLOADS", "POOL_ARGS", "get", "pool_kwargs",
           "ModelWorkload", "INTENT"]


@dataclass(frozen=True)
class Workload:
    """Shapes of one benchmark case.

    Attributes
    ----------
    name : str
        Key in ``WORKLOADS``.
    reason : str
        Why it is here, in one line.
    batch, n, d : int
        ``batch`` sentences of ``n`` words by ``d`` embedding dimensions.
    banks : tuple of (channels, h, w)
        The filter banks; one ``feature_map`` call each.
    """

    name: str
    reason: str
    batch: int
    n: int
    d: int
    banks: Tuple[Tuple[int, int, int], ...]

    @property
    def x_shape(self):
        return (self.batch, self.n, self.d)

    def out_shape(self, bank):
        channels, h, w = bank
        return (self.batch, channels, self.n - h + 1, self.d - w + 1)

    def flops(self) -> int:
        """Floating-point operations of all calls: a multiply and an add per filter tap."""
        return sum(2 * self.batch * c * h * w * (self.n - h + 1) * (self.d - w + 1)
                   for c, h, w in self.banks)

    def inputs(self, dtype="float64", seed=1234):
        """Seeded inputs: ``x`` and a list of ``(weights, bias)``, one per bank."""
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(self.x_shape).astype(dtype)
        # Filters scaled by 1/sqrt(fan-in), so features stay of order one.
        banks = [((rng.standard_normal(bank) / np.sqrt(bank[1] * bank[2])).astype(dtype),
                  rng.standard_normal(bank[0]).astype(dtype)) for bank in self.banks]
        return x, banks

    def maps(self, dtype="float64", seed=1234):
        """Seeded stand-ins for the feature maps, one ``out_shape`` array per bank.

        Pooling benchmarks read these, so that their inputs do not depend on a
        convolution kernel being right.
        """
        rng = np.random.default_rng(seed)
        return [rng.standard_normal(self.out_shape(bank)).astype(dtype) for bank in self.banks]

    def with_batch(self, batch: int, name: str, reason: str) -> "Workload":
        """The same sentences and banks with another batch size."""
        return replace(self, name=name, reason=reason, batch=batch)

    def with_width(self, w: int) -> "Workload":
        """The same workload with every filter ``w`` wide (named ``"<name>/w<w>"``)."""
        if not 1 <= w <= self.d:
            raise ValueError(f"w must be between 1 and d={self.d}, got w={w}")
        return replace(self, name=f"{self.name}/w{w}",
                       banks=tuple((c, h, w) for c, h, _ in self.banks))


def _full_width(d, heights, channels=100):
    return tuple((channels, h, d) for h in heights)


WORKLOADS: Dict[str, Workload] = {w.name: w for w in (
    Workload("utterance", "one spoken command classified alone: latency, call overhead counts",
             batch=1, n=16, d=300, banks=_full_width(300, (2, 3, 4, 5))),
    Workload("kim-mr", "Kim 2014 on sentence polarity, one padded sentence: latency",
             batch=1, n=64, d=300, banks=_full_width(300, (3, 4, 5))),
    Workload("kim-mr-b64", "Kim 2014 on sentence polarity, batch of 64: throughput",
             batch=64, n=64, d=300, banks=_full_width(300, (3, 4, 5))),
    Workload("image", "a general 2-D correlation as in scipy's own benchmarks",
             batch=1, n=128, d=128, banks=((16, 5, 5),)),
    Workload("image-3x3", "3 x 3 filters, the commonest in image CNNs: fewest taps per output",
             batch=1, n=128, d=128, banks=((16, 3, 3),)),
    Workload("image-7x7", "7 x 7 filters, as in the first layer of a ResNet",
             batch=1, n=128, d=128, banks=((16, 7, 7),)),
    Workload("image-3x5", "a non-square filter: 3 rows of 5",
             batch=1, n=128, d=128, banks=((16, 3, 5),)),
    Workload("images-b64", "a batch of 64 small images (32 x 32, as CIFAR-10), 3 x 3 filters",
             batch=64, n=32, d=32, banks=((16, 3, 3),)),
)}

# Peak memory grows with the batch: feature maps for a whole batch against the fused
# kernel's per-thread tiles.  Batch 256 is too slow for the time matrix, so it lives here.
MEMORY_WORKLOADS: Dict[str, Workload] = {w.name: w for w in (
    WORKLOADS["kim-mr-b64"],
    WORKLOADS["kim-mr"].with_batch(256, "kim-mr-b256",
                                   "Kim 2014, batch of 256: where holding every map costs memory"),
)}

# The extra argument of the pooling methods that take one; k = 3 and 4 chunks are
# common choices in the text-CNN literature (Kalchbrenner 2014 uses small k).
POOL_ARGS: Dict[str, Dict[str, int]] = {"kmax": {"k": 3}, "chunk_max": {"chunks": 4}}


def pool_kwargs(method: str) -> Dict[str, int]:
    """Keyword arguments for ``suite.pool(..., method)`` in benchmarks and reports."""
    return dict(POOL_ARGS.get(method, {}))


def get(name: str) -> Workload:
    """The workload called ``name``; ``ValueError`` listing the names otherwise."""
    try:
        return WORKLOADS[name]
    except KeyError:
        raise ValueError(f"unknown workload {name!r}; valid names: "
                         f"{', '.join(WORKLOADS)}") from None


@dataclass(frozen=True)
class ModelWorkload:
    """A text-CNN classifier and the sentences it classifies (``suite.TextCNN``).

    Attributes
    ----------
    name, reason : str
    vocab : int
        Words in the vocabulary, indexed by id column 0.
    word_dims : tuple of int
        The tables on the word column (GloVe, task-local vectors).
    tags : tuple of (vocab, dim)
        The tables on the following columns (entity tags, part of speech), one each.
    heights, channels, classes : the filter banks and the dense layer.
    cases : dict
        Case name to ``(batch, n, (shortest, longest))``: a padded batch of ``batch``
        sentences of ``n`` positions whose lengths are drawn between the two.
    """

    name: str
    reason: str
    vocab: int
    word_dims: Tuple[int, ...]
    tags: Tuple[Tuple[int, int], ...]
    heights: Tuple[int, ...]
    channels: int
    classes: int
    cases: Dict[str, Tuple[int, int, Tuple[int, int]]]

    @property
    def dim(self) -> int:
        return sum(self.word_dims) + sum(d for _, d in self.tags)

    def weights(self, dtype="float32", seed=1234):
        """Seeded ``(embeddings, filters, classifier, columns)`` for ``suite.TextCNN``."""
        rng = np.random.default_rng(seed)
        tables = [(self.vocab, d) for d in self.word_dims] + list(self.tags)
        embeddings = [(rng.standard_normal(shape) / np.sqrt(shape[1])).astype(dtype)
                      for shape in tables]
        filters = [((rng.standard_normal((self.channels, h, self.dim))
                     / np.sqrt(h * self.dim)).astype(dtype),
                    (0.1 * rng.standard_normal(self.channels)).astype(dtype))
                   for h in self.heights]
        features = self.channels * len(self.heights)
        classifier = ((rng.standard_normal((self.classes, features)) / np.sqrt(features))
                      .astype(dtype), np.zeros(self.classes, dtype))
        columns = [0] * len(self.word_dims) + list(range(1, len(self.tags) + 1))
        return embeddings, filters, classifier, columns

    def model(self, dtype="float32", seed=1234):
        """The seeded ``suite.TextCNN`` of this workload."""
        from suite.model import TextCNN
        embeddings, filters, classifier, columns = self.weights(dtype, seed)
        return TextCNN(embeddings, filters, classifier, columns=columns, activation="selu")

    def tokens(self, case: str, seed=1234):
        """Seeded ``(tokens (batch, n, k) int64, lengths (batch,) int64)`` of a case.

        Positions past a sentence's length hold id 0, as a padded batch does.
        """
        batch, n, (shortest, longest) = self.cases[case]
        rng = np.random.default_rng(seed)
        vocabs = [self.vocab] + [v for v, _ in self.tags]
        tokens = np.stack([rng.integers(0, v, (batch, n)) for v in vocabs], axis=-1)
        lengths = rng.integers(shortest, longest + 1, batch)
        tokens[np.arange(n)[None, :] >= lengths[:, None]] = 0
        return tokens.astype(np.int64), lengths.astype(np.int64)

    def flops(self, lengths) -> int:
        """Multiply-adds of the banks and the dense layer, two FLOPs each, for ``lengths``."""
        total = 0
        for length in np.ravel(lengths):
            for h in self.heights:
                total += 2 * (max(int(length), h) - h + 1) * self.channels * h * self.dim
        features = self.channels * len(self.heights)
        return total + 2 * len(np.ravel(lengths)) * features * self.classes


INTENT = ModelWorkload(
    "intent", "bot and intent classification of one spoken command, as the seed's speaker does",
    vocab=20000, word_dims=(300, 50), tags=((30, 16), (45, 16)), heights=(2, 3, 4, 5),
    channels=100, classes=12,
    cases={"utterance-8": (1, 8, (8, 8)), "utterance-16": (1, 16, (16, 16)),
           "batch-64": (64, 24, (4, 24))})
