"""Real signing keys for tests: a throwaway GnuPG home and SSH keys, and commits signed with them by git."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from helpers.upstream import GIT_ENV, Upstream, git

GPG_BATCH = ["--batch", "--pinentry-mode", "loopback", "--passphrase", ""]


class GnupgHome:
    """A GnuPG home of its own (short path: gpg-agent's socket lives in it); close() stops its agent."""

    def __init__(self) -> None:
        self.path = tempfile.mkdtemp(prefix="gpg-")
        os.chmod(self.path, 0o700)

    def gpg(self, *args: str, input: bytes | None = None) -> str:
        proc = subprocess.run(["gpg", "--homedir", self.path, *args], input=input, capture_output=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"gpg {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode(errors="replace")

    def new_key(self, uid: str, expire: str = "never", faked_time: str | None = None) -> str:
        """Make a signing key (ed25519); return its primary fingerprint."""
        fake = ["--faked-system-time", faked_time] if faked_time else []
        self.gpg(*GPG_BATCH, *fake, "--quick-gen-key", uid, "ed25519", "sign", expire)
        return self.fingerprints(uid)[0]

    def add_signing_subkey(self, primary: str) -> str:
        """Add a signing subkey (gpg then signs with it by default); return its fingerprint."""
        self.gpg(*GPG_BATCH, "--quick-add-key", primary, "ed25519", "sign", "never")
        return self.fingerprints(primary)[-1]

    def fingerprints(self, who: str) -> list[str]:
        """Primary then subkey fingerprints of one key."""
        out = self.gpg("--with-colons", "--list-keys", who)
        return [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]

    def close(self) -> None:
        subprocess.run(["gpgconf", "--homedir", self.path, "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(self.path, ignore_errors=True)


def ssh_key(directory: str, name: str) -> tuple[str, str]:
    """A new ed25519 key: (private key path, public key line without comment)."""
    path = os.path.join(str(directory), name)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path], check=True)
    with open(path + ".pub") as handle:
        kind, blob = handle.read().split()[:2]
    return path, f"{kind} {blob}"


def ssh_fingerprint(private_key: str) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", private_key + ".pub"], capture_output=True,
                         text=True, check=True).stdout
    return out.split()[1]


def signed_commit(upstream: Upstream, files: dict | None = None, ssh_key_path: str | None = None,
                  gpg_home: GnupgHome | None = None, gpg_key: str | None = None, message: str = "signed change",
                  push: bool = True) -> str:
    """Commit like Upstream.commit, signed with `git commit -S` (an SSH key, or an OpenPGP key of gpg_home)."""
    if files:
        upstream.write(files)
    git("add", "-A", cwd=upstream.work)
    if ssh_key_path:
        config = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={ssh_key_path}"]
    else:
        config = ["-c", "gpg.format=openpgp", "-c", f"user.signingkey={gpg_key}"]
    env = dict(os.environ, **GIT_ENV)
    if gpg_home:
        env["GNUPGHOME"] = gpg_home.path
    subprocess.run(["git", *config, "commit", "-q", "--allow-empty", "-S", "-m", message], cwd=upstream.work,
                   env=env, check=True, capture_output=True)
    sha = git("rev-parse", "HEAD", cwd=upstream.work)
    if push:
        upstream.force_push()
    return sha


def tampered_copy(upstream: Upstream, commit: str, message: str = "not what was signed") -> str:
    """A commit object with commit's signature but another message, pushed as the branch: what a compromised
    server could serve. Returns its id."""
    raw = subprocess.run(["git", "cat-file", "commit", commit], cwd=upstream.work, capture_output=True,
                         check=True).stdout
    head, _sep, _old = raw.partition(b"\n\n")
    forged = head + b"\n\n" + message.encode() + b"\n"
    sha = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--stdin"], cwd=upstream.work, input=forged,
                         capture_output=True, check=True).stdout.decode().strip()
    git("update-ref", f"refs/heads/{upstream.branch}", sha, cwd=upstream.work)
    upstream.force_push()
    return sha


def signed_for_namespace(upstream: Upstream, ssh_key_path: str, namespace: str) -> str:
    """Commit, then sign the commit's bytes with `ssh-keygen -Y sign -n namespace` (as for another purpose than
    git) and push that signed copy: the signature is good, but not one made for a commit."""
    unsigned = upstream.commit({"hosts": "[web]\nelsewhere\n"}, push=False)
    raw = subprocess.run(["git", "cat-file", "commit", unsigned], cwd=upstream.work, capture_output=True,
                         check=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        payload = os.path.join(tmp, "payload")
        with open(payload, "wb") as handle:
            handle.write(raw)
        subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-f", ssh_key_path, "-n", namespace, payload], check=True,
                       capture_output=True)
        with open(payload + ".sig", "rb") as handle:
            signature = handle.read().strip()
    head, _sep, message = raw.partition(b"\n\n")
    header = b"gpgsig " + signature.replace(b"\n", b"\n ")
    sha = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--stdin"], cwd=upstream.work,
                         input=head + b"\n" + header + b"\n\n" + message, capture_output=True,
                         check=True).stdout.decode().strip()
    git("update-ref", f"refs/heads/{upstream.branch}", sha, cwd=upstream.work)
    upstream.force_push()
    return sha
