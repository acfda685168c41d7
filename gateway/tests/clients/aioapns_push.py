"""One push with aioapns (certificate-based) to pushca-gateway on loopback.

    python3 aioapns_push.py HOST PORT CA.pem CERT+KEY.pem TOKEN TOPIC PAYLOAD_JSON

aioapns has no address option: its development protocol's server and port
are set (the README's settings). PAYLOAD_JSON is parsed; aioapns sends
json.dumps(message, ensure_ascii=False). Prints one JSON line.
"""
import asyncio
import json
import ssl
import sys

try:
    from aioapns import APNs, NotificationRequest, PushType
    from aioapns.connection import APNsDevelopmentClientProtocol
except ImportError:
    sys.exit("aioapns is not installed: run scripts/test --install-only")


async def main():
    host, port, ca, cert, token, topic, payload = sys.argv[1:8]
    APNsDevelopmentClientProtocol.APNS_SERVER = host
    APNsDevelopmentClientProtocol.APNS_PORT = int(port)
    ctx = ssl.create_default_context(cafile=ca)
    client = APNs(client_cert=cert, topic=topic, use_sandbox=True, ssl_context=ctx)
    req = NotificationRequest(
        device_token=token,
        message=json.loads(payload),
        push_type=PushType.ALERT,
        collapse_key="aio",
    )
    res = await client.send_notification(req)
    print(
        json.dumps(
            {
                "status": res.status,
                "description": res.description,
                "apns_id": res.notification_id,
                "sent_id": req.notification_id,
            }
        ),
        flush=True,
    )


asyncio.run(main())
