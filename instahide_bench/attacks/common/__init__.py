"""What several attacks share, so that no attack imports another's internals.

:mod:`.labels` (label rows -> class and weight structure), :mod:`.signs` (undo or estimate the
sign mask), :mod:`.demix` (least-squares demixing of known rows), :mod:`.sign_sync`
(per-image sign synchronisation), :mod:`.rescale` (|e| stretched to the pixel box),
:mod:`.simulate` (InstaHide run by the attacker on auxiliary images with a challenge's public
parameters), :mod:`.cache` (stage outputs on disk for ``--resume``), :mod:`.release_model` (a classifier
trained on a release, and the per-candidate losses membership attacks read from it).
Attacks import these modules directly; third-party plugins get the stable helpers through
:mod:`instahide_bench.api`.
"""
