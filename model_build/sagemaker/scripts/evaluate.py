"""SageMaker ProcessingStep ``Evaluate``: holdout metrics, gate verdict, evaluation.json, plots."""

from model_build.sagemaker.jobs import main

if __name__ == "__main__":
    main("evaluate")
