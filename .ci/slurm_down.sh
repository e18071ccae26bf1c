#!/usr/bin/env bash
# Stops what .ci/slurm_up.sh started, by the PIDs the daemons recorded (never by name).
set -uo pipefail
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
for f in /run/slurm/slurmd.pid /run/slurm/slurmctld.pid /run/munge/munged.pid; do
  if [ -s "$f" ]; then
    pid=$(cat "$f")
    as_root kill "$pid" 2>/dev/null && echo "   stopped $(basename "$f" .pid) ($pid)"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
done
exit 0
