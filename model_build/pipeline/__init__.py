"""The build pipeline: one set of step functions, run locally or compiled to SageMaker.

* :mod:`model_build.pipeline.params`: ``params.yaml``, loaded strictly (:func:`load_params`).
* :mod:`model_build.pipeline.steps`: validate, training_set, train, evaluate, gate, register.
* :mod:`model_build.pipeline.serving`: the serving version as the gate's baseline.
* :mod:`model_build.pipeline.local_runner`: :func:`run_local`, the whole build on this machine.
* :mod:`model_build.sagemaker`: the same steps as a SageMaker Pipeline definition.
"""
