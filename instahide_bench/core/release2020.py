"""The InstaHide Challenge of 2020 as its README published it: the one home of these facts.

The release shipped only ``encryption.npy`` and ``label.npy``; its README states the rest
(n = 100 private CIFAR-10 images, T = 50 encryptions each, k = 6 with 2 private and 4 public
slots, upper 0.65, dom 0.3, pixels in [-1, 1], the sign mask on, numpy and torch seeded with
one 32-bit seed). The ``challenge-2020`` preset's defaults, the attacks' assumptions about a
bare original-release directory and the leaderboard's reference rows all read them from here.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

#: Public parameters of the 2020 release, keyed like :class:`~instahide_bench.core.instahide.InstaHideConfig`.
RELEASE_2020: MappingProxyType[str, Any] = MappingProxyType(
    {
        "mode": "cross",
        "k": 6,
        "private_slots": 2,
        "upper": 0.65,
        "dom": 0.3,
        "T": 50,
        "n": 100,
        "pixels": "[-1,1]",
        "mask": True,
        "rng": "legacy-seeded",
        "seed_bits": 32,
    }
)
#: Rows of the released ``encryption.npy`` (n x T).
RELEASE_2020_ROWS: int = RELEASE_2020["n"] * RELEASE_2020["T"]


def assumed_release_params(num_rows: int) -> dict[str, Any]:
    """The parameters to assume for a bare ``encryption.npy`` + ``label.npy`` directory of ``num_rows`` rows.

    The release's published values, except where the files contradict them: with another row
    count, T becomes ``num_rows / n`` when that is whole, and neither n nor T is assumed otherwise.

    Parameters
    ----------
    num_rows : int
        Rows of the directory's ``encryption.npy``.

    Returns
    -------
    dict
        Parameters keyed like challenge.json's ``params`` (``num_rows`` included).
    """
    params = dict(RELEASE_2020)
    n = int(params["n"])
    if num_rows != RELEASE_2020_ROWS:
        if num_rows % n == 0:
            params["T"] = num_rows // n
        else:
            del params["n"], params["T"]
    params["num_rows"] = num_rows
    return params


__all__ = ["RELEASE_2020", "RELEASE_2020_ROWS", "assumed_release_params"]
