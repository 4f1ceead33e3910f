"""instahide-bench: a runnable security-evaluation suite for InstaHide-style instance encoding.

Layers, each importing only from those below it (``tests/test_layers.py`` enforces this):

    core        the foundation: data sources, challenge format, pixels, metric and scoring,
                config, registries, io, errors, progress, provenance, the InstaHide scheme,
                and the Attack / Encoder base classes
    encoders    challenge generators registered by name, and their presets
    attacks     pluggable attacks on the public part of a challenge; ``attacks.common`` holds
                what several attacks share
    api         the one module a plugin author imports
    benchmark   orchestration: generate, isolated runner, matrix, leaderboard, CLI
"""

__version__ = "0.2.0"
