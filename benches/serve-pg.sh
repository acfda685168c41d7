#!/usr/bin/env bash
# `pushca serve --store postgres://…` throughput: calls per second of
# `GET /v1/certs` and of `POST /v1/certs/issue` (one CSR per call) through one
# replica, C concurrent clients (keep-alive HTTPS connections), S seconds
# each, against a throwaway PostgreSQL cluster reached over TCP with TLS
# (`sslmode=require`) and SCRAM password authentication, as a team runs it.
#
#   bash benches/serve-pg.sh [PUSHCA_BINARY ...]
#
# With no argument the release build of this tree; with several binaries
# (e.g. the build before and after a change), each is measured on its own
# fresh database, interleaved ROUNDS times (A B A B ...).
#
# Environment: C=8 clients, S=10 seconds per call kind, ROUNDS=2;
# DB=tls (default: TCP, TLS, SCRAM) or DB=local (the cluster's unix socket,
# no TLS, no password: the cheapest connection there is).
set -euo pipefail

C=${C:-8}
S=${S:-10}
ROUNDS=${ROUNDS:-2}
DB=${DB:-tls}
case $DB in tls | local) ;; *) echo "DB must be tls or local" >&2; exit 2 ;; esac
PASS=benchmark-pass
APP=com.example.bench

for tool in openssl python3 awk; do
    command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 2; }
done
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "PostgreSQL server binaries are required (apt-get install postgresql)" >&2; exit 2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ $# -eq 0 ]; then
    (cd "$repo" && cargo build --release --quiet)
    set -- "${CARGO_TARGET_DIR:-$repo/target}/release/pushca"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pushca-serve-pg.XXXXXX")
chmod 755 "$work"  # the cluster runs as postgres when this runs as root
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# The cluster: TCP on 127.0.0.1, TLS, SCRAM.
mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres: "$work/pg"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "$PASS" > "$work/pgpass" && chmod 644 "$work/pgpass"
as_pg "$pgbin/initdb" -D "$work/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 --pwfile="$work/pgpass" \
    -E UTF8 --no-sync >/dev/null
as_pg sh -c "cd '$work/pg' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout data/server.key -out data/server.crt -days 2 -subj /CN=localhost 2>/dev/null && chmod 600 data/server.key"
as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w -o \
    "-p $port -k $work/pg -c listen_addresses=127.0.0.1 -c ssl=on -c fsync=off -c max_connections=200" \
    start >/dev/null
if [ "$DB" = tls ]; then
    base="postgres://postgres:$PASS@127.0.0.1:$port"; query="?sslmode=require"
else
    base="postgres://postgres@$(printf %s "$work/pg" | sed 's|/|%2F|g'):$port"; query="?sslmode=disable"
fi

# The load: C threads, each with its own keep-alive HTTPS connection.
cat > "$work/load.py" <<'EOF'
import http.client, json, ssl, sys, threading, time
port, chain, token, method, path, body_file, clients, secs = sys.argv[1:9]
body = open(body_file, "rb").read() if body_file != "-" else None
ctx = ssl.create_default_context(cafile=chain)
ok = [0] * int(clients); bad = [0] * int(clients)
deadline = time.monotonic() + float(secs)
def run(i):
    conn = None
    while time.monotonic() < deadline:
        if conn is None:
            conn = http.client.HTTPSConnection("localhost", int(port), context=ctx, timeout=60)
        try:
            conn.request(method, path, body=body, headers={
                "Authorization": "Bearer " + token, "Content-Type": "application/json"})
            r = conn.getresponse(); r.read()
            if r.status == 200: ok[i] += 1
            else: bad[i] += 1
        except (OSError, http.client.HTTPException):
            bad[i] += 1; conn.close(); conn = None
t = [threading.Thread(target=run, args=(i,)) for i in range(int(clients))]
start = time.monotonic()
for x in t: x.start()
for x in t: x.join()
el = time.monotonic() - start
print("%.1f %d %d" % (sum(ok) / el, sum(ok), sum(bad)))
EOF

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj "/CN=bench" -out "$work/one.csr" 2>/dev/null
python3 - "$work/one.csr" "$APP" > "$work/issue.json" <<'EOF'
import json, sys
print(json.dumps({"bundle_id": sys.argv[2], "environment": "production",
                  "csrs": [open(sys.argv[1]).read()]}))
EOF

n=0
measure() {
    local bin=$1 db url dir tok port_s line
    n=$((n + 1)); db="b$n"; dir="$work/r$n"
    PGPASSWORD=$PASS "$pgbin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
        -c "CREATE DATABASE $db" >/dev/null
    url="$base/$db$query"
    mkdir -p "$dir"
    export PUSHCA_STORE=$url PUSHCA_CA_PASSPHRASE=$PASS
    "$bin" --home "$dir/home" -q init --team-name Bench
    "$bin" --home "$dir/home" -q app create "$APP" --push
    "$bin" --home "$dir/home" -q server-cert --dns localhost --ip 127.0.0.1 \
        --out-dir "$dir/tls" --noenc --key-type ec-p256
    tok=$("$bin" --home "$dir/home" --json token create --scope 'issue:*' --scope read \
        --expires-in 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
    "$bin" --home "$dir/home" serve --listen 127.0.0.1:0 \
        --tls-cert "$dir/tls/server-localhost-fullchain.pem" \
        --tls-key "$dir/tls/server-localhost.key" > /dev/null 2> "$dir/serve.err" &
    pids+=($!)
    for _ in $(seq 100); do grep -q listening "$dir/serve.err" && break; sleep 0.1; done
    port_s=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$dir/serve.err" | head -1)
    chain="$dir/tls/server-localhost-chain.pem"
    # A few certificates to list.
    for _ in 1 2 3 4 5; do
        python3 "$work/load.py" "$port_s" "$chain" "$tok" POST /v1/certs/issue "$work/issue.json" 1 0.01 >/dev/null
    done
    get=$(python3 "$work/load.py" "$port_s" "$chain" "$tok" GET "/v1/certs?app=$APP" - "$C" "$S")
    post=$(python3 "$work/load.py" "$port_s" "$chain" "$tok" POST /v1/certs/issue "$work/issue.json" "$C" "$S")
    conns=$(PGPASSWORD=$PASS "$pgbin/psql" -tA -h 127.0.0.1 -p "$port" -U postgres -d postgres \
        -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db'")
    kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
    unset PUSHCA_STORE PUSHCA_CA_PASSPHRASE
    printf '%-40s GET /v1/certs %8s calls/s (ok %s, failed %s)   POST /v1/certs/issue %8s calls/s (ok %s, failed %s)   connections open at the end: %s\n' \
        "$bin" $get $post "$conns"
}

echo "serve on PostgreSQL ($DB: $base); $C clients, ${S} s per call kind" | sed "s/:$PASS@/:****@/" >&2
for _ in $(seq "$ROUNDS"); do
    for bin in "$@"; do measure "$bin"; done
done
