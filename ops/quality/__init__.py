"""Quality gates: one parse per file, cached by content hash, analysed in parallel."""
