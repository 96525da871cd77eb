"""Production monitoring: capture records, baselines, data quality, drift and model quality.

The loop, and the module for each step (see docs/monitoring.md):

* capture: :mod:`~model_monitor.capture` (SageMaker's record format and file layout),
  :mod:`~model_monitor.writer` (``CaptureWriter``, off the request path);
* read: :mod:`~model_monitor.reader` (files of a window, records, bad-line counts),
  :mod:`~model_monitor.frame` (``load_window``: a window as a columnar frame);
* baseline: :mod:`~model_monitor.baseline` (``build_baseline``, ``load_baseline``) with
  :mod:`~model_monitor.statistics` and :mod:`~model_monitor.constraints`;
* check: :mod:`~model_monitor.violations` (``constraint_violations.json``),
  :mod:`~model_monitor.drift` (Evidently; settings in :mod:`~model_monitor.drift_config`),
  :mod:`~model_monitor.quality` (ground truth, metrics, comparison);
* report: :mod:`~model_monitor.report` (``run_monitor`` -> ``MonitorResult`` and the files).

Nothing heavy is imported here: pandas, numpy, scikit-learn and Evidently load inside the
functions that use them.
"""
