"""The tiles feature-map kernel, compiled with AVX2 and FMA (see _tiles.pxi).

Imported by suite._conv only on a CPU that has both: every instruction of this module
may use them, its import code included.
"""
include "_tiles.pxi"
