"""Workflows in the Cloud Workflows syntax, run by an embedded durable executor, deployable to GCP unchanged.

    from qcl.workflows import LocalConnectors, WorkflowService
    service = WorkflowService(store, LocalConnectors(store=store, bus=bus, narrator=narrator))
    service.deploy("epoch-report", Path("workflows/epoch_report.yaml").read_text())
    record = service.run("epoch-report", {"epoch": 190}, wait_s=60)

Layout: source.py (YAML/JSON with line numbers), definition.py (checks and compiles a file), expr.py + stdlib.py
(`${...}` expressions), executor.py (the interpreter and its journal), connectors.py (qcl.* and http.*), repo.py
(revisions and executions in the store), service.py (deploy, run, resume, cancel), triggers.py (topic and schedule
triggers), gcp.py (the same file for Cloud Workflows: qcl.* calls become authenticated http.post calls).
"""

from qcl.workflows.connectors import LocalConnectors
from qcl.workflows.definition import Workflow, compile_workflow
from qcl.workflows.errors import LimitExceeded, WorkflowRaised, WorkflowSyntaxError
from qcl.workflows.executor import Limits
from qcl.workflows.service import WorkflowService

__all__ = [
    "LimitExceeded",
    "Limits",
    "LocalConnectors",
    "Workflow",
    "WorkflowRaised",
    "WorkflowService",
    "WorkflowSyntaxError",
    "compile_workflow",
]
