# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check a commit's signature before anything of it is used: OpenPGP through gpg, SSH through ssh-keygen.

From dulwich: Commit.extract_signature (the exact payload the signature covers) and
detect_signature_format. Its verifiers are not used as they are (dulwich 1.2.21):
GPGCliSignatureVendor takes gpg's exit code 0 as success, which gpg also returns for a signature by
an expired or revoked key, and names no signer unless given keyids; SSHCliSignatureVendor verifies
as the principal "git", so a signer named anything else never verifies; porcelain.verify_commit reads
gpg.program from the repository's own config and returns silently for an unsigned commit. The
commands below are the ones git verify-commit runs, and the decision is made on gpg's status lines
and ssh-keygen's exit codes; the allowed signers file is read here only to explain a refusal.

No Ansible imports: plain values in, the signer out, or UnverifiedCommit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from ansible_collections.vcs.inventory.plugins.plugin_utils import signature_formats
from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import SyncError

__metaclass__ = type

NAMESPACE = "git"  # what git signs commits for (ssh-keygen -n)
PROGRAM_TIMEOUT = 60
_PACKAGES = {"gpg": "gnupg", "ssh-keygen": "openssh-client"}
_RPM_PACKAGES = {"gpg": "gnupg2", "ssh-keygen": "openssh-clients"}


class UnverifiedCommit(SyncError):
    """The commit to read carries no good signature from an allowed key. Nothing of it was used."""


@dataclass(frozen=True)
class VerifyOptions:
    allowlist: tuple[str, ...] = ()  # normalised OpenPGP fingerprints; empty: any key of the keyring
    allowed_signers: str | None = None  # git's gpg.ssh.allowedSignersFile format


def verify_options(enabled, allowed_signers, allowlist) -> VerifyOptions | None:
    """The options of verify_commit, ssh_allowed_signers and gpg_allowlist; None when off. ValueError if wrong."""
    if not enabled:
        return None
    if allowlist in (None, ""):
        allowlist = []
    if isinstance(allowlist, str):
        allowlist = [allowlist]
    fingerprints = tuple(dict.fromkeys(signature_formats.normalise_fingerprint(item) for item in allowlist))
    path = os.path.abspath(os.path.expanduser(allowed_signers)) if allowed_signers else None
    return VerifyOptions(allowlist=fingerprints, allowed_signers=path)


def gnupg_home() -> str:
    return os.environ.get("GNUPGHOME") or os.path.join(os.path.expanduser("~"), ".gnupg")


