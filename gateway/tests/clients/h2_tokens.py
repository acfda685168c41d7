"""Pushes on ONE HTTP/2 provider connection without a client certificate
(python h2 over ssl), each with its own `authorization: bearer` token:

    python3 h2_tokens.py HOST PORT CA.pem DEVICE_TOKEN TOPIC TOKEN...

Pushes one at a time, in order, and prints one JSON line: a list of
{"status", "body"}, one per token. The TLS connection is made once. A
TOKEN `wait` pushes nothing: it prints {"waiting": N} (N answers so far)
and reads one line from stdin before going on.
"""
import json
import socket
import ssl
import sys

try:
    import h2.config
    import h2.connection
    import h2.events
except ImportError:
    sys.exit("h2 (httpx[http2]) is not installed: run scripts/test --install-only")

host, port, ca, device, topic = sys.argv[1:6]
tokens = sys.argv[6:]
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["h2"])
sock = ctx.wrap_socket(socket.create_connection((host, int(port))), server_hostname=host)
sock.settimeout(10)
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
sock.sendall(conn.data_to_send())
out = []
for tok in tokens:
    if tok == "wait":
        print(json.dumps({"waiting": len(out)}), flush=True)
        sys.stdin.readline()
        continue
    sid = conn.get_next_available_stream_id()
    body = b'{"aps":{"alert":"h2"}}'
    conn.send_headers(
        sid,
        [
            (":method", "POST"),
            (":scheme", "https"),
            (":authority", host),
            (":path", "/3/device/" + device),
            ("authorization", "bearer " + tok),
            ("apns-topic", topic),
            ("content-length", str(len(body))),
        ],
    )
    conn.send_data(sid, body, end_stream=True)
    sock.sendall(conn.data_to_send())
    status, data, done = None, b"", False
    while not done:
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit("connection closed: " + json.dumps(out))
        for e in conn.receive_data(chunk):
            if isinstance(e, h2.events.ResponseReceived) and e.stream_id == sid:
                status = int(dict(e.headers)[b":status"])
            elif isinstance(e, h2.events.DataReceived) and e.stream_id == sid:
                data += e.data
                conn.acknowledge_received_data(e.flow_controlled_length, sid)
            elif isinstance(e, h2.events.StreamEnded) and e.stream_id == sid:
                done = True
            elif isinstance(e, h2.events.StreamReset) and e.stream_id == sid:
                status, done = "reset", True
        pending = conn.data_to_send()
        if pending:
            sock.sendall(pending)
    out.append({"status": status, "body": data.decode()})
print(json.dumps(out), flush=True)
