#!/usr/bin/env bash
# Certificates per second through `pushca serve` (1 and 2 replicas on one
# store: the home's SQLite file, and a PostgreSQL database), 8 concurrent CI
# runners in client mode (`pushca --server URL ... cert issue`, empty
# directories, no home), CSR batches of 1 and of 100, against local `pushca
# cert issue` on the home (SQLite) with the same 8 runners and the same
# batches, on the same machine in the same run (README "Performance",
# "pushca serve"). Not part of CI: about 3-5 minutes.
#
#   benches/serve.sh
#   RUNS=3 CALLS1=20 CALLS100=5 PG=1 benches/serve.sh   # the defaults
#   PG=0 benches/serve.sh              # SQLite only (no PostgreSQL rows)
#   PGBIN=/usr/lib/postgresql/15/bin benches/serve.sh   # the server binaries (default)
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
#
# PostgreSQL (unless PG=0): the script starts a throwaway cluster (initdb in
# a temporary directory, as the `postgres` user when run as root, a free
# port, its unix socket in that directory, the server's default durability:
# fsync and synchronous_commit on, as the SQLite store's synchronous=FULL),
# stopped and removed on exit. Each measured PostgreSQL run copies the home
# into a new database (`pushca store migrate --to URL`, then a CHECKPOINT;
# outside the timing) and starts the replicas with `--store URL` and no home.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

RUNS=${RUNS:-3}
RUNNERS=8
CALLS1=${CALLS1:-20}
CALLS100=${CALLS100:-5}
PG=${PG:-1}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
CARGO=${CARGO:-cargo}
PASS=bench-serve-pass
APP=com.example.bench

for v in RUNS CALLS1 CALLS100; do
  case ${!v} in '' | *[!0-9]* | 0) echo "serve: $v must be a positive integer" >&2; exit 2 ;; esac
done
case $PG in 0 | 1) ;; *) echo "serve: PG must be 0 or 1" >&2; exit 2 ;; esac
if [ "$PG" = 1 ]; then
  for tool in initdb pg_ctl createdb dropdb psql; do
    [ -x "$PGBIN/$tool" ] || { echo "serve: no $PGBIN/$tool (PostgreSQL's server binaries; PG=0 skips PostgreSQL)" >&2; exit 2; }
  done
  if [ "$(id -u)" = 0 ]; then
    id -u postgres >/dev/null 2>&1 || { echo "serve: running as root and there is no postgres user to own the cluster" >&2; exit 2; }
  fi
