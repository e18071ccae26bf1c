#!/usr/bin/env bash
# Side-by-side runs of chunkwise and a peer on the same data, alternating, each under
# /usr/bin/time -v (whole-process wall and peak RSS), with the load average before each run.
#
#   benches/workloads/side_by_side.sh [RUNS] [WORKLOAD...]
#   RUNS=3 DATA=/tmp/peerdata BIN=target/release/examples/workloads PY=python3 \
#     benches/workloads/side_by_side.sh 3 G1 G2 G3 G4
#
# Prints one JSON line per run (the program's own line, with "time_v_wall_s",
# "time_v_maxrss_mb" and "load1" added). PEER_ENGINE (default xarray) is the peer's --engine:
# G1-G4 and W10 run xarray (+ flox) on dask; set PEER_ENGINE=dask for W2-W9.
set -euo pipefail
runs=${1:-3}
shift || true
workloads=("$@")
[ ${#workloads[@]} -eq 0 ] && workloads=(G1 G2 G3 G4)
DATA=${DATA:-/tmp/peerdata}
BIN=${BIN:-target/release/examples/workloads}
PY=${PY:-python3}
LIMIT=${LIMIT:-256MiB}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

one() { # label, command...
    local load
    load=$(cut -d' ' -f1 /proc/loadavg)
    if ! /usr/bin/time -v -o "$tmp/tv" "${@:2}" >"$tmp/out" 2>"$tmp/err"; then
        echo "{\"workload\": \"$1\", \"failed\": true, \"load1\": $load}"
        tail -n 5 "$tmp/err" >&2
        return 0
    fi
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$tmp/tv")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$tmp/tv")
    tail -n 1 "$tmp/out" | sed "s/}\$/, \"time_v_wall_s\": $wall, \"time_v_maxrss_mb\": $rss, \"load1\": $load}/"
}

for r in $(seq 1 "$runs"); do
    for w in "${workloads[@]}"; do
        one "$w" "$BIN" "$w" --data "$DATA" --memory-limit "$LIMIT"
        case "$w" in
            W8-decode) one "$w" "$PY" "$here/peer_dask.py" "$w" --data "$DATA" ;; # zarr-python's floor
            *-decode) ;; # chunkwise's other decode floors have no peer arm
            *) one "$w" "$PY" "$here/peer_dask.py" "$w" --engine "${PEER_ENGINE:-xarray}" --data "$DATA" ;;
        esac
    done
done
