"""Provider tokens (JWTs) for the gateway's token tests, made with PyJWT
and by hand: reads one JSON list of specs on stdin, prints one JSON list of
compact tokens.

A spec: {"key": "AuthKey.p8" (ES256 with that key), "kid", "iss", "iat",
optional "alg" ("ES256" default; "HS256": HMAC with the secret "secret";
"none": unsigned, empty signature), optional "header" (extra header
members), optional "tamper" (flip a bit of the signature)}.
"""
import base64
import json
import sys

try:
    import jwt
except ImportError:
    sys.exit("PyJWT is not installed (aioapns needs it): run scripts/test --install-only")


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def make(spec):
    claims = {"iss": spec["iss"], "iat": spec["iat"]}
    alg = spec.get("alg", "ES256")
    headers = {"kid": spec["kid"], **spec.get("header", {})}
    if alg == "ES256":
        with open(spec["key"]) as f:
            key = f.read()
        tok = jwt.encode(claims, key, algorithm="ES256", headers=headers)
    elif alg == "HS256":
        tok = jwt.encode(claims, "secret", algorithm="HS256", headers=headers)
    else:  # "none", by hand: PyJWT refuses to make it with a kid
        h = {"alg": "none", "typ": "JWT", **headers}
        tok = b64(json.dumps(h).encode()) + "." + b64(json.dumps(claims).encode()) + "."
    if spec.get("tamper"):
        head, body, sig = tok.split(".")
        raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
        raw[10] ^= 1
        tok = head + "." + body + "." + b64(bytes(raw))
    return tok


print(json.dumps([make(s) for s in json.load(sys.stdin)]))
