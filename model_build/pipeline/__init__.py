"""The build pipeline: one set of step functions, run locally or compiled to SageMaker.

* :mod:`model_build.definition`: one ``model.yaml`` per model folder, loaded strictly.
* :mod:`model_build.pipeline.steps`: validate, training_set, labels, train, evaluate, gate,
  register; :mod:`~model_build.pipeline.estimators` (what is fitted),
  :mod:`~model_build.pipeline.scoring` (metrics per task), :mod:`~model_build.pipeline.plots`.
* :mod:`model_build.pipeline.serving`: the serving version as the gate's baseline.
* :mod:`model_build.pipeline.local_runner`: :func:`run_local`, the whole build on this machine;
  :mod:`~model_build.pipeline.batch`: every model folder in turn.
* :mod:`model_build.sagemaker`: the same steps as a SageMaker Pipeline definition.
"""
