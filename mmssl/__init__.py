"""mmssl: self-supervised representation learning across video, audio and text."""

__version__ = "0.1.0"
