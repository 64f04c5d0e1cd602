"""mmprolong: long-context training data, training and evaluation for vision-language models."""

__version__ = "0.1.0"
