"""Fixtures shared with the scorer tests."""

from tests.core.scoring_support import photo_challenge_dir

__all__ = ["photo_challenge_dir"]
