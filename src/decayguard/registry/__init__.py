"""Model artifacts: export a fitted model to a SHA-256-pinned folder and load it back.

This package is importable in the serving environment (no MLflow here; the MLflow
registry adapter lives elsewhere and calls :func:`export_model`). The artifact
formats are listed in :data:`decayguard.registry.flavors.FLAVORS`.
"""

from decayguard.registry.export import ExportedModel, export_model, infer_features, load_model
from decayguard.registry.flavors import LoadedModel, flavor_for
from decayguard.registry.manifest import ArtifactManifest, sha256_file

__all__ = [
    "ArtifactManifest",
    "ExportedModel",
    "LoadedModel",
    "export_model",
    "flavor_for",
    "infer_features",
    "load_model",
    "sha256_file",
]
