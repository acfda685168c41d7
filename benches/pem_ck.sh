#!/usr/bin/env bash
# Benchmark: `pushca pem ck` against the four-process openssl workflow it replaces
#   openssl pkcs12 -clcerts -nokeys; openssl pkcs12 -nocerts; openssl rsa; cat
# on the same realistic .p12 (RSA-2048 key, OpenSSL 3 default algorithms:
# PBES2/AES-256-CBC, PBKDF2-HMAC-SHA256 2048 iterations, HMAC-SHA256 MAC).
#
# Usage: benches/pem_ck.sh            (needs openssl; uses hyperfine when installed)
set -euo pipefail

cd "$(dirname "$0")/.."
cargo build --release --quiet
PUSHCA="$PWD/target/release/pushca"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 365 \
    -subj "/UID=com.example.app/CN=Apple Push Services: com.example.app/OU=ABCDE12345/O=Example/C=US" 2>/dev/null
openssl pkcs12 -export -in cert.pem -inkey key.pem -name "Apple Push Services: com.example.app" \
    -passout pass:benchpw -out push.p12
openssl version
openssl pkcs12 -in push.p12 -info -noout -passin pass:benchpw 2>&1 | grep -E "MAC|PBES2" | head -3

cat > openssl-pipeline.sh <<'SH'
set -e
openssl pkcs12 -clcerts -nokeys -out o-cert.pem -in push.p12 -passin pass:benchpw
openssl pkcs12 -nocerts -out o-key.pem -in push.p12 -passin pass:benchpw -passout pass:tmppass
openssl rsa -in o-key.pem -out o-key.unencrypted.pem -passin pass:tmppass 2>/dev/null
cat o-cert.pem o-key.unencrypted.pem > o-ck.pem
SH

PUSHCA_CMD="$PUSHCA pem ck --in push.p12 --passin pass:benchpw --out ck.pem --force -q"
OPENSSL_CMD="bash openssl-pipeline.sh"

# Sanity: both produce the same certificate and key.
$PUSHCA_CMD
$OPENSSL_CMD
cmp <(openssl x509 -in ck.pem -outform DER) <(openssl x509 -in o-ck.pem -outform DER)
cmp <(openssl pkey -in ck.pem -outform DER) <(openssl pkey -in o-ck.pem -outform DER)
echo "outputs agree (same certificate DER, same key)"

if command -v hyperfine >/dev/null; then
    hyperfine --warmup 3 --runs "${RUNS:-50}" -N \
        -n "pushca pem ck" "$PUSHCA_CMD" \
        -n "openssl 4-step pipeline" "$OPENSSL_CMD" 2>/dev/null ||
    hyperfine --warmup 3 --runs "${RUNS:-50}" \
        -n "pushca pem ck" "$PUSHCA_CMD" \
        -n "openssl 4-step pipeline" "$OPENSSL_CMD"
else
    runs="${RUNS:-50}"
    t() {
        local start end
        start=$(date +%s%N)
        for _ in $(seq "$runs"); do eval "$1" >/dev/null || { echo "benchmark command failed: $1" >&2; exit 1; }; done
        end=$(date +%s%N)
        echo $(((end - start) / runs / 1000))
    }
    a=$(t "$PUSHCA_CMD")
    b=$(t "$OPENSSL_CMD")
    echo "pushca pem ck:           ${a} µs per run"
    echo "openssl 4-step pipeline: ${b} µs per run"
    awk -v a="$a" -v b="$b" 'BEGIN { printf "speed-up: %.1fx\n", b / a }'
fi
