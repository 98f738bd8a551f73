"""`qcl workflows ...`: deploy, run, list, show, history, steps, resume, translate.

    qcl workflows deploy workflows/epoch_report.yaml --name epoch-report
    qcl workflows run epoch-report --data '{"epoch": 190}' --wait --json
    qcl workflows list | show epoch-report | history epoch-report | steps EXECUTION_ID
    qcl workflows translate workflows/epoch_report.yaml > workflows/gcp/epoch_report.yaml

Revisions and executions live in the store (QCL_STORE=redis shares them between processes; the embedded memory
store forgets them when the command ends). Triggers come from --trigger, or from triggers.json beside the file.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from qcl.clitools import fail, print_json, settings_or_exit
from qcl.config import Settings

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


class LazyNarrator:
    """The narrator, opened on its first use (loading a model costs seconds; most workflows never narrate)."""

    def __init__(self, settings: Settings) -> None:
        self.settings, self._lock = settings, threading.Lock()
        self._narrator: Any = None

    def _open(self) -> Any:
        with self._lock:
            if self._narrator is None:
                from qcl.narrate.service import open_narrator

                self._narrator = open_narrator(self.settings)
        return self._narrator

    def narrate(self, report: Any, language: Any) -> Any:
        return self._open().narrate(report, language)

    def answer(self, question: str, language: Any, report: Any) -> Any:
        return self._open().answer(question, language, report)


def open_service(settings: Settings) -> Any:
    from qcl.bus import open_bus
    from qcl.store import open_store
    from qcl.workflows import LocalConnectors, WorkflowService

    store = open_store(settings)
    connectors = LocalConnectors(store=store, bus=open_bus(settings), narrator=LazyNarrator(settings))
    return WorkflowService(store, connectors, lease_s=settings.workflow_lease_s, env=_env(settings))


def _env(settings: Settings) -> dict[str, str]:
    return {"QCL_API_BASE": f"http://{settings.host}:{settings.port}"}


def default_triggers(path: Path, name: str) -> list[dict[str, Any]]:
    beside = path.parent / "triggers.json"
    if not beside.is_file():
        return []
    found: list[dict[str, Any]] = json.loads(beside.read_text()).get(name, [])
    return found


def register(app: typer.Typer) -> None:
    group = typer.Typer(no_args_is_help=True, help="Workflows in the Cloud Workflows syntax, run durably.")
    app.add_typer(group, name="workflows")

    def service() -> Any:
        from qcl.obs.logging import configure_logging

        settings = settings_or_exit()
        configure_logging(settings.log_level)
        return open_service(settings)

    @group.command()
    def deploy(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="workflow file (YAML or JSON)")],
        name: Annotated[str | None, typer.Option("--name", help="default: the file's name, _ as -")] = None,
        trigger: Annotated[list[str] | None, typer.Option("--trigger", help="a trigger as JSON (repeatable)")] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Check FILE and store it as a new revision (the same source again keeps the revision)."""
        from qcl.workflows.errors import WorkflowSyntaxError

        chosen = name or file.stem.replace("_", "-")
        try:
            triggers = [json.loads(t) for t in trigger] if trigger else default_triggers(file, chosen)
        except json.JSONDecodeError as exc:
            raise fail(f"--trigger: not JSON: {exc}", 2) from None
        try:
            revision = service().deploy(chosen, file.read_text(encoding="utf-8"), triggers=triggers)
        except WorkflowSyntaxError as exc:
            raise fail(f"{file}: {exc}") from None
        revision.pop("source")
        if as_json:
            print_json(revision)
        else:
            verb = "deployed" if revision["created"] else "unchanged:"
            typer.echo(f"{verb} {chosen} revision {revision['revision_id']}")

    @group.command()
    def run(
        name: str,
        data: Annotated[str, typer.Option("--data", help="the argument, JSON")] = "{}",
        wait: Annotated[bool, typer.Option("--wait", help="wait for the result")] = False,
        timeout_s: Annotated[float, typer.Option("--timeout", help="seconds to wait")] = 600.0,
        as_json: JsonOpt = False,
    ) -> None:
        """Queue an execution of NAME's latest revision for the running executor (qcl up), or with --wait run it here
        and wait; exit 1 when it failed, 3 when it is still queued or running."""
        from qcl.workflows.errors import LimitExceeded, UnknownWorkflowError

        try:
            argument = json.loads(data)
        except json.JSONDecodeError as exc:
            raise fail(f"--data: not JSON: {exc}", 2) from None
        svc = service()
        try:
            record = svc.start(name, argument, launch=wait)  # unwaited: a running executor (qcl up) takes it
        except (UnknownWorkflowError, LimitExceeded) as exc:
            raise fail(str(exc)) from None
        if wait:
            record = svc.wait(record["id"], timeout_s)
        if as_json:
            print_json(record)
        else:
            typer.echo(f"{record['id']} {record['state']}")
            if record["state"] == "succeeded":
                typer.echo(json.dumps(record["result"], ensure_ascii=False, indent=2))
            elif record["error"]:
                typer.echo(f"error: {json.dumps(record['error'], ensure_ascii=False)}", err=True)
        code = {"succeeded": 0, "failed": 1, "cancelled": 1}.get(record["state"], 3)
        raise typer.Exit(code)

    @group.command("list")
    def list_(as_json: JsonOpt = False) -> None:
        """Deployed workflows with their latest revision."""
        svc = service()
        rows = []
        for name in svc.repo.names():
            latest = svc.repo.revision(name) or {}
            rows.append({"name": name, "revision": latest.get("revision"), "revision_id": latest.get("revision_id")})
        if as_json:
            print_json(rows)
            return
        for row in rows:
            typer.echo(f"{row['name']:<24} {row['revision_id']}")

    @group.command()
    def show(
        name: str, revision: Annotated[int | None, typer.Option("--revision")] = None, as_json: JsonOpt = False
    ) -> None:
        """A revision (the latest by default) with its triggers and source."""
        from qcl.workflows.errors import UnknownWorkflowError

        try:
            shown = service().revision(name, revision)
        except UnknownWorkflowError as exc:
            raise fail(str(exc)) from None
        if as_json:
            print_json(shown)
            return
        typer.echo(f"{name} revision {shown.get('revision')} ({shown.get('revision_id')})")
        for trigger in shown.get("triggers", []):
            typer.echo(f"trigger {json.dumps(trigger, ensure_ascii=False)}")
        typer.echo(shown.get("source", ""), nl=False)

    @group.command()
    def history(name: str, limit: Annotated[int, typer.Option("--limit")] = 20, as_json: JsonOpt = False) -> None:
        """NAME's executions, newest first: id, revision, state, trigger."""
        rows = service().repo.executions(name, limit)
        if as_json:
            print_json(rows)
            return
        for row in rows:
            typer.echo(f"{row['id']} rev {row['revision']:<4} {row['state']:<10} {row['trigger']}")

    @group.command()
    def steps(execution_id: str, as_json: JsonOpt = False) -> None:
        """An execution and its finished steps, in order."""
        from qcl.workflows.errors import UnknownWorkflowError

        svc = service()
        try:
            execution, done = svc.execution(execution_id), svc.steps(execution_id)
        except UnknownWorkflowError as exc:
            raise fail(str(exc)) from None
        if as_json:
            print_json({"execution": execution, "steps": done})
            return
        typer.echo(f"{execution['id']} {execution['state']}")
        for step in done:
            typer.echo(f"  {step['path']:<48} {step.get('outcome', '')}")

    @group.command()
    def resume(timeout_s: Annotated[float, typer.Option("--timeout")] = 600.0, as_json: JsonOpt = False) -> None:
        """Resume every execution whose executor died (its lease lapsed), and wait for them."""
        svc = service()
        records = [svc.wait(i, timeout_s) for i in svc.resume_orphans()]
        if as_json:
            print_json(records)
        else:
            for record in records:
                typer.echo(f"{record['id']} {record['state']}")

    @group.command()
    def translate(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)], as_json: JsonOpt = False) -> None:
        """FILE for Cloud Workflows: qcl.* calls become authenticated http.post calls to the API."""
        from qcl.workflows.errors import WorkflowSyntaxError
        from qcl.workflows.gcp import translate as to_gcp

        try:
            translated = to_gcp(file.read_text(encoding="utf-8"))
        except WorkflowSyntaxError as exc:
            raise fail(f"{file}: {exc}") from None
        if as_json:
            print_json({"file": str(file), "translated": translated})
        else:
            typer.echo(translated, nl=False)
