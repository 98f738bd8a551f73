"""`qcl oracle …`: registered on the `qcl` app by `register(app)`.

    qcl oracle simulate --nodes 4 --faults 0:equivocate,3:delay:200,partition:0.1|2.3@0-1500 --seed 1 --json
    qcl oracle up --nodes 4                      # the committee alone (qcl up runs it beside the analyzer)
    qcl oracle request --task analysis.findings --capture sample.jsonl --wait 30 --json
    qcl oracle verify attestation.json --committee .qcl/oracle/n4/committee.json
    qcl oracle init --nodes 4 --dir committee/    # keys (0600) and a signed committee file
    qcl oracle export-key --dir committee/ --index 2 | gcloud secrets versions add qcl-oracle-node-key-2 --data-file=-
    qcl oracle node --dir committee/ --index 2 --transport loopback     # one member as its own process

Heavy imports (the protocol, the bus, torch) happen inside the commands, so `qcl topics` stays fast.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from qcl.clitools import fail, print_json, settings_or_exit
from qcl.config import Settings
from qcl.errors import QclError
from qcl.lifecycle import wait_for_stop

oracle_app = typer.Typer(
    no_args_is_help=True, help="The BFT AI oracle: a committee that agrees on results and signs them."
)

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
NodesOpt = Annotated[int, typer.Option("--nodes", help="committee size n = 3f+1 (4 or 7)")]
DirOpt = Annotated[Path | None, typer.Option("--dir", help="committee folder (default <state_dir>/oracle/n<nodes>)")]
BusOpt = Annotated[str | None, typer.Option("--bus", help="memory | pubsub  [QCL_BUS]")]
StoreOpt = Annotated[str | None, typer.Option("--store", help="memory | redis  [QCL_STORE]")]
TransportOpt = Annotated[str | None, typer.Option("--transport", help="bus | loopback  [QCL_ORACLE_TRANSPORT]")]


def _folder(settings: Settings, nodes: int, folder: Path | None) -> Path:
    return folder or Path(settings.state_dir) / "oracle" / f"n{nodes}"


@oracle_app.command()
def simulate(
    nodes: NodesOpt = 4,
    faults: Annotated[str, typer.Option("--faults", help="SPEC: NODE:FAULT and network items, comma-separated")] = "",
    seed: Annotated[int, typer.Option("--seed", help="seed of every random choice")] = 0,
    job: Annotated[
        str, typer.Option("--job", help="findings (exact) | health-score | price-change (numeric)")
    ] = "findings",
    view_timeout_ms: Annotated[float, typer.Option("--view-timeout-ms", help="base view timeout")] = 500.0,
    trace: Annotated[bool, typer.Option("--trace", help="print every delivered message")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run one job through a simulated committee with injected faults; invariants are checked after every step."""
    from qcl.oracle.sim.network import simulate as run
    from qcl.oracle.state import ProtocolConfig

    if nodes < 4 or (nodes - 1) % 3:
        raise fail(f"--nodes must be 3f+1 (4, 7, ...); got {nodes}", 2)
    try:
        report = run(nodes, faults, seed, job=job, config=ProtocolConfig(view_timeout_ms=view_timeout_ms))
    except QclError as exc:
        raise fail(str(exc), 2) from None
    if trace:
        typer.echo("\n".join(report.trace), err=True)
    summary = report.summary()
    if as_json:
        print_json(summary)
        return
    result = summary["result"]
    shown = json.dumps(result, ensure_ascii=False)
    typer.echo(
        f"committed {summary['committed']}  result {shown[:80]}{'…' if len(shown) > 80 else ''}\n"
        f"certificate valid {summary['certificate_valid']}  views {summary['views']}  messages {summary['messages']}"
        f"  latency {summary['latency_ms']} ms (simulated)\n"
        f"evidence {summary['evidence']}  excluded {summary['excluded']}"
    )


