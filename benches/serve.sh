#!/usr/bin/env bash
# Certificates per second through `pushca serve` (1 and 2 replicas on one
# store), 8 concurrent CI runners in client mode (`pushca --server URL ...
# cert issue`, empty directories, no home), CSR batches of 1 and of 100,
# against local `pushca cert issue` on the home (SQLite) with the same 8
# runners and the same batches, on the same machine in the same run (README
# "Performance", "pushca serve"). Not part of CI: about 2-4 minutes.
#
#   benches/serve.sh
#   RUNS=3 CALLS1=20 CALLS100=5 benches/serve.sh   # the defaults
#   KEEP=DIR benches/serve.sh          # keep the homes, CSRs, outputs and logs in DIR
#   CARGO="flock /tmp/cargo.lock cargo" benches/serve.sh
#
# Each runner (a shell loop, all 8 at once) makes CALLS1 calls of 1 CSR, or
# CALLS100 calls of 100 CSRs, each a new `pushca` process writing its
# certificates with `--out-dir` on the runner; the wall time is from the
# first runner's start to the last one's end. Every measured run starts from
# a fresh copy of the same home (the copy, `sync`, the services' start and
# their one CA key unlock are outside the timing; a local `cert issue`
# unlocks the CA key, 600,000 PBKDF2 iterations, in each process: that is
# what a runner holding the home pays). The CSRs (P-256, one key each) are
# made beforehand with openssl. Figures: the median of RUNS runs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

RUNS=${RUNS:-3}
RUNNERS=8
CALLS1=${CALLS1:-20}
CALLS100=${CALLS100:-5}
CARGO=${CARGO:-cargo}
PASS=bench-serve-pass
APP=com.example.bench

for v in RUNS CALLS1 CALLS100; do
  case ${!v} in '' | *[!0-9]* | 0) echo "serve: $v must be a positive integer" >&2; exit 2 ;; esac
done
for tool in openssl python3 curl; do
  command -v "$tool" >/dev/null || { echo "serve: $tool is required" >&2; exit 2; }
done

if [ -n "${KEEP:-}" ]; then
  work=$KEEP
  rm -rf "$work"
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/pushca-serve-bench.XXXXXX")
fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

echo "building pushca (release)..." >&2
$CARGO build --release --quiet
BIN=${CARGO_TARGET_DIR:-$root/target}/release/pushca
[ -x "$BIN" ] || { echo "serve: no binary at $BIN" >&2; exit 1; }
cd "$work"

