"""The error type of the pretrained-model comparison."""


class PretrainedError(ValueError):
    """A model source, model directory, corpus or setting of the pretrained comparison is unusable."""
