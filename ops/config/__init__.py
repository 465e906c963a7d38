"""The proofyard configuration: schema, layered loading and provenance."""

from ops.config.loader import ConfigError, LoadedConfig, load_config
from ops.config.schema import ProofyardConfig

__all__ = ["ConfigError", "LoadedConfig", "ProofyardConfig", "load_config"]
