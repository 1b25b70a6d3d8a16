"""The tiles feature-map kernel, compiled for the baseline instruction set (see _tiles.pxi)."""
include "_tiles.pxi"
