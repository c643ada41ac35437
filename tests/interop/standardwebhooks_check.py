#!/usr/bin/env python3
"""Interop check of our Standard Webhooks signer and verifier against the official Python
library (PyPI `standardwebhooks`), through the `webhookctl sign` / `webhookctl verify` CLI.

usage: standardwebhooks_check.py PATH/TO/webhookctl [COUNT]

1. COUNT random (secret, id, timestamp, body) vectors are signed by webhookctl; the library
   must verify each one (with its clock pinned to the vector's timestamp) and sign it to the
   same value.
2. COUNT vectors (every third with two secrets: rotation) are signed by the library;
   `webhookctl verify` must accept each one, and refuse it with one body byte changed.

Deterministic (fixed seed, pinned clock) and bounded (4 * COUNT short processes).
"""

import base64
import random
import string
import subprocess
import sys
from datetime import datetime, timezone

import standardwebhooks.webhooks as sw

SEED = 20260531


def pin_clock(ts):
    class Pinned(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(ts, tz=tz or timezone.utc)

    sw.datetime = Pinned


def random_secret(rng):
    key = bytes(rng.getrandbits(8) for _ in range(rng.randint(24, 64)))
    text = base64.b64encode(key).decode()
    # Sometimes unpadded and sometimes without the prefix, as people paste them.
    if rng.random() < 0.2:
        text = text.rstrip("=")
    return text if rng.random() < 0.1 else "whsec_" + text


def random_id(rng):
    alphabet = string.ascii_letters + string.digits + "_-"
    return "msg_" + "".join(rng.choice(alphabet) for _ in range(rng.randint(8, 32)))


def random_body(rng):
    kind = rng.randrange(4)
    if kind == 0:
        return ""
    if kind == 1:
        n = rng.randint(0, 10**12)
        return '{"message":{"type":"status-update","status":"ringing","timestamp":%d}}' % n
    if kind == 2:
        chars = string.printable + "éßøΩ漢字🙂\u2028"
        return "".join(rng.choice(chars) for _ in range(rng.randint(1, 300)))
    return '{"test": %d}' % rng.randint(0, 2**40)


def run(cli, args, body):
    return subprocess.run(
        [cli, *args], input=body.encode(), capture_output=True, timeout=30, check=False
    )


def main():
    cli = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    rng = random.Random(SEED)
    failures = []

    # 1. Ours signs, the library verifies and agrees.
    for i in range(count):
        secret, msg_id, body = random_secret(rng), random_id(rng), random_body(rng)
        ts = rng.randint(1_000_000_000, 4_000_000_000)
        out = run(cli, ["sign", "--secret", secret, "--id", msg_id, "--timestamp", str(ts)], body)
        if out.returncode != 0:
            failures.append(f"sign #{i}: exit {out.returncode}: {out.stderr.decode()}")
            continue
        ours = out.stdout.decode().strip()
        wh = sw.Webhook(secret)
        theirs = wh.sign(msg_id, datetime.fromtimestamp(ts, tz=timezone.utc), body)
        if ours != theirs:
            failures.append(f"sign #{i}: ours {ours} != library {theirs}")
        pin_clock(ts)
        try:
            headers = {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": ours}
            wh.verify(body.encode(), headers, json_parse=False)
        except Exception as e:  # noqa: BLE001 - any library error is a failure here
            failures.append(f"library verify #{i}: {e!r}")

    # 2. The library signs, ours verifies (and refuses a tampered body).
    for i in range(count):
        secrets = [random_secret(rng) for _ in range(2 if i % 3 == 0 else 1)]
        msg_id, body = random_id(rng), random_body(rng) or "{}"
        ts = rng.randint(1_000_000_000, 4_000_000_000)
        stamp = datetime.fromtimestamp(ts, tz=timezone.utc)
        header = " ".join(sw.Webhook(s).sign(msg_id, stamp, body) for s in secrets)
        # Each secret alone must accept the rotated header.
        for s in secrets:
            args = ["verify", "--secret", s, "--id", msg_id, "--timestamp", str(ts),
                    "--signature", header, "--now", str(ts + rng.randint(-300, 300))]
            out = run(cli, args, body)
            if out.returncode != 0:
                failures.append(f"verify #{i}: refused: {out.stderr.decode().strip()}")
            tampered = body[:-1] + chr((ord(body[-1]) + 1) % 0x10FFFF or 1)
            if run(cli, args, tampered).returncode != 1:
                failures.append(f"verify #{i}: accepted a tampered body")

    for f in failures[:20]:
        print("FAIL", f)
    print(f"standardwebhooks interop: {2 * count} vectors, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
