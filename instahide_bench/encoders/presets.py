"""Named encoder configurations (docs/specification.md §3): what ``generate --preset NAME`` builds.

Each preset is an encoder name plus a complete config; ``--set key=value`` overrides any of
its fields. The table is data, not code paths: adding a preset is adding an entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from instahide_bench.core.config import apply_overrides
from instahide_bench.core.encoder import ENCODERS, Encoder
from instahide_bench.core.errors import ConfigError
from instahide_bench.core.instahide import InstaHideConfig
from instahide_bench.encoders.condensation import DatasetCondensationConfig
from instahide_bench.encoders.random_subset import RandomSubsetConfig


@dataclass(frozen=True)
class Preset:
    name: str
    encoder: str
    config: Any
    description: str

    def build(self, overrides: dict[str, Any] | None = None) -> Encoder:
        """The encoder of this preset, with ``overrides`` applied to its config."""
        config = apply_overrides(self.config, overrides or {})
        return ENCODERS.get(self.encoder)(config)


_CHALLENGE_2020 = InstaHideConfig()  # the defaults are the 2020 challenge's recipe

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "challenge-2020",
            "instahide",
            _CHALLENGE_2020,
            "Replica of the 2020 InstaHide Challenge, weak seed included: n=100, T=50, k=6 (2 private + 4 public), "
            "upper 0.65, dom 0.3, pixels [-1,1], mask on, one 32-bit seed for numpy RandomState and torch Generator.",
        ),
        Preset(
            "instahide-cross",
            "instahide",
            InstaHideConfig(rng="secure", public_reuse="fresh"),
            "As challenge-2020 but with OS-entropy randomness and a fresh public patch for every public slot.",
        ),
        Preset(
            "instahide-inside",
            "instahide",
            InstaHideConfig(mode="inside", k=4, pixels="cifar10-normalised", rng="secure", dom=None),
            "Inside-dataset InstaHide: k=4 private images per encryption, CIFAR-10 normalisation, mask on, secure RNG.",
        ),
        Preset(
            "mixup",
            "instahide",
            InstaHideConfig(mode="inside", k=4, pixels="cifar10-normalised", rng="secure", dom=None, mask=False),
            "Inside-dataset Mixup: instahide-inside without the sign mask "
            "(docs/specification.md §1: 'the same construction without the mask').",
        ),
        Preset(
            "instahide-unit-range",
            "instahide",
            InstaHideConfig(rng="secure", public_reuse="fresh", pixels="[0,1]"),
            "instahide-cross with pixels in [0, 1], the known-insecure range: |e| removes the mask exactly.",
        ),
        Preset(
            "instahide-hardened",
            "instahide",
            InstaHideConfig(rng="secure", public_reuse="fresh", T=10),
            "The authors' suggested mitigations: secure RNG, few encryptions per image (T=10), fresh public patches.",
        ),
        Preset(
            "dc-real",
            "dataset-condensation",
            DatasetCondensationConfig(init="real"),
            "Dataset condensation by distribution matching (Zhao & Bilen): m=10 synthetic images per class of n=200, "
            "initialised from real private images (recorded in key/init_index.npy); 200 iterations, ConvNet width 32.",
        ),
        Preset(
            "dc-noise",
            "dataset-condensation",
            DatasetCondensationConfig(init="noise"),
            "dc-real started from uniform noise: no private image initialises a row (rows are scored against "
            "the nearest private image of their class).",
        ),
        Preset(
            "random-subset",
            "random-subset",
            RandomSubsetConfig(),
            "m=10 real private images per class of n=200, released as they are: the baseline condensation must beat.",
        ),
    )
}


def get_preset(name: str) -> Preset:
    """A named preset, or any registered encoder (e.g. a third-party one) with its default config."""
    if name in PRESETS:
        return PRESETS[name]
    if name in ENCODERS:
        cls = ENCODERS.get(name)
        return Preset(name, name, cls.Config(), f"encoder {name!r} with its default configuration")
    raise ConfigError(
        f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}; encoders: {', '.join(ENCODERS.names())}"
    )
