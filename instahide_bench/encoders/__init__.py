"""Challenge generators: the InstaHide family and its named presets."""

from .base import ENCODERS, Encoder
from .instahide import InstaHideConfig, InstaHideEncoder
from .presets import PRESETS, Preset, get_preset

__all__ = ["ENCODERS", "Encoder", "InstaHideConfig", "InstaHideEncoder", "PRESETS", "Preset", "get_preset"]
