"""Compression measurement: codecs, datasets, metrics and regression gates."""
