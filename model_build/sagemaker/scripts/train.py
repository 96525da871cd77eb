"""SageMaker TrainingStep ``Train``: fit on the training part, write the bundle to /opt/ml/model."""

from model_build.sagemaker.jobs import main

if __name__ == "__main__":
    main("train")
