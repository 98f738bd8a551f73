"""The BFT AI oracle: n = 3f+1 members agree on a job's result by single-shot PBFT, sign it, publish it.

    qcl oracle simulate --nodes 4 --faults 0:equivocate,partition:0.1|2.3@0-1500 --seed 1 --json
    qcl oracle up --nodes 4          # the committee; `qcl up` runs it beside the analyzer

Layout (each file one idea):
  jobs.py, model_job.py       what can be agreed on: a spec that pins everything, inputs by hash, executors
  canonical.py, crypto.py     canonical bytes, Ed25519 keys on disk, domain-separated signed bytes
  committee.py, setup.py      the signed committee file; keys and folders on disk
  messages.py, proposals.py   signed messages; outcomes and the observations that justify them
  state.py, replica*.py       the protocol core: apply(state, event) -> effects (normal case, view change,
                              checkpoints), no clock, no I/O
  viewchange.py               the checks on VIEW-CHANGE and NEW-VIEW
  attestation.py              build and verify an attestation (result + 2f+1 member signatures)
  evidence.py, ledger.py      accountability from signed messages only; reputation and exclusion
  transport.py, runtime.py    bus and loopback transports; a member as a running service (timers, disk)
  service.py, scheduler.py    the committee as a service: requests and analysis reports in, attestations out
  sim/                        the seeded simulator: fault SPEC, Byzantine wrappers around honest replicas, the
                              simulated network and the invariants checked after every step
  cli.py                      `qcl oracle ...` (its benchmark: qcl.bench.oracle)
"""
