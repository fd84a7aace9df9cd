"""The ``decayguard`` command: a thin adapter over the library (typer + rich).

Each command group lives in its own module of this package and is registered
below; none holds business logic of its own.
"""

from __future__ import annotations

import typer

from decayguard.cli import (
    api,
    check,
    demo,
    features,
    gate,
    labels,
    orchestration,
    project,
    release,
    report,
    serve,
    store,
    training,
)

app = typer.Typer(
    name="decayguard",
    help="Keep deployed ML models from silently decaying.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("version")(project.version)
app.command("init")(project.init)
app.add_typer(store.app, name="store")
app.add_typer(serve.app, name="serve")
app.add_typer(features.app, name="features")
app.add_typer(labels.app, name="labels")
app.command("api")(api.serve)
app.command("up")(orchestration.up)
app.command("down")(orchestration.down)
app.command("monitor")(orchestration.monitor)
app.command("check")(check.check)
app.command("demo")(demo.demo)
app.command("retrain")(training.retrain)
app.command("models")(training.models)
app.command("lineage")(training.lineage)
app.command("gate")(gate.gate)
app.add_typer(release.app, name="release")
app.command("report")(report.report)


def main() -> None:
    """Entry point of the ``decayguard`` console script."""
    project.run_app(app)
