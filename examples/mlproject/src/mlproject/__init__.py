"""mlproject: quantise weights, serve a health endpoint, run a small pipeline."""

__version__ = "0.3.0"
