#!/usr/bin/env bash
# Profile benchmark: `pushca profile create` for an App ID with DEVICES devices
# and CERTS push certificates (whole process: store read, CA key unlock, plist,
# CMS signing, store commit, file), against `openssl cms -sign` on the same
# plist with the same profile-signer key and certificates.
#
#   bash benches/profile.sh            DEVICES=1000 CERTS=50 RUNS=30
#
# The openssl side is timed twice: with the key as pushca stores it (encrypted
# PKCS#8, PBKDF2-SHA256 600,000 iterations: the same key-derivation work
# pushca does) and with the key decrypted beforehand ("signing alone").
# Uses hyperfine when installed.
set -euo pipefail

DEVICES=${DEVICES:-1000}
CERTS=${CERTS:-50}
RUNS=${RUNS:-30}
PASS=benchmark-pass
APP=com.example.bench

for tool in cargo openssl python3; do
    command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 2; }
done
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
echo "building pushca (release)..." >&2
cargo build --release --quiet
target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target=$repo/$target ;; esac
BIN=$target/release/pushca

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pushca-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
H=(--home "$tmp/home")

"$BIN" "${H[@]}" init --team-name "Bench Corp" --team-id BENCH12345 --ca-passin "pass:$PASS" >/dev/null
"$BIN" "${H[@]}" app create "$APP" --push >/dev/null
echo "registering $DEVICES devices and issuing $CERTS certificates..." >&2
python3 - "$DEVICES" >udids.txt <<'PY'
import secrets, sys
for i in range(int(sys.argv[1])):
    print(secrets.token_hex(20) if i % 2 else "%08X-%016X" % (0x8030, secrets.randbits(64)))
PY
n=0
while read -r udid; do
    n=$((n + 1))
    "$BIN" "${H[@]}" device add "$udid" --name "Device $n" -q
done <udids.txt
mkdir csr
seq 1 "$CERTS" | xargs -P "$(nproc)" -I{} openssl req -new -newkey ec \
    -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj "/CN=bench {}" -out "csr/{}.csr" 2>/dev/null
csr_args=()
for ((i = 1; i <= CERTS; i++)); do csr_args+=(--csr "csr/$i.csr"); done
"$BIN" "${H[@]}" cert issue --app "$APP" --env development "${csr_args[@]}" \
    --out-dir certs --ca-passin "pass:$PASS" -q

PUSHCA_CMD="$BIN --home $tmp/home profile create --app $APP --env development --team-devices --out p.mobileprovision --force --ca-passin pass:$PASS -q"
$PUSHCA_CMD
# Sanity: openssl verifies it, and it lists every device and certificate.
openssl cms -verify -inform DER -in p.mobileprovision -CAfile home/ca/chain.pem -out p.plist 2>/dev/null
python3 - "$DEVICES" "$CERTS" <<'PY'
import plistlib, sys
p = plistlib.load(open("p.plist", "rb"))
assert len(p["ProvisionedDevices"]) == int(sys.argv[1]), len(p["ProvisionedDevices"])
assert len(p["PushCertificates"]) == int(sys.argv[2]), len(p["PushCertificates"])
print(f"profile: {len(p['ProvisionedDevices'])} devices, {len(p['PushCertificates'])} certificates, plist {len(open('p.plist','rb').read())} bytes")
PY
openssl pkey -in home/ca/profile-signer.key -passin "pass:$PASS" -out plain.key
OPENSSL_ENC="openssl cms -sign -nodetach -binary -outform DER -md sha256 -in p.plist -signer home/ca/profile-signer.pem -inkey home/ca/profile-signer.key -passin pass:$PASS -certfile home/ca/issuing.pem -out o.mobileprovision"
OPENSSL_PLAIN="openssl cms -sign -nodetach -binary -outform DER -md sha256 -in p.plist -signer home/ca/profile-signer.pem -inkey plain.key -certfile home/ca/issuing.pem -out o.mobileprovision"

if command -v hyperfine >/dev/null; then
    hyperfine -N --warmup 2 --runs "$RUNS" \
        -n "pushca profile create" "$PUSHCA_CMD" \
        -n "openssl cms -sign, encrypted key" "$OPENSSL_ENC" \
        -n "openssl cms -sign, plain key" "$OPENSSL_PLAIN"
else
    t() {
        local start end
        start=$(date +%s%N)
        for _ in $(seq "$RUNS"); do $1 >/dev/null || { echo "failed: $1" >&2; exit 1; }; done
        end=$(date +%s%N)
        echo $(((end - start) / RUNS / 1000000))
    }
    echo "pushca profile create:            $(t "$PUSHCA_CMD") ms"
    echo "openssl cms -sign, encrypted key: $(t "$OPENSSL_ENC") ms"
    echo "openssl cms -sign, plain key:     $(t "$OPENSSL_PLAIN") ms"
fi
