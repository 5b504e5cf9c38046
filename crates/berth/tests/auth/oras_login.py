"""Logs in to a Berth with access control through the ORAS Python SDK (PyPI `oras`), for
crates/berth/tests/auth/oras_login.rs.

Usage: oras_login.py HOST ALICE_PASSWORD BOB_PASSWORD WORKDIR

Each phase has a HOME of its own, so each client sees only the Docker config its own login
wrote (the SDK reads ~/.docker/config.json). The SDK meets Berth's 401 challenge, asks the
realm named in it for a token with the stored Basic credentials, and retries with Bearer:

1. bob logs in; his push to team/ is refused (he may only pull there).
2. alice logs in; she pushes an artifact to team/login and to public/login. Her first token
   covers the pull that starts a push; Berth's 403 `insufficient_scope` challenge for the
   upload names pull and push, and the SDK fetches that token and carries on.
3. A fresh client without login() pulls team/login with the credentials alice's login stored.
4. A client with no credentials at all: team/login is refused, public/login is pulled through
   an anonymous token.

(A wrong password is left to the other clients' tests: the SDK retries a refused token request
five times with growing pauses, minutes in all.)

Prints one line `RESULT <json>` with the digests, for the Rust test to check over HTTP.
Exits with status 3 when the `oras` package cannot be imported.
"""

import hashlib
import json
import os
import sys

try:
    import oras.client
except ImportError as error:  # pragma: no cover - reported by the Rust test
    sys.stderr.write(f"the oras Python package is not importable: {error}\n")
    sys.exit(3)

ARTIFACT_TYPE = "application/vnd.example.login-check.v1"


def fail(message: str) -> None:
    sys.stderr.write(f"oras login script: {message}\n")
    sys.exit(1)


def check(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


def phase(workdir: str, name: str) -> str:
    """A HOME of its own for one client, and the working directory its files go to."""
    home = os.path.join(workdir, name)
    os.makedirs(home, exist_ok=True)
    os.environ["HOME"] = home
    os.chdir(home)
    return home


def client(host: str) -> "oras.client.OrasClient":
    return oras.client.OrasClient(hostname=host, insecure=True)


def push(registry, host: str, target: str, payload: bytes):
    with open("payload.txt", "wb") as f:
        f.write(payload)
    return registry.push(
        target=f"{host}/{target}",
        files=["payload.txt:text/plain"],
        manifest_config=f"no-config:{ARTIFACT_TYPE}",
        quiet=True,
    )


def refused(action, what: str) -> str:
    """Runs `action`, which must fail; returns how it failed."""
    try:
        response = action()
    except Exception as error:  # the SDK raises on a failed request
        return f"{type(error).__name__}: {error}"
    status = getattr(response, "status_code", None)
    check(status is not None and status >= 400, f"{what} was not refused: {response}")
    return f"status {status}"


def pulled(registry, host: str, target: str) -> bytes:
    files = registry.pull(target=f"{host}/{target}", outdir="out")
    check(len(files) == 1, f"pull of {target} gave {files}")
    with open(files[0], "rb") as f:
        return f.read()


def main() -> None:
    host, alice_password, bob_password, workdir = sys.argv[1:5]
    payload = os.urandom(512)

    phase(workdir, "bob")
    bob = client(host)
    bob.login(username="bob", password=bob_password, hostname=host)
    bob_refusal = refused(lambda: push(bob, host, "team/login:bob", payload), "bob's push")

    phase(workdir, "alice")
    alice = client(host)
    login = alice.login(username="alice", password=alice_password, hostname=host)
    team = push(alice, host, "team/login:v1", payload)
    check(team.status_code == 201, f"alice's push to team/: {team.status_code} {team.text}")
    public = push(alice, host, "public/login:v1", payload)
    check(public.status_code == 201, f"alice's push to public/: {public.status_code}")

    # The same HOME: the credentials come from the config file the login wrote.
    stored = client(host)
    check(pulled(stored, host, "team/login:v1") == payload, "team/login:v1 bytes differ")

    phase(workdir, "anonymous")
    anonymous = client(host)
    anonymous_refusal = refused(
        lambda: pulled(anonymous, host, "team/login:v1"), "an anonymous pull of team/"
    )
    check(pulled(anonymous, host, "public/login:v1") == payload, "public/login:v1 bytes differ")

    print("RESULT " + json.dumps({
        "login": login,
        "team_digest": team.headers.get("Docker-Content-Digest"),
        "public_digest": public.headers.get("Docker-Content-Digest"),
        "payload_sha256": "sha256:" + hashlib.sha256(payload).hexdigest(),
        "bob_refusal": bob_refusal,
        "anonymous_refusal": anonymous_refusal,
    }))


if __name__ == "__main__":
    main()
