"""instahide-bench: a runnable security-evaluation suite for InstaHide-style instance encoding.

Subpackages:
    benchmark  core: data sources, challenge format, scoring, runners, CLI
    encoders   challenge generators (InstaHide family and its presets)
    attacks    pluggable attacks on the public part of a challenge
"""

__version__ = "0.1.0"
