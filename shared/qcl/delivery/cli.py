"""`qcl rollout`: a new image of a Cloud Run service, canary or blue-green, rolled back on error rate or latency
(registered on `qcl` by cli.py; Cloud Build runs it, cloudbuild.yaml).

    qcl rollout SERVICE IMAGE --project P --region R [--strategy canary|blue-green] [--steps 10,50,100]
                [--bake-s 300] [--max-error-rate 0.01] [--max-p95-ms 2000] [--suffix S] [--json]

Exit 0: the new revision serves all traffic. Exit 1: rolled back (or it never became Ready), saying why.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import typer

from qcl.clitools import fail, print_json


def revision_suffix(image: str) -> str:
    """A revision name's suffix from the image's tag (Cloud Build's build id): lowercase letters, digits, -."""
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else image
    cleaned = re.sub(r"[^a-z0-9-]+", "-", tag.lower()).strip("-")
    return cleaned[:20].rstrip("-") or "release"


def rollout_command(
    service: Annotated[str, typer.Argument(help="Cloud Run service name")],
    image: Annotated[str, typer.Argument(help="the image to release, with its tag")],
    project: Annotated[str, typer.Option("--project", help="Google Cloud project")],
    region: Annotated[str, typer.Option("--region", help="the service's region")],
    strategy: Annotated[Literal["canary", "blue-green"], typer.Option("--strategy")] = "canary",
    steps: Annotated[str, typer.Option("--steps", help="canary: percents in turn, ending at 100")] = "10,50,100",
    bake_s: Annotated[float, typer.Option("--bake-s", min=0, help="seconds each step must hold")] = 300.0,
    max_error_rate: Annotated[float, typer.Option("--max-error-rate", min=0, max=1)] = 0.01,
    max_p95_ms: Annotated[float, typer.Option("--max-p95-ms", min=0)] = 2000.0,
    suffix: Annotated[
        str | None, typer.Option("--suffix", help="revision name suffix (default: the image tag)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Release IMAGE on SERVICE: a new revision with no traffic, then canary steps or a blue-green switch, each
    baked and checked against the limits; rolled back to the serving revision when one is crossed."""
    from qcl.delivery.cloudrun import CloudMonitoringWatch, CloudRunPlatform
    from qcl.delivery.rollout import Limits, RolloutError, rollout

    try:
        percents = [int(p) for p in steps.split(",")]
    except ValueError:
        raise fail(f"--steps: comma-separated whole percents such as 10,50,100 (got {steps!r})", 2) from None
    try:
        result = rollout(
            CloudRunPlatform(project, region, service),
            CloudMonitoringWatch(project, service),
            image,
            suffix=suffix or revision_suffix(image),
            strategy=strategy,
            steps=percents,
            bake_s=bake_s,
            limits=Limits(max_error_rate=max_error_rate, max_p95_ms=max_p95_ms),
            progress=lambda line: typer.echo(f"qcl rollout: {line}", err=True),
        )
    except RolloutError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json(result.to_json())
    else:
        typer.echo(result.reason)
    if not result.promoted:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("rollout")(rollout_command)