# --- the CA home, the service's certificate, a token -------------------------
pc() { PUSHCA_HOME=$work/base PUSHCA_CA_PASSPHRASE=$PASS "$BIN" -q "$@" </dev/null; }
pc init --team-name "Bench Corp" --team-id BENCH12345 --country DE --key-type ec-p256
pc app create "$APP" --push
pc server-cert --dns localhost --ip 127.0.0.1 --out-dir tls --noenc --key-type ec-p256
TOKEN=$(pc --json token create --scope "issue:$APP" --expires-in 1 --name bench \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
CHAIN=$work/tls/server-localhost-chain.pem

# --- the CSRs: RUNNERS x (100 x CALLS100) -------------------------------------
PER=$((100 * CALLS100))
[ "$CALLS1" -le "$PER" ] || PER=$CALLS1
echo "making $((RUNNERS * PER)) CSRs (openssl, P-256)..." >&2
for r in $(seq 1 $RUNNERS); do
  mkdir -p "runner$r/csr"
  printf '%s\n' "$TOKEN" >"runner$r/token"
  cp "$CHAIN" "runner$r/service-ca.pem"
done
for r in $(seq 1 $RUNNERS); do for i in $(seq 1 "$PER"); do echo "$r $i"; done; done \
  | xargs -P "$(nproc)" -n 2 sh -c 'openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
      -nodes -keyout /dev/null -subj "/CN=runner $0 csr $1" -out "runner$0/csr/$1.csr" 2>/dev/null'
[ "$(find . -name '*.csr' | wc -l)" -eq $((RUNNERS * PER)) ] || { echo "serve: CSR generation failed" >&2; exit 1; }

now() { date +%s.%N; }

# --- services -----------------------------------------------------------------
# start_replicas HOME N: sets URLS (one per replica)
URLS=()
SERVE_PIDS=()
start_replicas() {
  local home=$1 n=$2 k log url
  URLS=()
  SERVE_PIDS=()
  for k in $(seq 1 "$n"); do
    log=$work/serve-$k.log
    : >"$log"
    PUSHCA_CA_PASSPHRASE=$PASS "$BIN" --home "$home" serve --listen 127.0.0.1:0 \
      --tls-cert "$work/tls/server-localhost-fullchain.pem" --tls-key "$work/tls/server-localhost.key" \
      </dev/null >"$log.out" 2>"$log" &
    SERVE_PIDS+=($!)
    pids+=($!)
    url=""
    for _ in $(seq 1 300); do
      url=$(sed -n 's|.*listening on https://127.0.0.1:\([0-9]*\).*|https://localhost:\1|p' "$log" | head -1)
      [ -n "$url" ] && break
      kill -0 "${SERVE_PIDS[-1]}" 2>/dev/null || { cat "$log" >&2; echo "serve: the service did not start" >&2; exit 1; }
      sleep 0.1
    done
    [ -n "$url" ] || { echo "serve: the service did not listen within 30 s" >&2; exit 1; }
    curl -sS --fail --cacert "$CHAIN" "$url/healthz" >/dev/null
    URLS+=("$url")
  done
}
stop_replicas() {
  local p
  for p in "${SERVE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${SERVE_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  SERVE_PIDS=()
}

# --- one measured run ---------------------------------------------------------
# run_phase MODE REPLICAS BATCH CALLS: sets PHASE_T, the wall time in seconds.
# MODE: service (through REPLICAS replicas) or local (cert issue on the home).
run_phase() {
  local mode=$1 n=$2 batch=$3 calls=$4 home=$work/home r
  rm -rf "$home" runner*/out runner*/err.log
  cp -a base "$home"
  sync
  [ "$mode" = service ] && start_replicas "$home" "$n"
  local t0 t1 fail=0
  t0=$(now)
  local rp=()
  for r in $(seq 1 $RUNNERS); do
    (
      cd "runner$r"
      for c in $(seq 0 $((calls - 1))); do
        args=()
        for i in $(seq $((c * batch + 1)) $((c * batch + batch))); do args+=(--csr "csr/$i.csr"); done
        if [ "$mode" = service ]; then
          url=${URLS[$(((r + c) % n))]}
          env -i HOME="$PWD" "$BIN" -q --server "$url" --server-ca service-ca.pem --token-file token \
            cert issue --app "$APP" --env production "${args[@]}" --out-dir "out/$c" </dev/null 2>>err.log
        else
          env -i HOME="$PWD" PUSHCA_CA_PASSPHRASE=$PASS "$BIN" -q --home "$home" \
            cert issue --app "$APP" --env production "${args[@]}" --out-dir "out/$c" </dev/null 2>>err.log
        fi
      done
    ) &
    rp+=($!)
  done
  for p in "${rp[@]}"; do wait "$p" || fail=1; done
  t1=$(now)
  [ "$mode" = service ] && stop_replicas
  if [ "$fail" = 1 ]; then cat runner*/err.log >&2; echo "serve: a runner failed ($mode, $n, batch $batch)" >&2; exit 1; fi
  # Checks: every certificate written, two verify, the store lists them all.
  local want=$((RUNNERS * calls * batch)) got listed
  got=$(find runner*/out -name '*.pem' | wc -l)
  [ "$got" -eq "$want" ] || { echo "serve: $got certificates written, expected $want" >&2; exit 1; }
  openssl verify -purpose sslclient -CAfile "$home/ca/root.pem" -untrusted "$home/ca/issuing.pem" \
    runner1/out/0/1.pem "runner$RUNNERS/out/$((calls - 1))/$((calls * batch)).pem" >/dev/null \
    || { echo "serve: openssl verify failed" >&2; exit 1; }
  listed=$("$BIN" --home "$home" --json cert list </dev/null \
    | python3 -c 'import json, sys; print(sum(1 for c in json.load(sys.stdin)["certificates"] if c.get("kind", "push") == "push"))')
  [ "$listed" -eq "$want" ] || { echo "serve: cert list shows $listed push certificates, expected $want" >&2; exit 1; }
  PHASE_T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}

median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }
# The six configurations, interleaved: each run measures all of them one
# after the other, so that a change in the machine's load weighs on all.
LABELS=("local, batch 1" "serve x1, batch 1" "serve x2, batch 1"
  "local, batch 100" "serve x1, batch 100" "serve x2, batch 100")
