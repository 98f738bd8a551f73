"""The seeded simulator that drives real replicas (qcl.oracle.replica) through faults; no part of a running member.

  report = simulate(n=4, faults="0:equivocate,partition:0.1|2.3@0-1500", seed=7)   # network.py

faults.py       the fault SPEC: delays, drops, partitions, crashes, Byzantine behaviours per member
byzantine.py    Byzantine wrappers around honest replicas
network.py      the simulated network and clock (Simulation, simulate, sim_keys)
invariants.py   what is checked after every step and at the end (agreement, validity, integrity, liveness)
jobs.py         the jobs simulations and the benchmark run
"""
