"""One push with httpx over HTTP/2 (certificate-based) to pushca-gateway.

    python3 httpx_push.py URL CA.pem CERT.pem KEY.pem TOPIC PAYLOAD

PAYLOAD is sent as given (bytes). Prints one JSON line: the HTTP version,
status, apns-id and body of the response.
"""
import json
import ssl
import sys

try:
    import httpx
    import h2  # noqa: F401  (httpx[http2])
except ImportError:
    sys.exit("httpx[http2] is not installed: run scripts/test --install-only")

url, ca, cert, key, topic, payload = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
with httpx.Client(http2=True, http1=False, verify=ctx, timeout=10) as c:
    r = c.post(
        url,
        content=payload.encode(),
        headers={"apns-topic": topic, "apns-push-type": "alert", "apns-priority": "5"},
    )
    print(
        json.dumps(
            {
                "http_version": r.http_version,
                "status": r.status_code,
                "apns_id": r.headers.get("apns-id"),
                "body": r.text,
            }
        ),
        flush=True,
    )
