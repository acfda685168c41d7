#!/usr/bin/env bash
# pushca-gateway under load, against nginx with mutual TLS answering `return 200`
# over HTTP/2, on the same machine, with the same load client (pushca-load) and
# the same N connections x M streams, in one run (README "Performance",
# "pushca-gateway"). Not part of CI: it takes a few minutes.
#
#   benches/gateway-load.sh                      # build release, run everything
#   CONNS=4 STREAMS=50 SECS=10 benches/gateway-load.sh
#   SKIP_BIG=1 benches/gateway-load.sh           # without the 10,000-app reload
#   KEEP=DIR benches/gateway-load.sh             # keep the fixtures and logs in DIR
#   CARGO="flock /tmp/cargo.lock cargo" benches/gateway-load.sh
#
# Measured:
#  1. peak pushes/s through the gateway (enforcement on every push: the
#     connection identified once, each push authorized against the trust store
#     and its device token looked up) and through nginx (ssl_verify_client on,
#     ssl_crl, http2, `return 200`), and the ratio gateway/nginx; also the
#     gateway delivering every push to the device's open notification stream;
#  2. p50/p99 latency of each at half its peak rate;
#  3. RSS of the gateway (and of nginx) with 10,000 idle provider connections;
#  4. SIGHUP -> the new trust store serving, on the 10,000-app store that
#     benches/gateway.rs generates (KEEP=... cargo bench --bench gateway);
#  5. the token path: h2load (nghttp2-client, installed if missing) with
#     `authorization: bearer <JWT>` (made by PyJWT from a `pushca key create`
#     key) on connections without a client certificate, against the gateway
#     and against nginx over TLS without client certificates (`return 200`),
#     the same h2load settings (-c CONNS -m STREAMS -D SECS), and the ratio.
#     TOKEN_ONLY=1 runs only this (after the fixture).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

CONNS=${CONNS:-4}
STREAMS=${STREAMS:-50}
SECS=${SECS:-10}
IDLE=${IDLE:-10000}
APPS=${APPS:-10000}
CARGO=${CARGO:-cargo}
PASS=bench-load-pass
UDID=00008030-001A0C3E0E68802E
APP=com.bench.load

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" -lt $((IDLE + 200)) ]; then
  echo "gateway-load: the open-file limit $(ulimit -n) is below $((IDLE + 200)) (for $IDLE idle connections); raise it or set IDLE" >&2
  exit 1
fi
for tool in curl python3 /usr/sbin/nginx; do
  command -v "$tool" >/dev/null 2>&1 || { echo "gateway-load: $tool is missing (apt-get install curl python3 nginx)" >&2; exit 1; }
done
if ! command -v h2load >/dev/null 2>&1; then
  echo "gateway-load: installing h2load (Debian nghttp2-client)" >&2
  { apt-get install -y -q nghttp2-client || { apt-get update -q && apt-get install -y -q nghttp2-client; }; } >/dev/null 2>&1 \
    || { echo "gateway-load: h2load is missing (apt-get install nghttp2-client)" >&2; exit 1; }
fi
python3 -c 'import jwt, cryptography' 2>/dev/null \
  || { echo "gateway-load: python3 PyJWT is missing (apt-get install python3-jwt python3-cryptography, or pip install 'pyjwt[crypto]')" >&2; exit 1; }

if [ -n "${KEEP:-}" ]; then
  work=$KEEP
  mkdir -p "$work"
else
  work=$(mktemp -d)
fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

$CARGO build --release --workspace --quiet
bin=$root/target/release
LOAD=$bin/pushca-load

