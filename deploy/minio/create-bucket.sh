#!/bin/sh
# One-shot job (minio/mc): creates the app's bucket and the app's own MinIO user, whose policy
# reaches that bucket only; the app never holds the root credentials. Safe to re-run: the bucket
# is kept, the policy and the user's secret are set again, and a re-run with another S3_BUCKET
# moves the user to the new bucket. POSIX sh and mc only: the minio/mc image is minimal (no jq).
# Secrets go to mc on stdin, never as arguments, which anyone on the host can read in `ps`.
set -euf

: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${S3_BUCKET:?}" "${MINIO_APP_USER:?}" "${MINIO_APP_PASSWORD:?}"
if [ "$MINIO_APP_USER" = "$MINIO_ROOT_USER" ]; then
  echo "MINIO_APP_USER must not be the root user: the app gets a user limited to its bucket" >&2
  exit 1
fi

printf '%s\n%s\n' "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" | mc alias set local "${MINIO_URL:-http://minio:9000}" >/dev/null
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

# What the app does, and no more: list its bucket (ListObjectsV2); read (GetObject, HeadObject),
# write (PutObject, and the multipart upload that copies chunks into one object: its create,
# upload part, upload part copy and complete) and delete (DeleteObjects) objects in it; abort a
# multipart upload it gave up. It never lists multipart uploads or their parts.
policy="stream-uploader-$S3_BUCKET"
policy_file="$(mktemp)"
trap 'rm -f "$policy_file"' EXIT
cat > "$policy_file" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:ListBucket"],
      "Resource": ["arn:aws:s3:::$S3_BUCKET"]
    },
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
      "Resource": ["arn:aws:s3:::$S3_BUCKET/*"]
    }
  ]
}
JSON
mc admin policy create local "$policy" "$policy_file" >/dev/null
printf '%s\n%s\n' "$MINIO_APP_USER" "$MINIO_APP_PASSWORD" | mc admin user add local >/dev/null

# The policies of an earlier S3_BUCKET would leave the user its old bucket. Read from the user's
# info as JSON, one line: {...,"policyName":"a,b",...}; policy names hold no quote.
info="$(mc admin user info local "$MINIO_APP_USER" --json)"
attached="${info#*\"policyName\":\"}"
if [ "$attached" = "$info" ]; then attached=""; fi
attached="${attached%%\"*}"
IFS=,
for name in $attached; do
  case "$name" in
    "$policy") ;;
    stream-uploader-*) mc admin policy detach local "$name" --user "$MINIO_APP_USER" >/dev/null ;;
  esac
done
unset IFS
mc admin policy attach local "$policy" --user "$MINIO_APP_USER" >/dev/null
echo "Bucket '$S3_BUCKET' ready; user '$MINIO_APP_USER' may use it and nothing else"
