"""The named workloads: the single source of the shapes that are tested, benchmarked and reported.

A workload is a batch of sentence matrices (batch, n, d) and one or more filter banks
(channels, h, w); one kernel call is made per bank (a text-CNN has one bank per window
height), and a workload's time is the time of all its calls.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Tuple

import numpy as np

__all__ = ["Workload", "WORKLOADS", "MEMORY_WORKLOADS", "POOL_ARGS", "get", "pool_kwargs"]


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
        raise ValueError(f"unknown workload {name!r}; valid names: {', '.join(WORKLOADS)}") from None
