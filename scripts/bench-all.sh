#!/usr/bin/env bash
# Every benchmark suite the README reports, one after another, each writing its JSON to OUT (default .qcl/bench).
# Progress goes to the terminal (stderr); run it on a quiet machine: the suites share its cores with nothing else.
#   scripts/bench-all.sh                 # all suites (about 40 minutes on a 2-core VM)
#   scripts/bench-all.sh shard oracle    # only those
set -euo pipefail

QCL=${QCL:-.venv/bin/qcl}
OUT=${OUT:-.qcl/bench}
mkdir -p "$OUT"
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(pipeline model shard oracle api narrate)

uname -srm >"$OUT/machine.txt"
{ nproc; grep -m1 'model name' /proc/cpuinfo; grep MemTotal /proc/meminfo; date -u +%FT%TZ; } >>"$OUT/machine.txt"

for suite in "${suites[@]}"; do
  echo "bench-all: $suite" >&2
  case $suite in
    pipeline)
      for backends in "memory memory" "memory redis" "pubsub memory" "pubsub redis"; do
        set -- $backends
        "$QCL" bench pipeline --bus "$1" --store "$2" --n 1000 --json >"$OUT/pipeline-$1-$2.json"
      done
      ;;
    *) "$QCL" bench "$suite" --json >"$OUT/$suite.json" ;;
  esac
done
echo "bench-all: figures in $OUT" >&2
