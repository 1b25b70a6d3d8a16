"""Instructions of the public calls on the batch-1 workloads, as asv benchmarks.

Each class reports two counts of the same calls, which ``counting.count`` makes under
callgrind, once per build, for every class at once (``setup_cache``):
``track_instructions`` is the kernel's own, ``track_inclusive_instructions`` everything
the calls execute, the Python layer included (see ``counting``).  With
``counting.RECORD_ENV`` set, that count also records where each case's instructions went
(``counting.record_count``), which ``explain.py`` reads.

* ``Instructions``: ``suite.feature_map``, every feature-map variant (one call per filter
  bank, single-threaded);
* ``PoolInstructions``: ``suite.pool``, every pooling method, on the maps of each bank;
* ``ConvPoolInstructions``: ``suite.conv_pool`` of every variant with the layer of Kim 2014
  (``_common.LAYER``: ReLU, then max);
* ``LayerInstructions``: ``suite.conv_pool`` of ``counting.FUSED_VARIANT`` with every
  activation and every pooling method (``counting.COUNTED_LAYERS``);
* ``ModelInstructions``: ``suite.TextCNN.logits`` of the seed's classifier on one
  utterance.

Where valgrind is not installed, or the build under test has no ``suite._callgrind``, the
benchmarks are skipped with the reason, not failed.  A case the build under test lacks (a
variant, pooling method or activation it does not have) is n/a.
"""
from ._common import DTYPES, FEATURE_MAP_VARIANTS, LAYER, POOL_METHODS
from .counting import (COUNTED_LAYERS, COUNTED_MODEL_CASES, COUNTED_WORKLOADS, FUSED_VARIANT,
                       LAYER_WORKLOADS, case_key, record_count, unavailable)


class _Counted:
    """Shared set-up: one count per build (``count``) counts every class's cases.

    asv keys ``setup_cache`` by where it is defined, so the subclasses share this one and
    its result.
    """

    unit = "instructions"
    timeout = 900

    def setup_cache(self):
        reason = unavailable()
        if reason is not None:
            return {"skip": reason}
        return record_count()

    setup_cache.timeout = 900

    def key(self, *params):
        raise NotImplementedError

    def setup(self, counts, *params):
        if "skip" in counts:
            raise NotImplementedError(counts["skip"])
        if self.key(*params) not in counts:
            raise NotImplementedError(f"this build cannot run {self.key(*params)}")

    def track_instructions(self, counts, *params):
        return counts[self.key(*params)]["kernel"]

    def track_inclusive_instructions(self, counts, *params):
        return counts[self.key(*params)]["inclusive"]


class Instructions(_Counted):
    """A workload's ``feature_map`` calls, per variant and dtype."""

    params = [list(COUNTED_WORKLOADS), list(FEATURE_MAP_VARIANTS), list(DTYPES)]
    param_names = ["workload", "variant", "dtype"]

    def key(self, workload, variant, dtype):
        return case_key("feature_map", workload, variant, dtype)


class PoolInstructions(_Counted):
    """``pool`` of the maps of a workload's banks, per method and dtype."""

    params = [list(COUNTED_WORKLOADS), list(POOL_METHODS), list(DTYPES)]
    param_names = ["workload", "method", "dtype"]

    def key(self, workload, method, dtype):
        return case_key("pool", workload, method, dtype)


class ConvPoolInstructions(_Counted):
    """A workload's ``conv_pool`` calls with the Kim layer (ReLU, max), per variant."""

    params = [list(COUNTED_WORKLOADS), list(FEATURE_MAP_VARIANTS), list(DTYPES)]
    param_names = ["workload", "variant", "dtype"]

    def key(self, workload, variant, dtype):
        return case_key("conv_pool", workload, variant, dtype, LAYER["activation"],
                        LAYER["method"])


class LayerInstructions(_Counted):
    """A workload's ``conv_pool`` calls of ``FUSED_VARIANT``, per layer and dtype.

    A layer is ``"activation-method"``, one of ``COUNTED_LAYERS``.
    """

    params = [list(LAYER_WORKLOADS), [f"{a}-{m}" for a, m in COUNTED_LAYERS], list(DTYPES)]
    param_names = ["workload", "layer", "dtype"]

    def key(self, workload, layer, dtype):
        activation, method = layer.split("-")
        return case_key("conv_pool", workload, FUSED_VARIANT, dtype, activation, method)


class ModelInstructions(_Counted):
    """``TextCNN.logits`` of the seed's classifier on one utterance, per dtype."""

    params = [list(COUNTED_MODEL_CASES), list(DTYPES)]
    param_names = ["case", "dtype"]

    def key(self, case, dtype):
        return case_key("model", case, "logits", dtype)
