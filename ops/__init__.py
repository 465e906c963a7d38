"""proofyard operations: analyses and actions in plain Python (no pytest import)."""
