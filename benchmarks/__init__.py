"""asv benchmarks of every registered kernel variant and of the scipy.signal / NumPy references.

Parameters come from ``suite.registry`` and ``suite.workloads``: a variant or workload
added there is benchmarked here without being named again.
"""
