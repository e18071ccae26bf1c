#!/usr/bin/env bash
# An S3 API on loopback for tests/object_store.rs: moto's server (PyPI, S3 only) on
# 127.0.0.1:$CHUNKWISE_S3_PORT (default 5077), with the bucket $CHUNKWISE_S3_BUCKET
# (default chunkwise-ci). Source it (`. .ci/s3_up.sh`) to get the environment the tests and
# object_store's AmazonS3Builder::from_env() read; stop it with .ci/s3_down.sh (PID file).
# Recipe: ../shared/SCALE_OUT.md section C.
set -euo pipefail
S3_VENV="${CHUNKWISE_S3_VENV:-target/ci-motoenv}"
S3_PORT="${CHUNKWISE_S3_PORT:-5077}"
S3_PIDFILE="${CHUNKWISE_S3_PIDFILE:-target/ci-moto.pid}"
if [ ! -x "$S3_VENV/bin/moto_server" ]; then
  python3 -m venv "$S3_VENV"
  # moto[s3], not moto[server]: the server with the S3 backend only (seconds, not ~47 s).
  "$S3_VENV/bin/pip" install -q --disable-pip-version-check "moto[s3]==5.2.1" flask flask-cors
fi
if [ -f "$S3_PIDFILE" ] && kill -0 "$(cat "$S3_PIDFILE")" 2>/dev/null; then
  echo "moto already running (PID $(cat "$S3_PIDFILE"))"
else
  "$S3_VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" > "${S3_PIDFILE%.pid}.log" 2>&1 &
  echo $! > "$S3_PIDFILE"
fi
for _ in $(seq 1 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$S3_PORT/" && break
  sleep 0.1
done
export AWS_ENDPOINT="http://127.0.0.1:$S3_PORT" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
       AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export CHUNKWISE_S3_BUCKET="${CHUNKWISE_S3_BUCKET:-chunkwise-ci}"
# curl >= 7.75 signs S3 requests; path-style bucket creation, then a probe object.
S3_SIG=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "test:test")
curl -sf "${S3_SIG[@]}" -X PUT "$AWS_ENDPOINT/$CHUNKWISE_S3_BUCKET" > /dev/null
curl -sf "${S3_SIG[@]}" -X PUT -H "Content-Type: application/octet-stream" --data-binary ok "$AWS_ENDPOINT/$CHUNKWISE_S3_BUCKET/probe" > /dev/null
test "$(curl -sf "${S3_SIG[@]}" "$AWS_ENDPOINT/$CHUNKWISE_S3_BUCKET/probe")" = ok
echo "moto on $AWS_ENDPOINT (PID $(cat "$S3_PIDFILE")), bucket $CHUNKWISE_S3_BUCKET ready"
