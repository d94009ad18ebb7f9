"""museforge: a studio for making art with generative models."""

__version__ = "0.1.0"
