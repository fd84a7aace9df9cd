"""Request-scoped access to what the app factory set up: the config, the store engine, and
the label rules in force (read per request: a new champion may bring new classes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from decayguard.config import DecayguardConfig
from decayguard.feedback.label_rules import LabelRules
from decayguard.feedback.review import ReviewQueue


def get_config(request: Request) -> DecayguardConfig:
    config: DecayguardConfig = request.app.state.config
    return config


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_label_rules(
    config: Annotated[DecayguardConfig, Depends(get_config)],
    engine: Annotated[Engine, Depends(get_engine)],
) -> LabelRules:
    """What labels and review verdicts may be for the project's model."""
    return LabelRules.for_project(config, engine)


def get_review_queue(
    config: Annotated[DecayguardConfig, Depends(get_config)],
    engine: Annotated[Engine, Depends(get_engine)],
    rules: Annotated[LabelRules, Depends(get_label_rules)],
) -> ReviewQueue:
    return ReviewQueue(engine, config.model.name, rules)


ConfigDep = Annotated[DecayguardConfig, Depends(get_config)]
EngineDep = Annotated[Engine, Depends(get_engine)]
RulesDep = Annotated[LabelRules, Depends(get_label_rules)]
QueueDep = Annotated[ReviewQueue, Depends(get_review_queue)]
