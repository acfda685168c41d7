#!/usr/bin/env bash
# Issuance benchmark: N push certificates in one `pushca cert issue` call,
# against a per-certificate `openssl x509 -req` loop on the same CSRs and the
# same issuing CA key.
#
#   bash benches/issue.sh [N]          N defaults to 1000
#
# Environment:
#   KEY=ec|rsa          CSR key type: EC P-256 (default; one fresh key per CSR)
#                       or RSA-2048 (one key shared by every CSR, because
#                       generating N RSA keys would take minutes)
#   CA_KEY=ec-p256      key type of the CA (`pushca init --key-type`), e.g. rsa-2048
#   RUNS=3              timed `cert issue` runs (each from the same fresh home)
#   OPENSSL_SAMPLE=200  CSRs the openssl loop is timed on (per-cert rate is
#                       extrapolated); 0 or >= N means all of them
#   CORE=0              CPU to pin both sides to with taskset; "none" to not pin
#                       (pushca then signs on all cores: compare the two)
#   BUNDLE=0            1: `cert issue --out-bundle FILE` (one PEM file of all
#                       the certificates) instead of `--out-dir DIR` (one file each)
#   CARGO_TARGET_DIR    honoured when building and locating the binary
#   TMPDIR              where the scratch home, CSRs and outputs go (default
#                       /tmp); TMPDIR=/dev/shm takes the disk out of the figures
#
# Timings are whole-process wall times: they include process start, CA key
# decryption (PBKDF2), CSR checks, signing, the SQLite commit, the output files
# and the syncfs/fsync that make them durable. The openssl loop does not fsync
# anything.
#
# Both sides create one inode per certificate, so file creation cost weighs on
# both. On an ext4 file system without a journal, every inode allocation skips
# the inodes deleted in the last 1-6 minutes (ext4 recently_deleted()), which
# makes file creation cost ~0.2-0.7 ms of kernel time after heavy deletion
# churn (e.g. test suites using temp dirs) instead of ~0.02 ms; the summary
# prints the file system type so such runs can be recognised.
set -euo pipefail

N=${1:-1000}
KEY=${KEY:-ec}
CA_KEY=${CA_KEY:-ec-p256}
RUNS=${RUNS:-3}
CORE=${CORE:-0}
OPENSSL_SAMPLE=${OPENSSL_SAMPLE:-200}
BUNDLE=${BUNDLE:-0}
PASS=benchmark-pass
APP=com.example.bench

case $N in '' | *[!0-9]* | 0) echo "usage: $0 [N]   (N a positive integer)" >&2; exit 2 ;; esac
case $KEY in ec | rsa) ;; *) echo "KEY must be ec or rsa" >&2; exit 2 ;; esac
case $RUNS in '' | *[!0-9]* | 0) echo "RUNS must be a positive integer" >&2; exit 2 ;; esac
case $OPENSSL_SAMPLE in '' | *[!0-9]*) echo "OPENSSL_SAMPLE must be a number" >&2; exit 2 ;; esac
case $BUNDLE in 0 | 1) ;; *) echo "BUNDLE must be 0 or 1" >&2; exit 2 ;; esac
if [ "$OPENSSL_SAMPLE" -eq 0 ] || [ "$OPENSSL_SAMPLE" -gt "$N" ]; then OPENSSL_SAMPLE=$N; fi

for tool in cargo openssl python3 awk; do
    command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 2; }
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
echo "building pushca (release)..." >&2
cargo build --release --quiet
target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target=$repo/$target ;; esac
BIN=$target/release/pushca
[ -x "$BIN" ] || { echo "no binary at $BIN" >&2; exit 1; }

PIN=()
if [ "$CORE" != none ]; then
    if command -v taskset >/dev/null; then
        PIN=(taskset -c "$CORE")
    else
        echo "warning: taskset not found (util-linux); running unpinned" >&2
        CORE=none
    fi
fi
pinned() { ${PIN[@]+"${PIN[@]}"} "$@"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pushca-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }

# --- CA home ---------------------------------------------------------------
"$BIN" --home base init --team-name "Bench Corp" --team-id BENCH12345 \
    --key-type "$CA_KEY" --ca-passin "pass:$PASS" >/dev/null
"$BIN" --home base app create "$APP" --push >/dev/null

# --- CSRs ------------------------------------------------------------------
mkdir csr
echo "generating $N CSRs ($KEY)..." >&2
t0=$(now)
if [ "$KEY" = ec ]; then
    # One fresh P-256 key per CSR: EC key generation is cheap next to process start.
    seq 1 "$N" | xargs -P "$(nproc)" -I{} openssl req -new -newkey ec \
        -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
        -subj "/CN=bench {}" -out "csr/{}.csr" 2>/dev/null