fi
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
pgdir=""
pg_started=0
# A PostgreSQL server command, as the cluster's owner (initdb refuses root).
as_pg() {
  # from / : the postgres user may not enter the scratch directory
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$pg_started" = 1 ]; then
    as_pg "$PGBIN/pg_ctl" -D "$pgdir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  [ -z "$pgdir" ] || rm -rf "$pgdir"
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

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

# --- the throwaway PostgreSQL cluster ----------------------------------------
PGPORT=""
PGDBN=0
if [ "$PG" = 1 ]; then
  echo "starting a throwaway PostgreSQL cluster ($PGBIN)..." >&2
  pgdir=$(mktemp -d "${TMPDIR:-/tmp}/pushca-serve-pg.XXXXXX")
  [ "$(id -u)" = 0 ] && chown postgres: "$pgdir"
  as_pg "$PGBIN/initdb" -D "$pgdir/data" -U postgres -A trust -E UTF8 --no-sync >"$pgdir/initdb.log" 2>&1 \
    || { cat "$pgdir/initdb.log" >&2; echo "serve: initdb failed" >&2; exit 1; }
  PGPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  pg_started=1
  as_pg "$PGBIN/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w -t 60 \
    -o "-p $PGPORT -k $pgdir -c listen_addresses= -c max_connections=200" start >/dev/null \
    || { cat "$pgdir/log" >&2; echo "serve: pg_ctl start failed" >&2; exit 1; }
fi
pgc() { "$PGBIN/$1" -h "$pgdir" -p "$PGPORT" -U postgres "${@:2}" </dev/null; }
# new_database: a new database holding a copy of the base home; sets PGURL.
PGURL=""
new_database() {
  PGDBN=$((PGDBN + 1))
  local db=bench_$PGDBN
  pgc createdb "$db"
  PGURL="postgres://postgres@$(printf '%s' "$pgdir" | sed 's|/|%2F|g'):$PGPORT/$db"
  PUSHCA_CA_PASSPHRASE=$PASS "$BIN" -q --home "$work/base" store migrate --to "$PGURL" </dev/null >/dev/null
  pgc psql -q -d "$db" -c CHECKPOINT >/dev/null
}
drop_database() {
  pgc dropdb "bench_$PGDBN"
  PGURL=""
}

# --- services -----------------------------------------------------------------
# start_replicas N STORE_ARGS...: sets URLS (one per replica). STORE_ARGS:
# `--home HOME` (its SQLite file) or `--store URL` (PostgreSQL, no home).
URLS=()
SERVE_PIDS=()
start_replicas() {
  local n=$1 k log url
  shift
  URLS=()
  SERVE_PIDS=()
  for k in $(seq 1 "$n"); do
    log=$work/serve-$k.log
    : >"$log"
    PUSHCA_CA_PASSPHRASE=$PASS "$BIN" "$@" serve --listen 127.0.0.1:0 \
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
# run_phase MODE REPLICAS BATCH CALLS STORE: sets PHASE_T, the wall time in
# seconds. MODE: service (through REPLICAS replicas) or local (cert issue on
# the home). STORE: sqlite (a fresh copy of the home) or pg (a new database
# holding a copy of it; service only).
run_phase() {
  local mode=$1 n=$2 batch=$3 calls=$4 store=$5 home=$work/home r
  local sargs=()
  rm -rf "$home" runner*/out runner*/err.log
  if [ "$store" = pg ]; then
    new_database
    sargs=(--store "$PGURL")
  else
    cp -a base "$home"
    sync
    sargs=(--home "$home")
  fi
  [ "$mode" = service ] && start_replicas "$n" "${sargs[@]}"
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
  if [ "$fail" = 1 ]; then cat runner*/err.log >&2; echo "serve: a runner failed ($mode, $n, batch $batch, $store)" >&2; exit 1; fi
  # Checks: every certificate written, two verify, the store lists them all.
  local want=$((RUNNERS * calls * batch)) got listed
  got=$(find runner*/out -name '*.pem' | wc -l)
  [ "$got" -eq "$want" ] || { echo "serve: $got certificates written, expected $want" >&2; exit 1; }
  openssl verify -purpose sslclient -CAfile "$work/base/ca/root.pem" -untrusted "$work/base/ca/issuing.pem" \
    runner1/out/0/1.pem "runner$RUNNERS/out/$((calls - 1))/$((calls * batch)).pem" >/dev/null \
    || { echo "serve: openssl verify failed" >&2; exit 1; }
  listed=$("$BIN" "${sargs[@]}" --json cert list </dev/null \
    | python3 -c 'import json, sys; print(sum(1 for c in json.load(sys.stdin)["certificates"] if c.get("kind", "push") == "push"))')
  [ "$listed" -eq "$want" ] || { echo "serve: cert list shows $listed push certificates, expected $want" >&2; exit 1; }
  [ "$store" = pg ] && drop_database
  PHASE_T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}

median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }
# The configurations, interleaved: each run measures all of them one after
# the other, so that a change in the machine's load weighs on all. The
# local runs are on the home (SQLite); the services on the home's SQLite
# file (sqlite) or on PostgreSQL (pg).
LABELS=("local, batch 1" "serve x1, batch 1" "serve x2, batch 1"
  "local, batch 100" "serve x1, batch 100" "serve x2, batch 100")
CONFIGS=("local 1 1 $CALLS1 sqlite" "service 1 1 $CALLS1 sqlite" "service 2 1 $CALLS1 sqlite"
  "local 1 100 $CALLS100 sqlite" "service 1 100 $CALLS100 sqlite" "service 2 100 $CALLS100 sqlite")
if [ "$PG" = 1 ]; then
  LABELS+=("serve x1 pg, batch 1" "serve x2 pg, batch 1" "serve x1 pg, batch 100" "serve x2 pg, batch 100")
  CONFIGS+=("service 1 1 $CALLS1 pg" "service 2 1 $CALLS1 pg" "service 1 100 $CALLS100 pg" "service 2 100 $CALLS100 pg")
fi
declare -A TIMES RATE IDX
for j in "${!LABELS[@]}"; do IDX[${LABELS[$j]}]=$j; done

echo "machine: $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo); $(uname -sr); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "scratch dir: $work on $(df -PT "$work" | awk 'NR == 2 { print $2 }')"
[ "$PG" = 0 ] || echo "PostgreSQL: $("$PGBIN/postgres" --version), cluster in $pgdir on $(df -PT "$pgdir" | awk 'NR == 2 { print $2 }'), unix socket, fsync on"
echo "$RUNNERS concurrent runners; batch 1: $CALLS1 calls each; batch 100: $CALLS100 calls each; every call a new pushca process with --out-dir"
# A warm-up (page cache, first TLS handshakes): one small service run per
# store, not reported.
run_phase service 1 1 2 sqlite
[ "$PG" = 0 ] || run_phase service 1 1 2 pg
for k in $(seq 1 "$RUNS"); do
  for j in "${!CONFIGS[@]}"; do
    # shellcheck disable=SC2086
    run_phase ${CONFIGS[$j]}
    TIMES[$j]="${TIMES[$j]:-}$PHASE_T "
  done
  echo "run $k of $RUNS done (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done
for j in "${!CONFIGS[@]}"; do
  read -r _ _ batch calls _ <<<"${CONFIGS[$j]}"
  certs=$((RUNNERS * batch * calls))
  # shellcheck disable=SC2086
  m=$(median ${TIMES[$j]})
  RATE[${LABELS[$j]}]=$(awk -v n="$certs" -v t="$m" 'BEGIN { printf "%.1f", n / t }')
  printf '%-23s %5d certs in %7.3f s (median of %d: %s) = %8.1f certs/s; %7.1f ms per call\n' \
    "${LABELS[$j]}" "$certs" "$m" "$RUNS" "${TIMES[$j]% }" "${RATE[${LABELS[$j]}]}" \
    "$(awk -v t="$m" -v c="$calls" 'BEGIN { printf "%.1f", t * 1000 / c }')"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# ratio BATCH SERVICE_LABEL_PREFIX STORE_NAME N
ratio() {
  local batch=$1 pre=$2 name=$3 n=$4 l s
  l="local, batch $batch"
  s="$pre, batch $batch"
  awk -v l="${RATE[$l]}" -v s="${RATE[$s]}" -v n="$n" -v b="$batch" -v name="$name" \
    'BEGIN { printf "ratio service (%s) batch of %d / local batch of %d (cost per certificate = local rate / service rate), %d replica%s: %.2fx%s", name, b, b, n, (n > 1 ? "s" : ""), l / s, (b == 100 ? " (goal <= 1.5x)" : "") }'
  # The same ratio within each run (the two measured in the same run).
  awk -v l="${TIMES[${IDX[$l]}]}" -v s="${TIMES[${IDX[$s]}]}" \
    'BEGIN { k = split(l, a, " "); split(s, b, " "); printf "; per run:"; for (i = 1; i <= k; i++) printf " %.2f", b[i] / a[i]; print "" }'
}
for batch in 100 1; do
  for n in 1 2; do
    ratio "$batch" "serve x$n" SQLite "$n"
    [ "$PG" = 0 ] || ratio "$batch" "serve x$n pg" PostgreSQL "$n"
  done
done
