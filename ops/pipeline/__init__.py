"""Pipelines: declared steps run as a resumable, parallel DAG, locally or on Dask."""
