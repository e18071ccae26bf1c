#!/usr/bin/env bash
# Browser test of the live dashboard: while `examples/dashboard` computes for several seconds,
# load the page twice in headless Chromium, read the state the page shows (the data-*
# attributes of #summary), and check that progress advanced, the tracked memory it plotted
# stayed under the limit, and the task stream shows both workers. Saves a screenshot as
# target/dashboard.png. Needs the example built with `--features dashboard` (the CI's
# `cargo test --features hdf5,dashboard` builds it); SKIPs loudly without Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLE=${EXAMPLE:-target/debug/examples/dashboard}
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ]; then
  echo "!! SKIP dashboard browser check: no chromium found (apt-get install chromium)"
  exit 0
fi
[ -x "$EXAMPLE" ] || { echo "dashboard check: $EXAMPLE not built (cargo build --features dashboard --example dashboard)"; exit 1; }

work=$(mktemp -d)
log="$work/example.log"
"$EXAMPLE" 127.0.0.1:0 25 >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
url=""
for _ in $(seq 100); do
  url=$(sed -n 's/^dashboard: //p' "$log" | head -1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "dashboard check: no link printed"; cat "$log"; exit 1; }
# Let the first run start.
sleep 2

browse() { # browse MODE OUT...: one headless Chromium load with a virtual-time budget
  local mode=$1; shift
  timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$(mktemp -d -p "$work")" --virtual-time-budget=2500 \
    --window-size=1400,1000 "$mode" "$@" "$url" 2>/dev/null
}
summary() { # the #summary element's data-* attributes as KEY=VALUE lines
  grep -o '<span id="summary"[^>]*>' | grep -o 'data-[a-z]*="[^"]*"' | sed 's/^data-//; s/"//g'
}
first=$(browse --dump-dom | summary)
sleep 2
second=$(browse --dump-dom | summary)
mkdir -p target
browse --screenshot="$PWD/target/dashboard.png" >/dev/null || true
echo "first load:  $(echo $first)"
echo "second load: $(echo $second)"
get() { echo "$1" | sed -n "s/^$2=//p"; }
fail=0
for s in "$first" "$second"; do
  [ "$(get "$s" polls)" -ge 1 ] || { echo "FAIL: the page never read its state"; fail=1; }
  [ "$(get "$s" workers)" -eq 2 ] || { echo "FAIL: the task stream does not show 2 workers"; fail=1; }
  [ "$(get "$s" limit)" -gt 0 ] && [ "$(get "$s" maxmem)" -le "$(get "$s" limit)" ] &&
    [ "$(get "$s" peak)" -le "$(get "$s" limit)" ] || { echo "FAIL: memory above the limit"; fail=1; }
done
# Progress: a later run, or more tasks done in the same run.
r1=$(get "$first" run); d1=$(get "$first" done); r2=$(get "$second" run); d2=$(get "$second" done)
if ! { [ "$r2" -gt "$r1" ] || { [ "$r2" -eq "$r1" ] && [ "$d2" -gt "$d1" ]; }; }; then
  echo "FAIL: progress did not advance (run $r1 done $d1, then run $r2 done $d2)"; fail=1
fi
[ -s target/dashboard.png ] && echo "screenshot: target/dashboard.png" || echo "(no screenshot saved)"
[ "$fail" -eq 0 ] && echo "dashboard browser check: ok"
exit "$fail"