@oracle_app.command()
def init(
    nodes: NodesOpt = 4,
    folder: DirOpt = None,
    base_port: Annotated[int | None, typer.Option("--base-port", help="loopback port of member 0")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create the members' keys (mode 0600) and a committee file they all sign; never overwrites keys."""
    from qcl.oracle.setup import init_committee, open_committee

    settings = settings_or_exit(oracle_base_port=base_port)
    target = _folder(settings, nodes, folder)
    try:
        path = init_committee(target, n=nodes, base_port=settings.oracle_base_port)
        committee, _ = open_committee(target)
    except QclError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json({"committee_id": committee.committee_id, "n": committee.n, "f": committee.f, "file": str(path)})
    else:
        typer.echo(f"committee {committee.committee_id} ({committee.n} members, f = {committee.f}) in {path}")


@oracle_app.command("export-key")
def export_key_command(
    index: Annotated[int, typer.Option("--index", help="the member whose key to print")],
    folder: Annotated[Path, typer.Option("--dir", help="committee folder from `qcl oracle init`")],
    as_json: JsonOpt = False,
) -> None:
    """Print member i's key as its QCL_ORACLE_NODE_KEY_<i> value (base64 seed), for that member's own secret only."""
    from qcl.oracle.committee import load_committee
    from qcl.oracle.setup import export_key, member_key

    try:
        key = member_key(folder, load_committee(folder / "committee.json"), index)
    except QclError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json({"index": index, "key": export_key(key)})
    else:
        typer.echo(export_key(key))


@oracle_app.command()
def verify(
    file: Annotated[Path, typer.Argument(help="an attestation (oracle-results event or its data), JSON", exists=True)],
    committee: Annotated[Path | None, typer.Option("--committee", help="committee file")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check an attestation from the committee file alone: exit 0 when valid, 1 with the reason when not."""
    from pydantic import ValidationError

    from qcl.events import OracleResult
    from qcl.oracle.attestation import verify_attestation
    from qcl.oracle.committee import load_committee

    settings = settings_or_exit()
    path = committee or Path(settings.state_dir) / "oracle" / f"n{settings.oracle_nodes}" / "committee.json"
    try:
        body = json.loads(file.read_text())
        data = body.get("data", body) if isinstance(body, dict) and "specversion" in body else body
        attestation = OracleResult.model_validate(data)
        members = load_committee(path)
        verify_attestation(attestation, members)
    except (ValueError, ValidationError) as exc:
        raise fail(f"{file} is not an attestation: {str(exc).splitlines()[0]}") from None
    except QclError as exc:
        if as_json:
            print_json({"valid": False, "reason": str(exc)})
        typer.echo(f"invalid: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        print_json(
            {"valid": True, "job_id": attestation.job_id, "status": attestation.status, "result": attestation.result}
        )
    else:
        typer.echo(
            f"valid: job {attestation.job_id[:16]}… {attestation.status}, {len(attestation.certificate)} of "
            f"{members.n} members signed (quorum {members.quorum})"
        )


@oracle_app.command()
def up(
    nodes: Annotated[int | None, typer.Option("--nodes", help="committee size: 4 or 7  [QCL_ORACLE_NODES]")] = None,
    bus: BusOpt = None,
    store: StoreOpt = None,
    transport: TransportOpt = None,
) -> None:
    """Run the committee: oracle-requests and analysis reports in, attestations on oracle-results; Ctrl-C stops."""
    from qcl.bus import open_bus
    from qcl.obs.logging import configure_process_logging
    from qcl.oracle.service import OracleCommittee
    from qcl.store import open_store

    settings = settings_or_exit(oracle_nodes=nodes, bus=bus, store=store, oracle_transport=transport)
    configure_process_logging(settings, "oracle")
    the_bus, the_store = open_bus(settings), open_store(settings)
    committee = OracleCommittee(settings, the_bus, the_store)
    try:
        for line in committee.start():
            typer.echo(f"qcl oracle up: {line}", err=True)
        typer.echo("qcl oracle up: running; Ctrl-C stops", err=True)
        wait_for_stop()
    except QclError as exc:
        raise fail(str(exc)) from None
    finally:
        committee.stop()
        the_bus.close()
        the_store.close()
        typer.echo("qcl oracle up: stopped", err=True)


@oracle_app.command()
def node(
    index: Annotated[int, typer.Option("--index", help="this member's index in the committee file")],
    folder: Annotated[Path, typer.Option("--dir", help="committee folder (committee.json, node-<i>/key.json)")],
    transport: TransportOpt = None,
    bus: BusOpt = None,
    store: StoreOpt = None,
    rejoin: Annotated[bool, typer.Option("--rejoin", help="this member lost its disk: learn before voting")] = False,
    view_timeout_ms: Annotated[float | None, typer.Option("--view-timeout-ms")] = None,
) -> None:
    """Run one member as its own process (what containers/oracle/main.py runs on a VM)."""
    from qcl.bus import open_bus
    from qcl.obs.logging import configure_process_logging
    from qcl.oracle.committee import load_committee
    from qcl.oracle.jobs import Blobs, Executors
    from qcl.oracle.runtime import NodeRuntime
    from qcl.oracle.setup import member_key
    from qcl.oracle.state import ProtocolConfig
    from qcl.oracle.transport import BusTransport, LoopbackTransport, Transport
    from qcl.store import open_store

    settings = settings_or_exit(
        oracle_transport=transport, bus=bus, store=store, oracle_view_timeout_ms=view_timeout_ms
    )
    configure_process_logging(settings, f"oracle-{index}")
    try:
        committee = load_committee(folder / "committee.json")
        key = member_key(folder, committee, index)
    except QclError as exc:
        raise fail(str(exc)) from None
    the_bus, the_store = open_bus(settings), open_store(settings)
    link: Transport = (
        LoopbackTransport(committee, index)
        if settings.oracle_transport == "loopback"
        else BusTransport(the_bus, committee, index)
    )
    config = ProtocolConfig(
        view_timeout_ms=settings.oracle_view_timeout_ms, checkpoint_interval=settings.oracle_checkpoint_interval
    )
    runtime = NodeRuntime(
        committee,
        key,
        transport=link,
        executors=Executors(Blobs(the_store)),
        state_dir=folder / f"node-{index}",
        config=config,
        rejoin=rejoin,
    )
    runtime.start()
    typer.echo(
        f"member {key.node_id} up ({'restored' if runtime.restored else 'fresh'}), {settings.oracle_transport}",
        err=True,
    )
    try:
        wait_for_stop()
    finally:
        runtime.stop()
        the_bus.close()
        the_store.close()


@oracle_app.command()
def request(
    task: Annotated[
        str, typer.Option("--task", help="analysis.findings | analysis.health_score | analysis.price_change_1h_pct")
    ],
    capture: Annotated[
        Path, typer.Option("--capture", help="capture file: the job's input", exists=True, dir_okay=False)
    ],
    last: Annotated[int, typer.Option("--last", help="observations from the end of the capture")] = 120,
    wait: Annotated[float, typer.Option("--wait", help="seconds to wait for the attestation; 0 returns at once")] = 0.0,
    bus: BusOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """File a job on oracle-requests (its input into the store, by hash); with --wait print the attestation."""
    from qcl.bus import open_bus
    from qcl.oracle.jobs import analysis_spec
    from qcl.oracle.scheduler import submit_job
    from qcl.store import open_store
    from qcl.store.keys import ORACLE_RESULT

    settings = settings_or_exit(bus=bus, store=store)
    lines = [line for line in capture.read_text().splitlines() if line.strip()][-last:]
    blob = ("\n".join(lines) + "\n").encode()
    try:
        spec = analysis_spec(task, blob, subject=f"capture/{capture.name}")
    except QclError as exc:
        raise fail(str(exc), 2) from None
    the_bus, the_store = open_bus(settings), open_store(settings)
    try:
        filed = submit_job(the_bus, the_store, spec, blob, source="//qcl/cli/oracle")
        typer.echo(f"filed job {filed.job_id} as sequence {filed.sequence}", err=True)
        deadline = time.monotonic() + wait
        found = the_store.get(ORACLE_RESULT.key(job_id=filed.job_id))
        while found is None and time.monotonic() < deadline:
            time.sleep(0.05)
            found = the_store.get(ORACLE_RESULT.key(job_id=filed.job_id))
    finally:
        the_bus.close()
        the_store.close()
    if wait and found is None:
        raise fail(f"no attestation for job {filed.job_id} within {wait:g} s")
    output = json.loads(found) if found else {"job_id": filed.job_id, "sequence": filed.sequence}
    if as_json:
        print_json(output)
    else:
        typer.echo(json.dumps(output.get("result", output), ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add `qcl oracle …` to the `qcl` command."""
    app.add_typer(oracle_app, name="oracle")