def settings_digest(opts: VerifyOptions) -> str:
    """What a commit was verified against: allowlist, allowed signers (file content) and public keyring.

    Stored with the last good commit and in the parsed-result key: when any of it changes, a
    cached commit is verified again before it is served.
    """
    home = gnupg_home()
    parts = {
        "allowlist": list(opts.allowlist), "allowed_signers": opts.allowed_signers,
        "allowed_signers_sha256": _file_digest(opts.allowed_signers), "gnupghome": home,
        "keyring": [_file_digest(os.path.join(home, name)) for name in ("pubring.kbx", "pubring.gpg")],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _file_digest(path: str | None) -> str | None:
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        return f"unreadable: {type(exc).__name__}"


def verify(repo, commit: str, version: str, safe_url: str, opts: VerifyOptions) -> str:
    """Check the signature of commit (in repo); return who signed it, or raise UnverifiedCommit."""
    where = f"the commit {commit[:12]} of {safe_url} at version '{version}'"
    try:
        payload, signature, _kind = repo[commit.encode()].extract_signature()
    except Exception as exc:  # noqa: BLE001 - dulwich's ObjectFormatException for a signature of no known format
        raise UnverifiedCommit(f"refusing {where}: its signature is not one git makes ({exc}); verify_commit is on, "
                               "so only a commit signed with an OpenPGP or SSH key is read") from None
    if signature is None:
        raise UnverifiedCommit(f"refusing {where}: it is not signed, and verify_commit is on; sign the commits "
                               "the inventory is read from (git commit -S), or set 'version' to a signed one")
    from dulwich.signature import SIGNATURE_FORMAT_OPENPGP, SIGNATURE_FORMAT_SSH, detect_signature_format

    try:
        kind = detect_signature_format(signature)
    except ValueError:
        kind = None
    if kind == SIGNATURE_FORMAT_OPENPGP:
        return _verify_openpgp(payload, signature, where, opts)
    if kind == SIGNATURE_FORMAT_SSH:
        return _verify_ssh(payload, signature, where, opts)
    raise UnverifiedCommit(f"refusing {where}: it is signed with an X.509 (gpgsm) or unknown kind of signature, "
                           "which vcs.inventory cannot verify; sign with an OpenPGP or SSH key")


def _run(program: str, args: list[str], payload: bytes, where: str) -> subprocess.CompletedProcess:
    if shutil.which(program) is None:
        raise UnverifiedCommit(
            f"cannot verify {where}: the program '{program}' is missing from PATH; install it (package "
            f"{_PACKAGES[program]} on Debian and Ubuntu, {_RPM_PACKAGES[program]} on Fedora and RHEL; see bindep.txt)")
    try:
        return subprocess.run([program, *args], input=payload, capture_output=True, timeout=PROGRAM_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        raise UnverifiedCommit(f"cannot verify {where}: '{program}' did not finish within {PROGRAM_TIMEOUT}s") from None
    except OSError as exc:
        raise UnverifiedCommit(f"cannot verify {where}: cannot run '{program}': {exc}") from None


def _stderr(proc: subprocess.CompletedProcess) -> str:
    lines = [line.strip() for line in proc.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return "; ".join(lines[-3:]) or f"exit code {proc.returncode}"


# -- OpenPGP ------------------------------------------------------------------------------------
def _verify_openpgp(payload: bytes, signature: bytes, where: str, opts: VerifyOptions) -> str:
    with tempfile.TemporaryDirectory(prefix="vcs-inventory-sig-") as tmp:
        sig_file = os.path.join(tmp, "commit.sig")
        with open(sig_file, "wb") as handle:
            handle.write(signature)
        # --no-auto-key-retrieve: a key missing from the keyring must not be fetched from a key
        # server (where anyone can publish one) just because the signature names it.
        proc = _run("gpg", ["--batch", "--no-tty", "--no-auto-key-retrieve", "--status-fd=1", "--verify",
                            sig_file, "-"], payload, where)
    status = signature_formats.parse_gpg_status(proc.stdout.decode("utf-8", "replace"))
    home = gnupg_home()
    if status.signatures != 1:
        raise UnverifiedCommit(f"refusing {where}: its signature block holds {status.signatures} OpenPGP signatures; "
                               "git signs a commit with exactly one; find out who pushed it")
    if status.result == "ERRSIG" and status.missing_key:
        raise UnverifiedCommit(
            f"refusing {where}: it is signed by the OpenPGP key {status.key}, which is not in the GnuPG keyring "
            f"{home} (GNUPGHOME); if that key may sign the inventory, import its public key there (gpg --import)")
    if status.result == "BADSIG" or status.result == "ERRSIG":
        raise UnverifiedCommit(
            f"refusing {where}: its OpenPGP signature is bad (key {status.key}): the commit was changed after it was "
            f"signed, or the signature is forged; do not use it, and find out who pushed it ({_stderr(proc)})")
    if status.result in ("EXPKEYSIG", "REVKEYSIG", "EXPSIG"):
        what = {"EXPKEYSIG": "which has expired", "REVKEYSIG": "which has been revoked",
                "EXPSIG": "and that signature has expired"}[status.result]
        raise UnverifiedCommit(
            f"refusing {where}: it carries a signature by the OpenPGP key {status.primary or status.key}, {what}; "
            "re-sign the commit with a current key (or extend the key's expiry and re-import it)")
    if status.result != "GOODSIG" or not status.fingerprint or proc.returncode != 0:
        raise UnverifiedCommit(f"refusing {where}: gpg did not report a good signature ({_stderr(proc)}); "
                               "check it with git verify-commit -v in a clone")
    signer = status.primary or status.fingerprint
    if opts.allowlist and signer not in opts.allowlist and status.fingerprint not in opts.allowlist:
        raise UnverifiedCommit(
            f"refusing {where}: it is signed by the OpenPGP key {signer}, which is not in 'gpg_allowlist'; add that "
            "fingerprint to 'gpg_allowlist' if the key may sign the inventory")
    return signer


# -- SSH ----------------------------------------------------------------------------------------
def _verify_ssh(payload: bytes, signature: bytes, where: str, opts: VerifyOptions) -> str:
    path = opts.allowed_signers
    if not path:
        raise UnverifiedCommit(f"refusing {where}: it is signed with an SSH key, and no allowed signers file is set; "
                               "set 'ssh_allowed_signers' to a file that lists the keys that may sign the inventory")
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            allowed_text = handle.read()
    except OSError as exc:
        raise UnverifiedCommit(f"cannot verify {where}: cannot read the allowed signers file {path} "
                               f"(option 'ssh_allowed_signers'): {exc.strerror or exc}") from None
    try:
        key_blob, namespace = signature_formats.parse_sshsig(signature)
    except ValueError as exc:
        raise UnverifiedCommit(f"refusing {where}: its SSH signature is malformed ({exc}); git does not "
                               "write such signatures: find out who pushed it") from None
    fingerprint = signature_formats.ssh_fingerprint(key_blob)
    if namespace != NAMESPACE:
        raise UnverifiedCommit(f"refusing {where}: its SSH signature was made for the namespace {namespace!r}, "
                               f"not {NAMESPACE!r}; it is not a commit signature: find out who pushed it")
    with tempfile.TemporaryDirectory(prefix="vcs-inventory-sig-") as tmp:
        sig_file = os.path.join(tmp, "commit.sig")
        with open(sig_file, "wb") as handle:
            handle.write(signature)
        found = _run("ssh-keygen", ["-Y", "find-principals", "-f", path, "-s", sig_file], b"", where)
        principals = [p.strip() for p in found.stdout.decode("utf-8", "replace").splitlines() if p.strip()]
        if found.returncode != 0 or not principals:
            raise UnverifiedCommit(f"refusing {where}: {describe_ssh_refusal(allowed_text, key_blob, fingerprint, path)}")
        for principal in principals:
            proc = _run("ssh-keygen", ["-Y", "verify", "-f", path, "-I", principal, "-n", NAMESPACE, "-s", sig_file],
                        payload, where)
            if proc.returncode == 0:
                shown = re.search(r"\bSHA256:[A-Za-z0-9+/]+", proc.stdout.decode("utf-8", "replace"))
                return f"{principal} {shown.group(0) if shown else fingerprint}"
    raise UnverifiedCommit(
        f"refusing {where}: its SSH signature by {principals[0]} ({fingerprint}) is bad: the commit was changed after "
        f"it was signed, or the signature is forged; do not use it, and find out who pushed it ({_stderr(proc)})")


def describe_ssh_refusal(allowed_text: str, key_blob: bytes, fingerprint: str, path: str) -> str:
    lines = [s for s in signature_formats.parse_allowed_signers(allowed_text) if s.key == key_blob]
    if not lines:
        return (f"it is signed by the SSH key {fingerprint}, which is not in the allowed signers file {path} "
                "(option 'ssh_allowed_signers'); add a line for it if that key may sign the inventory")
    windows = [f"{name}={value}" for line in lines for name, value in line.options.items()
               if name in ("valid-after", "valid-before")]
    if windows:
        return (f"it is signed by the SSH key {fingerprint} of {lines[0].principals}, which the allowed signers file "
                f"{path} accepts only within {', '.join(windows)}; the key has expired or is not valid yet: re-sign "
                "the commit with a current key, or change that line")
    return (f"it is signed by the SSH key {fingerprint} of {lines[0].principals}, which the allowed signers file {path} "
            f"does not accept for the namespace '{NAMESPACE}' (see its namespaces= option)")