# --- the fixture: CA, app, device, device identity, server certificate,
# --- development push certificate, development profile, trust store
fx=$work/fixture
rm -rf "$fx"
mkdir -p "$fx"
pc() { (cd "$fx" && PUSHCA_HOME=$fx/home PUSHCA_CA_PASSPHRASE=$PASS "$bin/pushca" -q "$@" </dev/null); }
pc init --team-name "Bench Corp" --team-id BENCH12345 --country DE --key-type ec-p256
pc app create "$APP" --push
pc device add "$UDID" --name Phone
pc device identity "$UDID" --out-dir ids --noenc --key-type ec-p256
pc server-cert --dns localhost --ip 127.0.0.1 --out-dir srv --noenc --key-type ec-p256
pc cert create --app "$APP" --env development --out-dir dev --noenc --key-type ec-p256
pc profile create --app "$APP" --env development --device "$UDID" --out dev.mobileprovision
KID=$(pc --json key create --env development --out-dir keys | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"]["key_id"])')
pc gateway trust-store --out ts
# A provider token (valid for an hour: the whole run), made as providers make them.
JWT=$(python3 -c 'import jwt, sys, time; print(jwt.encode({"iss": "BENCH12345", "iat": int(time.time())}, open(sys.argv[1]).read(), algorithm="ES256", headers={"kid": sys.argv[2]}))' "$fx/keys/AuthKey_$KID.p8" "$KID")
CA=$fx/home/ca/root.pem
CK=$fx/dev/$APP-development-ck.pem

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# The RSS of a process and its children (nginx: master + workers).
tree_rss_kb() {
  local total kids
  total=$(rss_kb "$1")
  kids=$(cat /proc/"$1"/task/*/children 2>/dev/null || true)
  for k in $kids; do total=$((total + $(rss_kb "$k"))); done
  echo "$total"
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
ms_now() { date +%s%N | cut -c1-13; }

# start_gateway DIR TRUST_STORE ANCHOR CERT KEY LOG: sets GW_PID, GW_DEV, GW_DEVICES
start_gateway() {
  local dir=$1 ts=$2 anchor=$3 cert=$4 key=$5 log=$6
  rm -rf "$dir/state"
  "$bin/pushca-gateway" --trust-store "$ts" --anchor "$anchor" --state "$dir/state" \
    --tls-cert "$cert" --tls-key "$key" --development 127.0.0.1:0 --devices 127.0.0.1:0 \
    --reload-every 86400 2>"$log" &
  GW_PID=$!
  pids+=("$GW_PID")
  for _ in $(seq 1 600); do
    GW_DEV=$(sed -n 's/.* listening development //p' "$log" | head -1)
    GW_DEVICES=$(sed -n 's/.* listening devices //p' "$log" | head -1)
    [ -n "$GW_DEV" ] && [ -n "$GW_DEVICES" ] && return 0
    kill -0 "$GW_PID" 2>/dev/null || { cat "$log" >&2; echo "gateway-load: the gateway did not start" >&2; exit 1; }
    sleep 0.1
  done
  echo "gateway-load: the gateway did not listen within 60 s" >&2
  exit 1
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

start_gateway "$fx" "$fx/ts" "$CA" "$fx/srv/server-localhost-fullchain.pem" "$fx/srv/server-localhost.key" "$work/gateway.log"
dcurl() { curl -sS --http2 --max-time 10 --cacert "$CA" --cert "$fx/ids/device-$UDID-fullchain.pem" --key "$fx/ids/device-$UDID.key" "$@"; }
TOKEN=$(dcurl -d "{\"bundle_id\":\"$APP\",\"environment\":\"development\"}" "https://$GW_DEVICES/1/registrations" | json 'd["token"]')

# --- nginx: mutual TLS against the same trust store, HTTP/2, `return 200`
ng=$work/nginx
mkdir -p "$ng"
NG_PORT=$(free_port)
NG_TOKEN_PORT=$(free_port)
listen="listen 127.0.0.1:$NG_PORT ssl http2;"
h2on=""
ngv=$(/usr/sbin/nginx -v 2>&1 | sed -n 's|.*nginx/\([0-9]*\)\.\([0-9]*\)\.\([0-9]*\).*|\1 \2 \3|p')
read -r ma mi pa <<<"$ngv"
if [ "$ma" -gt 1 ] || { [ "$ma" = 1 ] && { [ "$mi" -gt 25 ] || { [ "$mi" = 25 ] && [ "$pa" -ge 1 ]; }; }; }; then
  listen="listen 127.0.0.1:$NG_PORT ssl;"; h2on="http2 on;"
fi
cat >"$ng/nginx.conf" <<EOF
worker_processes auto;
worker_rlimit_nofile $((IDLE + 1000));
lock_file $ng/nginx.lock;
events { worker_connections $((IDLE + 500)); }
http {
    access_log $ng/access.log;
    client_body_temp_path $ng/body; proxy_temp_path $ng/proxy; fastcgi_temp_path $ng/fastcgi;
    uwsgi_temp_path $ng/uwsgi; scgi_temp_path $ng/scgi;
    keepalive_requests 1000000000;
    server {
        $listen
        $h2on
        server_name localhost;
        ssl_certificate $fx/srv/server-localhost-fullchain.pem;
        ssl_certificate_key $fx/srv/server-localhost.key;
        ssl_verify_client on;
        ssl_client_certificate $fx/ts/ca.pem;
        ssl_crl $fx/ts/crl.pem;
        ssl_verify_depth 3;
        location / { return 200; }
    }
    server {
        ${listen/$NG_PORT/$NG_TOKEN_PORT}
        $h2on
        server_name localhost;
        ssl_certificate $fx/srv/server-localhost-fullchain.pem;
        ssl_certificate_key $fx/srv/server-localhost.key;
        location / { return 200; }
    }
}
EOF
/usr/sbin/nginx -p "$ng/" -c "$ng/nginx.conf" -g "daemon off; pid $ng/nginx.pid; error_log $ng/error.log;" 2>"$ng/stderr.log" &
NG_PID=$!
pids+=("$NG_PID")
for _ in $(seq 1 100); do
  curl -s -o /dev/null "https://127.0.0.1:$NG_PORT/" --cacert "$CA" --cert "$CK" 2>/dev/null && break
  sleep 0.1
done
code=$(curl -s -o /dev/null -w '%{http_code} %{http_version}' --http2 "https://127.0.0.1:$NG_PORT/" --cacert "$CA" --cert "$CK" || true)
[ "$code" = "200 2" ] || { cat "$ng/stderr.log" "$ng/error.log" >&2; echo "gateway-load: nginx answers '$code', not 200 over HTTP/2" >&2; exit 1; }

# --- 5. the token path with h2load (alone with TOKEN_ONLY=1; else after 1-2)
printf '%s' '{"aps":{"alert":"Hello from the load client"}}' >"$work/payload.json"
h2() { # URL: h2load's summary as JSON {requests_per_sec, succeeded, 2xx, 4xx, 5xx}
  h2load -c "$CONNS" -m "$STREAMS" -D "$SECS" -d "$work/payload.json" \
    -H "authorization: bearer $JWT" -H "apns-topic: $APP" -H "apns-push-type: alert" \
    -H "apns-priority: 10" -H "apns-expiration: 0" "$1" >"$work/h2load.txt" 2>&1 || true
  python3 - "$work/h2load.txt" <<'PY'
import json, re, sys
t = open(sys.argv[1]).read()
rps = re.search(r"finished in [^,]+, ([0-9.]+) req/s", t)
req = re.search(r"requests: .* (\d+) succeeded", t)
st = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", t)
print(json.dumps({"requests_per_sec": float(rps.group(1)) if rps else 0.0,
                  "succeeded": int(req.group(1)) if req else 0,
                  "2xx": int(st.group(1)) if st else 0, "4xx": int(st.group(3)) if st else 0,
                  "5xx": int(st.group(4)) if st else 0}))
PY
}
token_path() {
  local probe reason tgw tng gw_t ng_t
  echo "token path: h2load -c $CONNS -m $STREAMS -D $SECS, POST /3/device/<token>, authorization: bearer <ES256 JWT by PyJWT>, no client certificate"
  probe=$(curl -sS --http2 --max-time 10 --cacert "$CA" -o /dev/null -w '%{http_code}' \
    -H "authorization: bearer $JWT" -H "apns-topic: $APP" -H "apns-expiration: 0" \
    --data-binary @"$work/payload.json" "https://$GW_DEV/3/device/$TOKEN" 2>/dev/null || true)
  if [ "$probe" != 200 ]; then
    reason=$(curl -sS --http2 --max-time 10 --cacert "$CA" -H "authorization: bearer $JWT" \
      -H "apns-topic: $APP" -H "apns-expiration: 0" --data-binary @"$work/payload.json" \
      "https://$GW_DEV/3/device/$TOKEN" 2>&1 || true)
    echo "token path: PENDING: the gateway answers $probe $reason to a bearer token (no token authentication in this build)"
    tng=$(h2 "https://127.0.0.1:$NG_TOKEN_PORT/3/device/$TOKEN")
    echo "nginx (TLS, no client certificate, return 200), h2load: $tng"
    return 0
  fi
  h2 "https://$GW_DEV/3/device/$TOKEN" >/dev/null # warm-up (first handshakes)
  tgw=$(h2 "https://$GW_DEV/3/device/$TOKEN")
  tng=$(h2 "https://127.0.0.1:$NG_TOKEN_PORT/3/device/$TOKEN")
  echo "gateway (bearer token, offline device, apns-expiration 0), h2load: $tgw"
  echo "nginx (TLS, no client certificate, return 200), h2load:          $tng"
  for r in "$tgw" "$tng"; do
    echo "$r" | json 'd["succeeded"] > 0 and d["4xx"] == 0 and d["5xx"] == 0' | grep -qx True \
      || { echo "gateway-load: not every token push was answered 200: $r" >&2; tail -5 "$work/gateway.log" >&2; exit 1; }
  done
  gw_t=$(echo "$tgw" | json 'd["requests_per_sec"]')
  ng_t=$(echo "$tng" | json 'd["requests_per_sec"]')
  python3 -c "print('token path pushes/s (h2load): gateway %.0f, nginx %.0f, ratio gateway/nginx %.2f' % ($gw_t, $ng_t, $gw_t / $ng_t))"
}
if [ -n "${TOKEN_ONLY:-}" ]; then
  token_path
  exit 0
fi

# --- 1. peak throughput, the same requests against both
push_args=(--ca "$CA" --cert "$CK" --path "/3/device/$TOKEN"
  --header "apns-topic: $APP" --header "apns-push-type: alert" --header "apns-priority: 10"
  --header "apns-expiration: 0" --data '{"aps":{"alert":"Hello from the load client"}}')
peak() { "$LOAD" --addr "$1" --connections "$CONNS" --streams "$STREAMS" --duration "$SECS" "${push_args[@]}" "${@:2}"; }
status_ok() { # JSON on stdin: every answer a 200
  json 'all(k == "200" for k in d["statuses"]) and d["errors"] == 0 and d["requests"] > 0' | grep -qx True
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr); nginx $ma.$mi.$pa"
echo "load: $CONNS connections x $STREAMS streams, $SECS s per run; POST /3/device/<token> with a 44-byte payload"
# Warm-up (first handshakes, page cache), then the measured runs.
"$LOAD" --addr "$GW_DEV" --connections 1 --streams 10 --duration 1 "${push_args[@]}" >/dev/null
"$LOAD" --addr "127.0.0.1:$NG_PORT" --connections 1 --streams 10 --duration 1 "${push_args[@]}" >/dev/null
gw=$(peak "$GW_DEV")
echo "$gw" | status_ok || { echo "gateway: $gw" >&2; tail -5 "$work/gateway.log" >&2; exit 1; }
ngx=$(peak "127.0.0.1:$NG_PORT")
echo "$ngx" | status_ok || { echo "nginx: $ngx" >&2; exit 1; }
gw_rps=$(echo "$gw" | json 'd["requests_per_sec"]')
ng_rps=$(echo "$ngx" | json 'd["requests_per_sec"]')
echo "gateway (offline device, apns-expiration 0: authorized, then dropped): $gw"
echo "nginx (mutual TLS, return 200):                                      $ngx"
python3 -c "print('peak pushes/s: gateway %.0f, nginx %.0f, ratio gateway/nginx %.2f' % ($gw_rps, $ng_rps, $gw_rps / $ng_rps))"

# The same pushes delivered to the device's open notification stream.
curl -sS -N --http2 --cacert "$CA" --cert "$fx/ids/device-$UDID-fullchain.pem" --key "$fx/ids/device-$UDID.key" \
  "https://$GW_DEVICES/1/notifications" >/dev/null 2>&1 &
STREAM_PID=$!
pids+=("$STREAM_PID")
for _ in $(seq 1 100); do grep -q "notification stream opened" "$work/gateway.log" && break; sleep 0.1; done
gwd=$(peak "$GW_DEV")
echo "$gwd" | status_ok || { echo "gateway (stream): $gwd" >&2; exit 1; }
stop "$STREAM_PID"
echo "gateway (every push delivered to the device's open stream): $gwd"

# --- 2. latency at half the peak rate
half_gw=$(python3 -c "print(round($gw_rps / 2))")
half_ng=$(python3 -c "print(round($ng_rps / 2))")
gwh=$(peak "$GW_DEV" --rate "$half_gw")
ngh=$(peak "127.0.0.1:$NG_PORT" --rate "$half_ng")
echo "gateway at $half_gw/s: $gwh"
echo "nginx at $half_ng/s: $ngh"
echo "$gwh" | json '"latency at half the peak rate: gateway p50 %s ms, p99 %s ms" % (d["latency_ms"]["p50"], d["latency_ms"]["p99"])'
echo "$ngh" | json '"latency at half the peak rate: nginx   p50 %s ms, p99 %s ms" % (d["latency_ms"]["p50"], d["latency_ms"]["p99"])'

# --- 3. RSS with $IDLE idle provider connections
idle_rss() { # PID ADDR LABEL
  local before after out
  before=$(tree_rss_kb "$1")
  "$LOAD" --addr "$2" --ca "$CA" --cert "$CK" --connections "$IDLE" --idle >"$work/idle.json" &
  local lp=$!
  pids+=("$lp")
  for _ in $(seq 1 1200); do
    [ -s "$work/idle.json" ] && break
    kill -0 "$lp" 2>/dev/null || { echo "gateway-load: the idle client failed ($3)" >&2; exit 1; }
    sleep 0.25
  done
  sleep 2
  after=$(tree_rss_kb "$1")
  out=$(cat "$work/idle.json")
  stop "$lp"
  rm -f "$work/idle.json"
  echo "$3: RSS $((before / 1024)) MB before, $((after / 1024)) MB with $IDLE idle connections ($(( (after - before) / IDLE )) KB each); $out"
}
token_path
idle_rss "$GW_PID" "$GW_DEV" "gateway"
idle_rss "$NG_PID" "127.0.0.1:$NG_PORT" "nginx"
stop "$GW_PID"
stop "$NG_PID"

# --- 4. SIGHUP -> the new snapshot serving, the 10,000-app store
if [ -z "${SKIP_BIG:-}" ]; then
  big=$work/big
  # A store kept from a run of another policy format is made again.
  format=$(grep -o 'pushca-policy/[0-9]*' src/gateway/policy.rs | head -1)
  if [ ! -d "$big/ts" ] || ! grep -q "\"format\":\"$format\"" "$big/ts/policy.json" 2>/dev/null; then
    rm -rf "$big"
    echo "generating the $APPS-app store (benches/gateway.rs, KEEP=$big) ..."
    KEEP=$big APPS=$APPS $CARGO bench --quiet --bench gateway >"$work/bench-gateway.txt"
  fi
  bpc() { (cd "$big" && PUSHCA_HOME=$big/home PUSHCA_CA_PASSPHRASE=benchmark-pass "$bin/pushca" -q "$@" </dev/null); }
  [ -f "$big/srv/server-localhost.key" ] || bpc server-cert --dns localhost --ip 127.0.0.1 --out-dir srv --noenc --key-type ec-p256
  t0=$(ms_now)
  start_gateway "$big" "$big/ts" "$big/home/ca/root.pem" "$big/srv/server-localhost-fullchain.pem" "$big/srv/server-localhost.key" "$work/gateway-big.log"
  start_ms=$(( $(ms_now) - t0 ))
  start_rss=$(rss_kb "$GW_PID")
  # A new version: one certificate revoked, the trust store written again.
  serial=$(bpc cert list --app com.bench.app1 --json | json '[c for c in (d if isinstance(d, list) else d.get("certificates", d.get("items", [])))][0]["serial"]')
  bpc cert revoke "$serial"
  t1=$(ms_now)
  bpc gateway trust-store --out ts --force
  build_ms=$(( $(ms_now) - t1 ))
  version=$(python3 -c "import json; print(json.load(open('$big/ts/policy.json'))['version'])" 2>/dev/null || echo "?")
  t2=$(ms_now)
  kill -HUP "$GW_PID"
  ok=""
  for _ in $(seq 1 6000); do
    if grep -q "reload (SIGHUP): trust store version .* serving" "$work/gateway-big.log"; then ok=1; break; fi
    if grep -q "reload (SIGHUP) refused" "$work/gateway-big.log"; then break; fi
    sleep 0.005
  done
  hup_ms=$(( $(ms_now) - t2 ))
  [ -n "$ok" ] || { tail -5 "$work/gateway-big.log" >&2; echo "gateway-load: the reload did not serve the new store" >&2; exit 1; }
  echo "$APPS-app store: gateway start to listening $start_ms ms (RSS $((start_rss / 1024)) MB); pushca gateway trust-store $build_ms ms; SIGHUP -> version $version serving: $hup_ms ms (RSS after $(( $(rss_kb "$GW_PID") / 1024 )) MB)"
  stop "$GW_PID"
fi
