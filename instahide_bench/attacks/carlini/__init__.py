"""``carlini-graph``: the clustering attack of Carlini et al. on InstaHide, one module per stage.

:mod:`.magnitude` (|e|), :mod:`instahide_bench.attacks.common.simulate` (auxiliary simulation), :mod:`.similarity`
(embedding, blockwise graph, pair AUC), :mod:`.clustering` (networkx), :mod:`.assignment`,
:mod:`.reconstruct` (EM, sign synchronisation, Adam), :mod:`.colour`, and :mod:`.attack`
(the registered attack, imported lazily by the registry). :mod:`.truth` holds evaluation
helpers that need a key; the attack never imports it. Measurements:
``docs/attacks/carlini-graph.md``.
"""
