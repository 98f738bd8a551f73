"""The oracle committee service: oracle-requests and network-analysis in, attestations on oracle-results out.

python containers/oracle/main.py                # Cloud Run: push endpoints POST /oracle-requests and
                                                # POST /network-analysis, GET /healthz on $PORT; members talk over
                                                # oracle-protocol (pulled), keys from QCL_ORACLE_NODE_KEY_<i>
python containers/oracle/main.py pull           # the committee as a pull worker (local, or a VM)
python containers/oracle/main.py node --index 2 --dir /var/lib/qcl-oracle     # one member, its own process or VM

With QCL_ORACLE_MEMBER=<i> the service is member i alone (production: one Cloud Run service or pod per member): it
holds only QCL_ORACLE_NODE_KEY_<i>, trusts QCL_ORACLE_COMMITTEE_FILE, pulls oracle-requests and network-analysis
(shared with the other members) and serves GET /healthz; it exits naming the problem when given no key, another
member's key, or other members' keys besides its own.
"""

from __future__ import annotations

import sys
from typing import Any

import flask

from qcl.api.server import serve_until_stopped
from qcl.bus import open_bus
from qcl.bus.push import handle_push
from qcl.config import settings
from qcl.errors import QclError
from qcl.events import NETWORK_ANALYSIS, ORACLE_REQUESTS
from qcl.lifecycle import wait_for_stop
from qcl.obs.logging import configure_logging
from qcl.oracle.cli import oracle_app
from qcl.oracle.service import OracleCommittee
from qcl.store import open_store


def build(*, pull_inputs: bool) -> OracleCommittee:
    config = settings()
    configure_logging(config.log_level, structured=True)
    committee = OracleCommittee(config, open_bus(config), open_store(config), pull_inputs=pull_inputs)
    try:
        committee.start()
    except QclError as exc:  # a missing or wrong key, a bad committee file: exit and say which (the platform restarts)
        raise SystemExit(f"oracle: refusing to start: {exc}") from None
    return committee


def create_app(committee: OracleCommittee) -> flask.Flask:
    app = flask.Flask("oracle")

    @app.post("/oracle-requests")
    def push_request() -> tuple[dict[str, Any], int]:
        body = flask.request.get_json(silent=True)
        return handle_push(body, ORACLE_REQUESTS, "oracle", committee.take_request, committee.bus)

    @app.post("/network-analysis")
    def push_report() -> tuple[dict[str, Any], int]:
        body = flask.request.get_json(silent=True)
        return handle_push(body, NETWORK_ANALYSIS, "oracle", committee.scheduler.handle, committee.bus)

    @app.get("/healthz")
    @app.get("/api/health")  # the probes' path on Cloud Run, whose front end reserves paths ending in z
    def healthz() -> tuple[dict[str, Any], int]:
        running = sum(node.running for node in committee.nodes)
        ok = committee.store.ping() and running >= 2 * ((len(committee.nodes) - 1) // 3) + 1
        return {"status": "ok" if ok else "degraded", "members_running": running}, 200 if ok else 503

    return app


def pull(committee: OracleCommittee) -> None:
    try:
        wait_for_stop()
    finally:
        committee.stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["node"]:
        oracle_app(sys.argv[1:])
    elif sys.argv[1:] == ["pull"]:
        pull(build(pull_inputs=True))
    else:
        # A lone member pulls its inputs (a push reaches one endpoint; the members share the subscriptions).
        serve_until_stopped(create_app(build(pull_inputs=settings().oracle_member is not None)))
