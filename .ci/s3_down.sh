#!/usr/bin/env bash
# Stops the moto server .ci/s3_up.sh started, by the PID in its PID file.
S3_PIDFILE="${CHUNKWISE_S3_PIDFILE:-target/ci-moto.pid}"
if [ -f "$S3_PIDFILE" ]; then
  kill "$(cat "$S3_PIDFILE")" 2>/dev/null && echo "stopped moto (PID $(cat "$S3_PIDFILE"))"
  rm -f "$S3_PIDFILE"
fi
