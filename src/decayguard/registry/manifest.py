"""The manifest of an exported model artifact: what it is, what it expects, its hash.

An exported model is a folder holding one artifact file (skops or LightGBM model
text, never a pickle) and ``manifest.json``. The manifest records the input schema,
the classes, the model version and the artifact's SHA-256; whoever deploys the model
copies that hash into MLServer's ``model-settings.json``, and the serving runtime
refuses to deserialize a file whose hash differs from the pin.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from decayguard.config import FeatureSpec
from decayguard.errors import ArtifactError

MANIFEST_FILENAME = "manifest.json"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise ArtifactError(f"cannot read model artifact {path}: {exc}") from exc
    return digest.hexdigest()


class ArtifactManifest(BaseModel):
    """Everything needed to load and call an exported model, except the model itself."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    format_version: Literal[1] = 1
    """Version of this manifest layout."""
    model_name: str
    """Name of the model (the MLServer endpoint and the store's model name)."""
    model_version: str
    """Version of the model (for example the MLflow registry version)."""
    flavor: str
    """How the artifact is stored: a key of :data:`decayguard.registry.flavors.FLAVORS`."""
    artifact: str
    """File name of the artifact, relative to the manifest's folder."""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """Hex SHA-256 of the artifact file."""
    task: Literal["binary", "multiclass", "regression"]
    """Kind of prediction."""
    features: list[FeatureSpec]
    """Input schema, in the order the model expects its columns."""
    classes: list[str] = Field(default_factory=list)
    """Class labels in the order of the model's probability columns (classifiers only)."""
    positive_class: str | None = None
    """For binary models, the class whose probability is the score."""
    trusted_types: list[str] = Field(default_factory=list)
    """Types a skops artifact may instantiate beyond skops' defaults, computed at export."""
    reference_scores: list[float] = Field(default_factory=list)
    """A sample of scores on reference data (review sampling fits its budget on them)."""
    reference_classes: list[str] = Field(default_factory=list)
    """The predicted classes matching ``reference_scores``."""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    """When the artifact was exported."""

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def write(self, folder: Path) -> Path:
        """Write ``manifest.json`` into ``folder`` and return its path."""
        path = folder / MANIFEST_FILENAME
        path.write_text(self.model_dump_json(indent=2) + "\n")
        return path

    @classmethod
    def read(cls, folder: Path) -> ArtifactManifest:
        """Read and validate the manifest of an exported model folder."""
        path = folder / MANIFEST_FILENAME
        try:
            return cls.model_validate(json.loads(path.read_text()))
        except FileNotFoundError as exc:
            raise ArtifactError(
                f"{folder} is not an exported model: no {MANIFEST_FILENAME}"
            ) from exc
        except (OSError, ValueError, ValidationError) as exc:
            raise ArtifactError(f"{path}: invalid manifest: {exc}") from exc
