#!/usr/bin/env python3
"""Signature vectors for every receiver-compatible scheme, computed independently of the crate
with Python's `hmac` (the algorithms as each platform documents them; sources in
src/sign/scheme.rs).

usage:
  scheme_vectors.py --write FILE        writes the fixed vectors the Rust tests read
                                        (tests/data/sign-schemes.json)
  scheme_vectors.py PATH/TO/webhookctl [COUNT]
                                        COUNT random vectors per scheme: `webhookctl sign
                                        --scheme` must print exactly the headers computed here,
                                        and `webhookctl verify --scheme` must accept them and
                                        refuse them with one body byte changed

Stdlib only; deterministic (fixed seed) and bounded (3 * 6 * COUNT short processes).
"""

import base64
import hashlib
import hmac
import json
import random
import string
import subprocess
import sys

SEED = 20261207
ALGOS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def mac(algo, key, data):
    return hmac.new(key, data, ALGOS[algo]).digest()


def vapi_hmac(plan, msg):
    """Vapi's HMACAuthenticationPlan, with its documented defaults."""
    key = plan["secretKey"].encode()
    if plan.get("secretIsBase64"):
        key = base64.b64decode(plan["secretKey"])
    include_ts = plan.get("includeTimestamp", True)
    fmt = plan.get("payloadFormat", "{timestamp}.{body}" if include_ts else "{body}")
    ts = str(msg["unix_millis"] // 1000)
    payload = fmt.encode()
    for name, value in (("{timestamp}", ts.encode()), ("{method}", b"POST"),
                        ("{url}", msg["url"].encode()), ("{svix-id}", msg["id"].encode())):
        payload = payload.replace(name.encode(), value)
    # {body} last: the body may itself contain placeholder-looking text.
    head, sep, tail = payload.partition(b"{body}")
    parts = [head]
    while sep:
        parts.append(msg["body"].encode())
        head, sep, tail = tail.partition(b"{body}")
        parts.append(head)
    tag = mac(plan["algorithm"], key, b"".join(parts))
    enc = tag.hex() if plan.get("signatureEncoding", "hex") == "hex" else base64.b64encode(tag).decode()
    headers = {plan.get("signatureHeader", "x-signature").lower(): plan.get("signaturePrefix", "") + enc}
    if include_ts:
        headers[plan.get("timestampHeader", "x-timestamp").lower()] = ts
    if plan.get("messageIdHeader"):
        headers[plan["messageIdHeader"].lower()] = msg["id"]
    return headers


def scheme_headers(scheme, secret, msg):
    body = msg["body"].encode()
    s = str(msg["unix_millis"] // 1000)
    key = secret.encode()
    if scheme == "standard":
        raw = base64.b64decode(secret[len("whsec_"):])
        signed = "%s.%s.%s" % (msg["id"], s, msg["body"])
        tag = base64.b64encode(hmac.new(raw, signed.encode(), hashlib.sha256).digest()).decode()
        return {"webhook-signature": "v1," + tag}
    if scheme == "vapi-hmac":
        return vapi_hmac({"secretKey": secret, "algorithm": "sha256"}, msg)
    if scheme == "vapi-signature":
        return {"x-vapi-signature": "sha256=" + mac("sha256", key, body).hex()}
    if scheme == "elevenlabs":
        return {"elevenlabs-signature": "t=%s,v0=%s" % (s, mac("sha256", key, s.encode() + b"." + body).hex())}
    if scheme == "retell":
        ms = str(msg["unix_millis"])
        return {"x-retell-signature": "v=%s,d=%s" % (ms, mac("sha256", key, body + ms.encode()).hex())}
    if scheme == "bland":
        return {"x-webhook-signature": mac("sha256", key, body).hex()}
    raise ValueError(scheme)


def random_body(rng):
    kind = rng.randrange(3)
    if kind == 0:
        return ""
    if kind == 1:
        return '{"message":{"type":"status-update","timestamp":%d}}' % rng.randint(0, 10**12)
    chars = string.printable + "éßøΩ漢字🙂"
    return "".join(rng.choice(chars) for _ in range(rng.randint(1, 200)))


def random_secret(rng, scheme):
    if scheme == "standard":
        return "whsec_" + base64.b64encode(bytes(rng.getrandbits(8) for _ in range(32))).decode()
    alphabet = string.ascii_letters + string.digits + "_-"
    return rng.choice(["key_", "wsec_", "", "sk_"]) + "".join(rng.choice(alphabet) for _ in range(rng.randint(8, 48)))


def fixed_vectors():
    rng = random.Random(SEED)
    vectors = []
    msg = lambda: {"id": "msg_%d" % rng.randint(1, 10**9), "unix_millis": rng.randint(1_600_000_000_000, 1_900_000_000_000),
                   "url": "https://hooks.example.com/vapi?x=%d" % rng.randint(0, 99), "body": random_body(rng)}
    for scheme in ["standard", "vapi-signature", "elevenlabs", "retell", "bland", "vapi-hmac"]:
        for _ in range(4):
            m, secret = msg(), random_secret(rng, scheme)
            vectors.append({"scheme": scheme, "secret": secret, "message": m,
                            "headers": scheme_headers(scheme, secret, m)})
    plans = [
        {"algorithm": "sha1"},
        {"algorithm": "sha512"},
        {"algorithm": "sha256", "signatureEncoding": "base64"},
        {"algorithm": "sha256", "signaturePrefix": "sha256=", "signatureHeader": "X-Hub-Signature-256"},
        {"algorithm": "sha256", "includeTimestamp": False},
        {"algorithm": "sha256", "payloadFormat": "{body}", "timestampHeader": "X-Request-Time"},
        {"algorithm": "sha512", "payloadFormat": "{svix-id}.{timestamp}.{body}", "messageIdHeader": "svix-id",
         "signatureEncoding": "base64"},
        {"algorithm": "sha256", "payloadFormat": "{method} {url}\n{timestamp}\n{body}"},
        {"algorithm": "sha1", "secretIsBase64": True},
    ]
    for extra in plans:
        m = msg()
        secret = random_secret(rng, "vapi-hmac")
        if extra.get("secretIsBase64"):
            secret = base64.b64encode(secret.encode()).decode()
        plan = dict({"type": "hmac", "secretKey": secret}, **extra)
        vectors.append({"scheme": "vapi-hmac-plan", "plan": plan, "message": m, "headers": vapi_hmac(plan, m)})
    return vectors


def run(ctl, args, body):
    return subprocess.run([ctl] + args, input=body.encode(), capture_output=True)


def check_cli(ctl, count):
    rng = random.Random(SEED + 1)
    failures = 0
    for scheme in ["standard", "vapi-hmac", "vapi-signature", "elevenlabs", "retell", "bland"]:
        for _ in range(count):
            body = random_body(rng)
            secret = random_secret(rng, scheme)
            m = {"id": "msg_%d" % rng.randint(1, 10**9), "url": "", "body": body,
                 "unix_millis": rng.randint(1_600_000_000, 1_900_000_000) * 1000}
            if scheme == "retell":
                m["unix_millis"] += rng.randint(0, 999)
            ts = m["unix_millis"] if scheme == "retell" else m["unix_millis"] // 1000
            expected = scheme_headers(scheme, secret, m)
            out = run(ctl, ["sign", "--scheme", scheme, "--secret", secret, "--timestamp", str(ts), "--id", m["id"]], body)
            got = json.loads(out.stdout) if out.returncode == 0 else out.stderr.decode()
            if got != expected:
                failures += 1
                print("sign %s: expected %r, got %r" % (scheme, expected, got))
                continue
            sig = next(v for k, v in expected.items() if k != "x-timestamp")
            args = ["verify", "--scheme", scheme, "--secret", secret, "--signature", sig,
                    "--timestamp", str(ts), "--id", m["id"], "--now", str(ts)]
            if run(ctl, args, body).returncode != 0:
                failures += 1
                print("verify %s refused its own vector" % scheme)
            tampered = body + "x"
            if run(ctl, args, tampered).returncode != 1:
                failures += 1
                print("verify %s accepted a tampered body" % scheme)
    print("scheme vectors: %d schemes x %d vectors, %d failures" % (6, count, failures))
    return failures


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--write":
        with open(sys.argv[2], "w", encoding="utf-8") as f:
            json.dump(fixed_vectors(), f, indent=1, ensure_ascii=False)
            f.write("\n")
        return 0
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    return 1 if check_cli(sys.argv[1], count) else 0


if __name__ == "__main__":
    sys.exit(main())