CONFIGS=("local 1 1 $CALLS1" "service 1 1 $CALLS1" "service 2 1 $CALLS1"
  "local 1 100 $CALLS100" "service 1 100 $CALLS100" "service 2 100 $CALLS100")
declare -A TIMES RATE

echo "machine: $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo); $(uname -sr); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "scratch dir: $work on $(df -PT "$work" | awk 'NR == 2 { print $2 }')"
echo "$RUNNERS concurrent runners; batch 1: $CALLS1 calls each; batch 100: $CALLS100 calls each; every call a new pushca process with --out-dir"
# A warm-up (page cache, first TLS handshakes): one small service run, not reported.
run_phase service 1 1 2
for k in $(seq 1 "$RUNS"); do
  for j in "${!CONFIGS[@]}"; do
    # shellcheck disable=SC2086
    run_phase ${CONFIGS[$j]}
    TIMES[$j]="${TIMES[$j]:-}$PHASE_T "
  done
  echo "run $k of $RUNS done (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done
for j in "${!CONFIGS[@]}"; do
  read -r _ _ batch calls <<<"${CONFIGS[$j]}"
  certs=$((RUNNERS * batch * calls))
  # shellcheck disable=SC2086
  m=$(median ${TIMES[$j]})
  RATE[${LABELS[$j]}]=$(awk -v n="$certs" -v t="$m" 'BEGIN { printf "%.1f", n / t }')
  printf '%-20s %5d certs in %7.3f s (median of %d: %s) = %8.1f certs/s; %7.1f ms per call\n' \
    "${LABELS[$j]}" "$certs" "$m" "$RUNS" "${TIMES[$j]% }" "${RATE[${LABELS[$j]}]}" \
    "$(awk -v t="$m" -v c="$calls" 'BEGIN { printf "%.1f", t * 1000 / c }')"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in 1 2; do
  awk -v l="${RATE[local, batch 100]}" -v s="${RATE[serve x$n, batch 100]}" -v n="$n" \
    'BEGIN { printf "ratio service batch of 100 / local batch of 100 (cost per certificate = local rate / service rate), %d replica%s: %.2fx (goal <= 1.5x)", n, (n > 1 ? "s" : ""), l / s }'
  # The same ratio within each run (the two measured one after the other).
  awk -v l="${TIMES[3]}" -v s="${TIMES[$((3 + n))]}" \
    'BEGIN { k = split(l, a, " "); split(s, b, " "); printf "; per run:"; for (i = 1; i <= k; i++) printf " %.2f", b[i] / a[i]; print "" }'
done
for n in 1 2; do
  awk -v l="${RATE[local, batch 1]}" -v s="${RATE[serve x$n, batch 1]}" -v n="$n" \
    'BEGIN { printf "ratio service batch of 1 / local batch of 1, %d replica%s: %.2fx\n", n, (n > 1 ? "s" : ""), l / s }'
done
