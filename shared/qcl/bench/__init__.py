"""Benchmark suites behind `qcl bench`: each returns a dict of figures measured in one run on this machine."""
