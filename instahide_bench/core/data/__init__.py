"""Data sources: one loader per format, each deterministic given a seed.

Sources are named on the command line as ``KIND[:PATH]``: ``embedded`` (photographs bundled
with scikit-image), ``cifar10:DIR`` (the CIFAR-10 python format), ``folder:DIR`` (JPEG/PNG
files, cropped into SIFT-rich patches) and ``npy:FILE`` (``.npy``/``.npz`` arrays).
"""

from instahide_bench.core.data.base import ImageSet
from instahide_bench.core.data.sources import SOURCE_KINDS, DataSource, parse_source

__all__ = ["SOURCE_KINDS", "DataSource", "ImageSet", "parse_source"]
