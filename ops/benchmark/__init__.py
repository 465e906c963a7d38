"""Benchmarks: calibrated samples, a statistical gate that survives noisy machines, history."""
