"""Challenge generators: the InstaHide family, the releases of docs/specification.md §3.3 (dataset condensation,
a random subset) and their named presets."""

from instahide_bench.core.encoder import ENCODERS, Encoder
from instahide_bench.encoders.condensation import DatasetCondensationConfig, DatasetCondensationEncoder
from instahide_bench.encoders.instahide import InstaHideConfig, InstaHideEncoder
from instahide_bench.encoders.presets import PRESETS, Preset, get_preset
from instahide_bench.encoders.random_subset import RandomSubsetConfig, RandomSubsetEncoder
from instahide_bench.encoders.vanilla import VanillaConfig, VanillaEncoder

__all__ = [
    "ENCODERS",
    "PRESETS",
    "DatasetCondensationConfig",
    "DatasetCondensationEncoder",
    "Encoder",
    "InstaHideConfig",
    "InstaHideEncoder",
    "Preset",
    "RandomSubsetConfig",
    "RandomSubsetEncoder",
    "VanillaConfig",
    "VanillaEncoder",
    "get_preset",
]
