"""Challenge generators: the InstaHide family and its named presets."""

from instahide_bench.core.encoder import ENCODERS, Encoder
from instahide_bench.encoders.instahide import InstaHideConfig, InstaHideEncoder
from instahide_bench.encoders.presets import PRESETS, Preset, get_preset

__all__ = ["ENCODERS", "PRESETS", "Encoder", "InstaHideConfig", "InstaHideEncoder", "Preset", "get_preset"]
