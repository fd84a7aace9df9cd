"""decayguard: keeps deployed machine-learning models from silently decaying.

The package root re-exports what a user needs most; each subpackage
(``decayguard.store``, ``decayguard.monitoring``, ...) has its own curated API.
Importing it has no side effects and pulls in none of Prefect, Feast or MLflow.
"""

from decayguard.config import DecayguardConfig, load_config
from decayguard.errors import (
    ArtifactError,
    ConfigError,
    DecayguardError,
    InputValidationError,
    ServiceError,
    StoreError,
)

__version__ = "0.1.0"

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DecayguardConfig",
    "DecayguardError",
    "InputValidationError",
    "ServiceError",
    "StoreError",
    "__version__",
    "load_config",
]
