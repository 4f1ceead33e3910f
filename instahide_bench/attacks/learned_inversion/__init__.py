"""``learned-inversion``: a network trained on the attacker's own simulation inverts one encryption.

:mod:`.features` (what a row shows: ``|e|`` and what ``label.npy`` reveals), :mod:`.network`
(a small U-Net), :mod:`.training` (fit on simulated InstaHide, predict), :mod:`.fusion`
(group rows that share a private image and average their predictions), and :mod:`.attack`
(the registered attack, imported lazily by the registry). Measurements:
``docs/attacks/learned-inversion.md``.
"""
