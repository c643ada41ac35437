#!/usr/bin/env python3
"""Interop of our receiver-compatible schemes with each platform's own verifier, through
`webhookctl sign/verify --scheme`:

- Retell: `retell.lib.webhook_auth` of PyPI `retell-sdk` (the same code as `Retell.verify`):
  what webhookctl signs, the SDK verifies; what the SDK signs, webhookctl verifies.
- ElevenLabs: `construct_event` of PyPI `elevenlabs` (the client's `webhooks`): what webhookctl
  signs, the SDK accepts. The SDK has no signer.

usage: schemes_check.py PATH/TO/webhookctl [COUNT]

The SDKs read the wall clock, so the vectors are signed at this machine's current time.
Deterministic bodies and keys (fixed seed); bounded (about 5 * COUNT short processes).
"""

import json
import random
import string
import subprocess
import sys
import time

from elevenlabs.client import ElevenLabs
from retell.lib import webhook_auth

SEED = 20261208


def body(rng):
    if rng.random() < 0.5:
        return json.dumps({"event": "call_ended", "call": {"call_id": "c_%d" % rng.randint(0, 10**9)}})
    chars = string.printable + "éßøΩ漢字🙂"
    return "".join(rng.choice(chars) for _ in range(rng.randint(1, 200)))


def key(rng, prefix):
    return prefix + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32))


def ctl(path, args, data):
    return subprocess.run([path] + args, input=data.encode(), capture_output=True)


def main():
    path = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    rng = random.Random(SEED)
    elevenlabs = ElevenLabs(api_key="webhook-only").webhooks
    failures = 0
    for _ in range(count):
        data, api_key = body(rng), key(rng, "key_")
        now_ms = int(time.time() * 1000)
        out = ctl(path, ["sign", "--scheme", "retell", "--secret", api_key, "--timestamp", str(now_ms)], data)
        sig = json.loads(out.stdout)["x-retell-signature"]
        if not webhook_auth.symmetric["verify"](data, api_key, sig, {"timestamp": now_ms}):
            failures += 1
            print("retell-sdk refused webhookctl's %r" % sig)
        if not webhook_auth.verify(data, api_key, sig):
            failures += 1
            print("retell-sdk verify() (wall clock) refused webhookctl's %r" % sig)
        theirs = webhook_auth.symmetric["sign"](data, api_key, now_ms)
        args = ["verify", "--scheme", "retell", "--secret", api_key, "--signature", theirs, "--now", str(now_ms)]
        if ctl(path, args, data).returncode != 0:
            failures += 1
            print("webhookctl refused retell-sdk's %r" % theirs)
        if ctl(path, args, data + " ").returncode != 1:
            failures += 1
            print("webhookctl accepted a tampered body for retell")

        # construct_event parses the body as JSON after the signature check: JSON bodies only.
        data = json.dumps({"type": "post_call_transcription", "data": {"text": body(rng)}}, ensure_ascii=rng.random() < 0.5)
        secret = key(rng, "wsec_")
        out = ctl(path, ["sign", "--scheme", "elevenlabs", "--secret", secret], data)
        header = json.loads(out.stdout)["elevenlabs-signature"]
        try:
            elevenlabs.construct_event(data, header, secret)
        except Exception as e:  # the SDK raises BadRequestError
            failures += 1
            print("elevenlabs refused webhookctl's %r: %s" % (header, e))
        try:
            elevenlabs.construct_event(data + " ", header, secret)
            failures += 1
            print("elevenlabs accepted a tampered body (the check itself is broken)")
        except Exception:
            pass
    print("platform verifiers: retell-sdk and elevenlabs, %d vectors each, %d failures" % (count, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
