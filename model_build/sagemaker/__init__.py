"""The build pipeline on SageMaker: offline compilation, job entry points, upsert and start.

* :mod:`model_build.sagemaker.compile`: :func:`compile_pipeline` (no credentials, no network).
* :mod:`model_build.sagemaker.layout`: the container paths the compiler and the jobs share.
* :mod:`model_build.sagemaker.jobs`: what the PrepareData, Train and Evaluate jobs run.
* :mod:`model_build.sagemaker.client`: upload code, make the group, :func:`upsert_and_start`.
* :mod:`model_build.sagemaker.launch`: :func:`launch_build`, the whole start sequence.
"""
