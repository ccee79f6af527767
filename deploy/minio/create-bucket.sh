#!/bin/sh
# One-shot job (minio/mc): creates the app's bucket and the app's own MinIO user, whose policy
# reaches that bucket only; the app never holds the root credentials. Safe to re-run: the bucket
# is kept, the policy and the user's secret are set again.
set -eu

: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${S3_BUCKET:?}" "${MINIO_APP_USER:?}" "${MINIO_APP_PASSWORD:?}"
if [ "$MINIO_APP_USER" = "$MINIO_ROOT_USER" ]; then
  echo "MINIO_APP_USER must not be the root user: the app gets a user limited to its bucket" >&2
  exit 1
fi

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

# What the app does, and no more: list its bucket; read, write and delete objects in it; copy
# chunks into a multipart upload and abort one it gave up.
policy="stream-uploader-$S3_BUCKET"
policy_file="$(mktemp)"
trap 'rm -f "$policy_file"' EXIT
cat > "$policy_file" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:ListBucket", "s3:ListBucketMultipartUploads"],
      "Resource": ["arn:aws:s3:::$S3_BUCKET"]
    },
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      "Resource": ["arn:aws:s3:::$S3_BUCKET/*"]
    }
  ]
}
JSON
mc admin policy create local "$policy" "$policy_file" >/dev/null
# Reads the secret from stdin, so it is not in the process list.
printf '%s\n%s\n' "$MINIO_APP_USER" "$MINIO_APP_PASSWORD" | mc admin user add local >/dev/null
mc admin policy attach local "$policy" --user "$MINIO_APP_USER" >/dev/null
echo "Bucket '$S3_BUCKET' ready; user '$MINIO_APP_USER' may use it and nothing else"
