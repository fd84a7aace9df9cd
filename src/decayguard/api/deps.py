"""Request-scoped access to what the app factory set up: the config and the store engine."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from decayguard.config import DecayguardConfig
from decayguard.feedback.review import ReviewQueue, default_label_values


def get_config(request: Request) -> DecayguardConfig:
    config: DecayguardConfig = request.app.state.config
    return config


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def label_values(config: DecayguardConfig) -> list[str]:
    """The label values reviewers and label deliveries may use (empty: any)."""
    return default_label_values(
        config.model.task, config.model.positive_class, config.feedback.label_values
    )


def get_review_queue(
    config: Annotated[DecayguardConfig, Depends(get_config)],
    engine: Annotated[Engine, Depends(get_engine)],
) -> ReviewQueue:
    return ReviewQueue(engine, config.model.name, label_values(config))


ConfigDep = Annotated[DecayguardConfig, Depends(get_config)]
EngineDep = Annotated[Engine, Depends(get_engine)]
QueueDep = Annotated[ReviewQueue, Depends(get_review_queue)]