else
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out req.key 2>/dev/null
    seq 1 "$N" | xargs -P "$(nproc)" -I{} openssl req -new -key req.key \
        -subj "/CN=bench {}" -out "csr/{}.csr"
fi
echo "  $(elapsed "$t0" "$(now)") s" >&2
[ "$(find csr -name '*.csr' | wc -l)" -eq "$N" ] || { echo "CSR generation failed" >&2; exit 1; }

csr_args=()
for ((i = 1; i <= N; i++)); do csr_args+=(--csr "csr/$i.csr"); done

# One timed `cert issue` from a fresh copy of the home. The copy and a `sync`
# happen outside the timing, so the syncfs inside pushca does not pay for
# flushing the copy (or the CSRs) to disk.
issue_run() { # issue_run HOME OUTDIR CSR-ARGS... ; writes "wall user sys" seconds to OUTDIR.time
    local home=$1 out=$2; shift 2
    rm -rf "$home" "$out"
    cp -a base "$home"
    mkdir "$out"
    sync
    local outputs=(--out-dir "$out")
    [ "$BUNDLE" = 1 ] && outputs=(--out-bundle "$out/bundle.pem")
    local TIMEFORMAT='%3R %3U %3S' status=0
    { time pinned "$BIN" --home "$home" cert issue --app "$APP" --env production \
        "$@" "${outputs[@]}" --ca-passin "pass:$PASS" >"$out.log" 2>"$out.err" || status=$?; } 2>"$out.time"
    if [ "$status" -ne 0 ]; then
        echo "FAIL: pushca cert issue exited with $status:" >&2
        cat "$out.err" >&2
        exit 1
    fi
}

# --- pushca ----------------------------------------------------------------
mode="--out-dir"
[ "$BUNDLE" = 1 ] && mode="--out-bundle"
echo "timing pushca cert issue $mode ($RUNS runs of $N, core ${CORE}, $(pinned nproc) CPU(s) usable)..." >&2
times=()
for ((r = 1; r <= RUNS; r++)); do
    issue_run "H$r" "out$r" "${csr_args[@]}"
    read -r t u sy <"out$r.time"
    times+=("$t")
    echo "  run $r: $t s wall ($(rate "$N" "$t") certs/s), CPU $u s user + $sy s kernel" >&2
done
sorted=$(printf '%s\n' "${times[@]}" | sort -g)
best=$(head -n1 <<<"$sorted")
median=$(sed -n "$(((RUNS + 1) / 2))p" <<<"$sorted")

# Fixed cost: one CSR (process start, store open, PBKDF2, commit, fsyncs).
issue_run H1csr out1csr --csr csr/1.csr
read -r one _ _ <out1csr.time

# --- correctness -----------------------------------------------------------
H=H1
if [ "$BUNDLE" = 1 ]; then
    # The bundle holds the certificates in --csr order: split it into the
    # files --out-dir would have written, and check those.
    [ -s out1/bundle.pem ] || { echo "FAIL: no bundle written" >&2; exit 1; }
    awk -v dir=out1 '/-----BEGIN CERTIFICATE-----/ { n++; f = dir "/" n ".pem" }
        { print > f } /-----END CERTIFICATE-----/ { close(f) }' out1/bundle.pem
    rm out1/bundle.pem
fi
n_out=$(find out1 -name '*.pem' | wc -l)
[ "$n_out" -eq "$N" ] || { echo "FAIL: $n_out certificates in out1, expected $N" >&2; exit 1; }
if [ -n "$(find out1 -name '.pushca-tmp-*' -print -quit)" ]; then
    echo "FAIL: temporary files left in out1" >&2; exit 1
fi
openssl verify -purpose sslclient -CAfile "$H/ca/root.pem" -untrusted "$H/ca/issuing.pem" \
    out1/1.pem "out1/$N.pem" >/dev/null \
    || { echo "FAIL: openssl verify of out1/1.pem, out1/$N.pem" >&2; exit 1; }
listed=$("$BIN" --home "$H" cert list --json \
    | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["certificates"]))')
