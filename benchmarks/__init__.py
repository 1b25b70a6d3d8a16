"""The asv benchmarks of textcnn-suite (benchmarks/README.md)."""
import os

# One OpenBLAS thread, set before NumPy and SciPy load it.  The benchmarks hold BLAS to one
# thread while they time (_common.Pinned), but a pool started at import keeps its workers
# spinning after a call: with the builds of older commits a spinning worker took half of a
# 2-core machine from the timing, and the scipy.signal reference (the same code at every
# commit) ran 2-2.7x slower there in ``asv run --quick`` than at HEAD; with one thread
# from the start it did not.  ``python -m suite history check`` watches for that.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
