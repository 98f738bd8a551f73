"""`qcl federation serve`: one entry point for jobs in front of several deployments, each a named profile
(registered on `qcl` by cli.py; qcl.federation says how it routes and fails over).

    qcl profile add eu --api https://eu.example --key-file ~/.qcl/eu.key
    qcl profile add us --api https://us.example --key-file ~/.qcl/us.key
    qcl federation serve --cluster eu --cluster us --port 8090       # clients: POST/GET /api/jobs on :8090

Its own key is <state_dir>/federation.key (made on first start, mode 0600) unless --key-file names one; its ledger
is the QCL_STORE store (Redis, so that a restarted gateway keeps every accepted job).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

import typer

from qcl.clitools import fail, settings_or_exit
from qcl.lifecycle import wait_for_stop

federation_app = typer.Typer(no_args_is_help=True, help="Jobs across several deployments: routing and failover.")


def _key(path: Path) -> str:
    from qcl.api.keys import write_secret

    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = "qcl_fed_" + secrets.token_urlsafe(32)
    write_secret(path, key + "\n")  # 0600 from creation
    return key


@federation_app.command("serve")
def serve(
    cluster: Annotated[list[str], typer.Option("--cluster", help="a profile naming a deployment (twice or more)")],
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8090,
    key_file: Annotated[Path | None, typer.Option("--key-file", help="this gateway's key")] = None,
    failover_after_s: Annotated[float, typer.Option("--failover-after-s", min=0)] = 10.0,
    sweep_s: Annotated[float, typer.Option("--sweep-s", min=0.1, help="seconds between sweeps")] = 2.0,
) -> None:
    """Route job submissions to the deployment that starts them soonest; move a down deployment's jobs to another."""
    from qcl import remote
    from qcl.api.server import ApiServer
    from qcl.federation import Cluster, Federation, Sweeper, create_gateway
    from qcl.store import open_store

    if len(set(cluster)) < 2:
        raise fail("a federation needs two or more clusters: --cluster NAME twice or more (named profiles)", 2)
    settings = settings_or_exit()
    targets = {name: remote.profile_target(name) for name in cluster}
    store = open_store(settings)
    federation = Federation(
        [Cluster(name, target.url, target.key) for name, target in targets.items()],
        store,
        failover_after_s=failover_after_s,
    )
    key = _key(key_file or settings.state_dir / "federation.key")
    federation.probe()
    sweeper = Sweeper(federation, sweep_s).start()
    server = ApiServer(create_gateway(federation, key), host, port)
    server.start()
    up = ", ".join(f"{c.name} ({'up' if c.up else 'down'})" for c in federation.clusters.values())
    typer.echo(f"qcl federation: http://{host}:{server.port}/api/jobs over {up}; ledger in {store.backend}", err=True)
    try:
        wait_for_stop()
    finally:
        server.stop()
        sweeper.stop()
        federation.close()
        store.close()


def register(app: typer.Typer) -> None:
    app.add_typer(federation_app, name="federation")
