#!/bin/sh
# One-shot job (minio/mc): creates the app's bucket if it is missing. Safe to re-run.
set -eu

: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${S3_BUCKET:?}"
mc alias set local "${MINIO_URL:-http://minio:9000}" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
attempt=0
until mc ls local >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 30 ]; then
    echo "MinIO is not reachable or rejects the root credentials" >&2
    exit 1
  fi
  sleep 2
done
mc mb --ignore-existing "local/$S3_BUCKET"
echo "Bucket '$S3_BUCKET' ready"