[ "$listed" -eq "$N" ] || { echo "FAIL: cert list shows $listed certificates, expected $N" >&2; exit 1; }
# Every certificate holds the public key of its own CSR.
python3 - "$N" <<'EOF' || { echo "FAIL: key mismatch" >&2; exit 1; }
import subprocess, sys
n = int(sys.argv[1])
for i in sorted({1, n // 2 or 1, n}):
    k = lambda args: subprocess.run(["openssl"] + args, capture_output=True, check=True).stdout
    a = k(["req", "-in", f"csr/{i}.csr", "-noout", "-pubkey"])
    b = k(["x509", "-in", f"out1/{i}.pem", "-noout", "-pubkey"])
    if a != b:
        sys.exit(f"out1/{i}.pem does not carry the key of csr/{i}.csr")
EOF

# --- openssl loop ----------------------------------------------------------
# Same CA certificate and key; the key is decrypted once up front so that
# openssl does not pay PBKDF2 per certificate. Extensions and subject match
# what pushca puts in a production push certificate.
openssl pkey -in "$H/ca/issuing.key" -passin "pass:$PASS" -out ca.key
cat >ext.cnf <<EOF
[push]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
1.2.840.113635.100.6.3.2 = DER:0500
1.2.840.113635.100.6.3.6 = ASN1:SEQUENCE:topics

[topics]
t1 = UTF8:$APP
s1 = SEQUENCE:type_app
t2 = UTF8:$APP.voip
s2 = SEQUENCE:type_voip
t3 = UTF8:$APP.complication
s3 = SEQUENCE:type_complication

[type_app]
t = UTF8:app
[type_voip]
t = UTF8:voip
[type_complication]
t = UTF8:complication
EOF
python3 -c 'import secrets, sys; print("\n".join("0x" + secrets.token_hex(16) for _ in range(int(sys.argv[1]))))' \
    "$OPENSSL_SAMPLE" >serials
subj="/UID=$APP/CN=Apple Push Services: $APP/OU=BENCH12345/O=Bench Corp/C=US"
mkdir out_openssl
cat >loop.sh <<'EOF'
set -euo pipefail
i=0
while read -r serial; do
    i=$((i + 1))
    openssl x509 -req -in "csr/$i.csr" -CA "$CA" -CAkey ca.key -set_serial "$serial" \
        -subj "$SUBJ" -days 395 -sha256 -extfile ext.cnf -extensions push \
        -out "out_openssl/$i.pem" 2>/dev/null
done <serials
EOF
sync
echo "timing openssl x509 -req loop ($OPENSSL_SAMPLE of $N CSRs, core ${CORE})..." >&2
a=$(now)
CA="$H/ca/issuing.pem" SUBJ="$subj" pinned bash loop.sh
b=$(now)
t_ossl=$(elapsed "$a" "$b")
[ "$(find out_openssl -name '*.pem' | wc -l)" -eq "$OPENSSL_SAMPLE" ] \
    || { echo "FAIL: openssl loop output" >&2; exit 1; }
openssl verify -purpose sslclient -CAfile "$H/ca/root.pem" -untrusted "$H/ca/issuing.pem" \
    out_openssl/1.pem >/dev/null || { echo "FAIL: openssl verify of the openssl loop's certificate" >&2; exit 1; }

# --- summary ---------------------------------------------------------------
r_best=$(rate "$N" "$best")
r_median=$(rate "$N" "$median")
r_ossl=$(awk -v n="$OPENSSL_SAMPLE" -v t="$t_ossl" 'BEGIN { printf "%.1f", n / t }')
core_txt="one core"
[ "$CORE" = none ] && core_txt="unpinned, $(nproc) cores"
echo
echo "machine: $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo); $(openssl version | cut -d' ' -f1-2); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "scratch dir: $tmp on $(df -PT "$tmp" | awk 'NR == 2 { print $2 }') ($(df -P "$tmp" | awk 'NR == 2 { print $1 }'))"
echo "CA key $CA_KEY, CSR keys $KEY, pinned to core $CORE, output $mode; times: ${times[*]} s (runs: $(for t in "${times[@]}"; do printf '%s ' "$(rate "$N" "$t")"; done)certs/s)"
echo "pushca cert issue: $N certificates in $median s (median of $RUNS; best $best s) = $r_median certs/s (best $r_best) ($core_txt, store commit included)"
echo "pushca cert issue, 1 certificate (fixed cost): $one s"
awk -v n="$N" -v t="$median" -v f="$one" 'BEGIN {
    if (n > 1) printf "pushca marginal cost: %.3f ms/certificate\n", (t - f) * 1000 / (n - 1) }'
if [ "$OPENSSL_SAMPLE" -lt "$N" ]; then
    echo "openssl x509 -req loop: $OPENSSL_SAMPLE certificates in $t_ossl s = $r_ossl certs/s (timed on the first $OPENSSL_SAMPLE CSRs, extrapolated: $N would take $(awk -v n="$N" -v r="$r_ossl" 'BEGIN { printf "%.1f", n / r }') s)"
else
    echo "openssl x509 -req loop: $OPENSSL_SAMPLE certificates in $t_ossl s = $r_ossl certs/s"
fi
awk -v p="$N" -v tp="$median" -v o="$OPENSSL_SAMPLE" -v to="$t_ossl" \
    'BEGIN { printf "ratio: %.0fx (median pushca rate / openssl loop rate)\n", (p / tp) / (o / to) }'
checked_what="files"
[ "$BUNDLE" = 1 ] && checked_what="certificates in the bundle, in --csr order"
echo "checks: $n_out $checked_what, openssl verify ok, cert list --json lists $listed, public keys match"
