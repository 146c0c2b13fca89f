#!/usr/bin/env bash
# Makes a development certificate for localhost: ECDSA P-256, valid 10 days
# (browsers accept serverCertificateHashes only for <= 14 days). Regenerated
# when missing or expiring within a day. Usage: gen-dev-cert.sh [dir]
set -euo pipefail
dir=${1:-"$(cd "$(dirname "$0")/.." && pwd)/certs/dev"}
mkdir -p "$dir"
cert="$dir/cert.pem"
key="$dir/key.pem"
if [[ -f "$cert" && -f "$key" ]] && openssl x509 -checkend 86400 -noout -in "$cert" >/dev/null 2>&1; then
  exit 0
fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$key" -out "$cert" -days 10 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" >/dev/null 2>&1
chmod 600 "$key"
echo "generated development certificate: $cert"
