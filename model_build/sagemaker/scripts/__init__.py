"""Thin entry-point scripts of the SageMaker jobs, uploaded to ``s3://<bucket>/<prefix>/code/``.

Each script only calls :func:`model_build.sagemaker.jobs.main`; the logic lives in the package
(installed in the image), so the local runner and SageMaker run the same step functions.
"""
