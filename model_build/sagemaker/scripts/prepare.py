"""SageMaker ProcessingStep ``PrepareData``: validate the sources, build the training set."""

from model_build.sagemaker.jobs import main

if __name__ == "__main__":
    main("prepare")
