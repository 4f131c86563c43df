"""Benchmarks of mstlite and llmstore against their references; run ``python -m benchmarks``.

Everything lives in private modules: ``__main__`` (command line), ``_plan``
(workloads, sides, sizes), ``_runner`` (one process per workload and side),
``_timing`` (in-process measurement), ``_data`` (seeded datasets),
``_workloads_mstlite`` and ``_workloads_refs`` (the workloads), ``_mst_js``
and ``mst_js/`` (the MobX-State-Tree side), ``_download``, ``_fetch`` and
``_serve`` (the download benchmark), ``_machine`` and ``_report`` (results).
"""

__all__: list[str] = []
