"""The threat models an attack can target: plain names, importable without torch.

The runner and the scorer need these names but must not import the attack machinery (torch,
the registry): the process that scores an attack never loads attack code.
"""

from __future__ import annotations

#: The attack recovers private images (``AttackResult.decryption``).
RECONSTRUCTION = "reconstruction"
#: The attack scores membership candidates (``AttackResult.membership_scores``).
MEMBERSHIP = "membership"
THREAT_MODELS = (RECONSTRUCTION, MEMBERSHIP)

__all__ = ["MEMBERSHIP", "RECONSTRUCTION", "THREAT_MODELS"]
