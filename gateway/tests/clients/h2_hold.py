"""One HTTP/2 provider connection held open across the gateway's reloads
(python h2 over ssl, certificate-based), driven line by line from stdin:

    python3 h2_hold.py HOST PORT CA.pem CERT.pem KEY.pem TOKEN TOPIC

    push          a push on this same connection: {"status", "body"}, or
                  {"refused": "goaway"|"closed"|"reset", ...} when the
                  connection no longer takes it
    wait SECONDS  reads the connection that long, or until the gateway's
                  GOAWAY: {"goaway": bool, "closed": bool}

Every answer is one JSON line on stdout. The TLS connection is made once;
nothing reconnects.
"""
import json
import select
import socket
import ssl
import sys
import time

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
except ImportError:
    sys.exit("h2 (httpx[http2]) is not installed: run scripts/test --install-only")

host, port, ca, cert, key, token, topic = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
ctx.set_alpn_protocols(["h2"])
sock = ctx.wrap_socket(socket.create_connection((host, int(port))), server_hostname=host)
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
sock.sendall(conn.data_to_send())
state = {"goaway": False, "closed": False}


def pump(timeout):
    """Reads once (up to timeout seconds); the events."""
    if state["closed"]:
        return []
    r, _, _ = select.select([sock], [], [], timeout)
    if not r:
        return []
    try:
        data = sock.recv(65536)
    except (ssl.SSLError, OSError):
        data = b""
    if not data:
        state["closed"] = True
        return []
    try:
        events = conn.receive_data(data)
    except h2.exceptions.ProtocolError:
        # Frames after a GOAWAY (hyper's graceful shutdown sends a PING
        # with it) are refused by h2 once it has closed the connection.
        if conn.state_machine.state == h2.connection.ConnectionState.CLOSED:
            state["goaway"] = True
        state["closed"] = True
        return []
    out = conn.data_to_send()
    if out:
        try:
            sock.sendall(out)
        except OSError:
            state["closed"] = True
    for e in events:
        if isinstance(e, h2.events.ConnectionTerminated):
            state["goaway"] = True
    return events


def push():
    if state["closed"]:
        return {"refused": "closed"}
    try:
        sid = conn.get_next_available_stream_id()
        conn.send_headers(
            sid,
            [
                (":method", "POST"),
                (":scheme", "https"),
                (":authority", host),
                (":path", "/3/device/" + token),
                ("apns-topic", topic),
            ],
        )
        conn.send_data(sid, b"{}", end_stream=True)
        sock.sendall(conn.data_to_send())
    except h2.exceptions.ProtocolError as e:
        return {"refused": "goaway" if state["goaway"] else "protocol", "detail": str(e)}
    except OSError as e:
        state["closed"] = True
        return {"refused": "closed", "detail": str(e)}
    status, body = None, b""
    deadline = time.time() + 10
    while time.time() < deadline:
        if state["closed"]:
            return {"refused": "closed", "goaway": state["goaway"]}
        for e in pump(0.2):
            if isinstance(e, h2.events.ResponseReceived) and e.stream_id == sid:
                status = int(dict(e.headers)[b":status"])
            elif isinstance(e, h2.events.DataReceived) and e.stream_id == sid:
                body += e.data
                conn.acknowledge_received_data(e.flow_controlled_length, sid)
            elif isinstance(e, h2.events.StreamEnded) and e.stream_id == sid:
                return {"status": status, "body": body.decode(), "goaway": state["goaway"]}
            elif isinstance(e, h2.events.StreamReset) and e.stream_id == sid:
                return {"refused": "reset", "error_code": int(e.error_code)}
            elif isinstance(e, h2.events.ConnectionTerminated) and (
                e.last_stream_id is not None and e.last_stream_id < sid
            ):
                return {"refused": "goaway", "last_stream_id": e.last_stream_id}
    return {"refused": "timeout"}


for line in sys.stdin:
    cmd = line.split()
    if not cmd:
        continue
    if cmd[0] == "push":
        res = push()
    elif cmd[0] == "wait":
        deadline = time.time() + float(cmd[1])
        while time.time() < deadline and not state["goaway"] and not state["closed"]:
            pump(0.1)
        res = dict(state)
    else:
        res = {"error": "unknown command " + cmd[0]}
    print(json.dumps(res), flush=True)
