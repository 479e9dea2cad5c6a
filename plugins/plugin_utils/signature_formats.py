# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The texts commit_signatures reads: OpenPGP fingerprints, gpg's status lines, SSH signatures and
git's allowed signers file. Pure functions, no programs run, no Ansible imports."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass, field

__metaclass__ = type

# gpg status keywords that end one signature's check (doc/DETAILS of GnuPG); git accepts only GOODSIG.
_RESULTS = ("GOODSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG", "BADSIG", "ERRSIG")
_FINGERPRINT = re.compile(r"(?:[0-9A-F]{40}|[0-9A-F]{64})")
_SSH_ARMOR = re.compile(rb"-----BEGIN SSH SIGNATURE-----\s*\n(.*?)-----END SSH SIGNATURE-----", re.S)


def normalise_fingerprint(value) -> str:
    """An OpenPGP fingerprint as gpg prints it in status lines: upper-case hex, no spaces. ValueError if it is none."""
    text = re.sub(r"\s+", "", str(value)).upper()
    if text.startswith("0X"):
        text = text[2:]
    if not _FINGERPRINT.fullmatch(text):
        raise ValueError(
            f"the option 'gpg_allowlist' holds {str(value)!r}, which is not an OpenPGP fingerprint (40 or 64 hex "
            "digits, as gpg --fingerprint shows them; a short key id is not enough)")
    return text


@dataclass
class GpgStatus:
    signatures: int = 0  # NEWSIG lines: gpg met this many signatures
    result: str | None = None  # the last of _RESULTS seen
    key: str | None = None  # the key id (or fingerprint) the result names
    fingerprint: str | None = None  # VALIDSIG: the key that made the signature (a subkey, maybe)
    primary: str | None = None  # VALIDSIG: its primary key
    missing_key: bool = False  # NO_PUBKEY, or ERRSIG with return code 9


def parse_gpg_status(text: str) -> GpgStatus:
    """Read `gpg --status-fd` output. Only "[GNUPG:] " lines count; the user ids in them are never trusted."""
    status = GpgStatus()
    results = 0
    for line in text.splitlines():
        if not line.startswith("[GNUPG:] "):
            continue
        words = line[len("[GNUPG:] "):].split()
        if not words:
            continue
        keyword, args = words[0], words[1:]
        if keyword == "NEWSIG":
            status.signatures += 1
        elif keyword in _RESULTS:
            results += 1
            status.result = keyword
            status.key = args[0].upper() if args else None
            if keyword == "ERRSIG" and len(args) >= 6:
                status.missing_key = status.missing_key or args[5] == "9"
                if len(args) >= 7 and _FINGERPRINT.fullmatch(args[6].upper()):
                    status.key = args[6].upper()
        elif keyword == "NO_PUBKEY":
            status.missing_key = True
        elif keyword == "VALIDSIG" and args:
            status.fingerprint = args[0].upper()
            # The primary key's fingerprint is the tenth argument; older gpg versions omit it.
            status.primary = args[9].upper() if len(args) >= 10 else args[0].upper()
    # A status without NEWSIG (very old gpg) still counts its results; two results are two signatures.
    status.signatures = max(status.signatures, results)
    return status


def parse_sshsig(armored: bytes) -> tuple[bytes, str]:
    """(public key blob, namespace) of one armored SSH signature (OpenSSH's PROTOCOL.sshsig). ValueError if malformed."""
    blocks = _SSH_ARMOR.findall(armored)
    if len(blocks) != 1:
        raise ValueError(f"{len(blocks)} SSH signature blocks where git writes exactly one")
    try:
        blob = base64.b64decode(b"".join(blocks[0].split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("its base64 does not decode") from None
    if not blob.startswith(b"SSHSIG"):
        raise ValueError("no SSHSIG magic")
    offset = 6
    if len(blob) < offset + 4:
        raise ValueError("truncated")
    (version,) = struct.unpack(">I", blob[offset:offset + 4])
    offset += 4
    if version != 1:
        raise ValueError(f"unknown SSHSIG version {version}")
    public_key, offset = _ssh_string(blob, offset)
    namespace, offset = _ssh_string(blob, offset)
    return public_key, namespace.decode("utf-8", "replace")


def _ssh_string(blob: bytes, offset: int) -> tuple[bytes, int]:
    if len(blob) < offset + 4:
        raise ValueError("truncated")
    (size,) = struct.unpack(">I", blob[offset:offset + 4])
    offset += 4
    if len(blob) < offset + size:
        raise ValueError("truncated")
    return blob[offset:offset + size], offset + size


def ssh_fingerprint(key_blob: bytes) -> str:
    """The fingerprint ssh-keygen -l shows: SHA256: and unpadded base64."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key_blob).digest()).decode("ascii").rstrip("=")


@dataclass
class AllowedSigner:
    principals: str
    options: dict = field(default_factory=dict)
    key: bytes = b""


def parse_allowed_signers(text: str) -> list[AllowedSigner]:
    """The lines of an allowed signers file (ssh-keygen(1), ALLOWED SIGNERS); lines it cannot read are skipped.

    `principals [options] keytype base64-key [comment]`, options comma-separated, values maybe quoted.
    """
    signers = []
    for raw in text.splitlines():
        words = _words(raw.strip())
        if not words or words[0].startswith("#") or len(words) < 3:
            continue
        principals = words[0].strip('"')
        options_word = ""
        rest = words[1:]
        if not _looks_like_key_type(rest[0]):
            options_word, rest = rest[0], rest[1:]
        if len(rest) < 2:
            continue
        try:
            key = base64.b64decode(rest[1], validate=True)
        except (binascii.Error, ValueError):
            continue
        signers.append(AllowedSigner(principals=principals, options=_options(options_word), key=key))
    return signers


def _looks_like_key_type(word: str) -> bool:
    return word.startswith(("ssh-", "ecdsa-", "sk-", "rsa-sha2-"))


def _words(line: str) -> list[str]:
    """Split on blanks outside double quotes."""
    words, current, quoted = [], [], False
    for char in line:
        if char == '"':
            quoted = not quoted
        if char in " \t" and not quoted:
            if current:
                words.append("".join(current))
                current = []
            continue
        current.append(char)
    if current:
        words.append("".join(current))
    return words


def _options(word: str) -> dict:
    options, current, quoted = {}, [], False
    for char in word + ",":
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            item = "".join(current)
            current = []
            if item:
                name, _sep, value = item.partition("=")
                options[name.lower()] = value.strip('"')
            continue
        current.append(char)
    return options
