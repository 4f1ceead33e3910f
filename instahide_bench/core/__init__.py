"""The foundation layer: everything plugins and orchestration build on, and nothing above it.

Data sources (:mod:`.data`), the challenge format (:mod:`.challenge`), image shape
(:mod:`.images`), pixel spaces (:mod:`.pixels`), the metric and scorer (:mod:`.metric`,
:mod:`.scoring`, :mod:`.submission`), typed configs (:mod:`.config`), plugin registries
(:mod:`.registry`), safe I/O (:mod:`.io`), errors, progress, logs, provenance, resources, the
InstaHide scheme (:mod:`.instahide`) and the plugin base classes (:mod:`.attack`,
:mod:`.encoder`). Modules here import only each other and third-party libraries; plugin
authors reach them through :mod:`instahide_bench.api`.
"""
