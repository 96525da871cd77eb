"""``slipway monitor``'s library glue: deployments to monitoring runs, labels, freshness.

The command line (``slipway.cli.monitor``) stays thin; this package finds what a run needs
(the deployment's manifest, served version, capture, baseline, labels, registered metrics,
feature freshness), calls ``model_monitor.report.run_monitor`` and returns result objects.
Nothing here prints: the CLI renders the results (``view`` builds its rich table).

Modules: ``settings`` (``SLIPWAY_MONITOR_*``), ``errors``, ``deployments`` (ENV/--model to
what is monitored), ``capture`` (the window's records, in SageMaker's layout on disk (the local
router's) or in S3), ``labels`` (ground-truth ingestion and lookup), ``run`` (one run per
deployment), ``service`` (``monitor run`` and ``monitor labels`` as calls: windows, output
folders, freshness once per run), ``view`` (the terminal table).
"""
