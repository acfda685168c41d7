"""One push with aioapns, token-based (key, key_id, team_id), to
pushca-gateway on loopback.

    python3 aioapns_token_push.py HOST PORT CA.pem AuthKey.p8 KEY_ID TEAM_ID TOKEN TOPIC PAYLOAD_JSON

aioapns has no address option: its development protocol's server and port
are set (the README's settings). `key` is the .p8 file's text. PAYLOAD_JSON
is parsed; aioapns sends json.dumps(message, ensure_ascii=False). Prints one
JSON line.
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
    host, port, ca, key, key_id, team_id, token, topic, payload = sys.argv[1:10]
    APNsDevelopmentClientProtocol.APNS_SERVER = host
    APNsDevelopmentClientProtocol.APNS_PORT = int(port)
    ctx = ssl.create_default_context(cafile=ca)
    with open(key) as f:
        key_text = f.read()
    client = APNs(
        key=key_text,
        key_id=key_id,
        team_id=team_id,
        topic=topic,
        use_sandbox=True,
        ssl_context=ctx,
        max_connection_attempts=1,
    )
    req = NotificationRequest(
        device_token=token,
        message=json.loads(payload),
        push_type=PushType.ALERT,
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
