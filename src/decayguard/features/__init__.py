"""The Feast feature store of a decayguard project.

Training and serving read the same feature service, so they see the same features:

- :class:`FeatureRepo`: ``apply`` (Feast's ``feast apply``), ``materialize`` into the online
  store, point-in-time-correct :meth:`~FeatureRepo.training_set` with a lineage record, and
  in-process :meth:`~FeatureRepo.online_features`.
- :class:`FeatureServer`: ``feast serve`` as a managed process; :class:`OnlineFeatureClient`
  is its HTTP client (no Feast needed, so the serving environment can use it).
- Data windows (:class:`AllHistory`, :class:`LastNDays`, :class:`RecencyWeighted`) pick the
  labels a training set learns from; :func:`window_from_config` reads them from config.
- :class:`TrainingSetLineage` says exactly what data a model learned from;
  :func:`compare_lineage` says how two training sets differ.

Importing this package never imports Feast.
"""

from __future__ import annotations

from decayguard.features.joins import PointInTimeSet, point_in_time_join
from decayguard.features.lineage import (
    LineageComparison,
    TrainingSetLineage,
    compare_lineage,
    frame_sha256,
)
from decayguard.features.online import AsyncOnlineFeatureClient, OnlineFeatureClient
from decayguard.features.repo import FeatureRepo
from decayguard.features.scaffold import write_feature_repo
from decayguard.features.server import FeatureServer
from decayguard.features.store_yaml import render_feature_store_yaml, write_feature_store_yaml
from decayguard.features.windows import (
    AllHistory,
    DataWindow,
    LastNDays,
    RecencyWeighted,
    window_from_config,
)

__all__ = [
    "AllHistory",
    "AsyncOnlineFeatureClient",
    "DataWindow",
    "FeatureRepo",
    "FeatureServer",
    "LastNDays",
    "LineageComparison",
    "OnlineFeatureClient",
    "PointInTimeSet",
    "RecencyWeighted",
    "TrainingSetLineage",
    "compare_lineage",
    "frame_sha256",
    "point_in_time_join",
    "render_feature_store_yaml",
    "window_from_config",
    "write_feature_repo",
    "write_feature_store_yaml",
]
