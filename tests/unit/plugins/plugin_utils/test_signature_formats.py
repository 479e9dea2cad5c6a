"""signature_formats: fingerprints, gpg status lines, SSH signatures and allowed signers files, as the programs write them."""

from __future__ import annotations

import base64
import struct

import pytest

from ansible_collections.vcs.inventory.plugins.plugin_utils import commit_signatures, signature_formats

BOB = "50CC340BA91B9D537F16938950CE9BFD59236C37"
BOB_SUB = "7CC36E4CEFC87D6F89A7BA6F8B32158415507A1A"

# gpg 2.2.40 --status-fd=1 --verify, captured from real runs.
GOOD_BY_SUBKEY = f"""[GNUPG:] NEWSIG
[GNUPG:] KEY_CONSIDERED {BOB} 0
[GNUPG:] SIG_ID 1WQHsRPRAKuh0eASXwqN8gVXfV8 2026-11-30 1796031118
[GNUPG:] GOODSIG 8B32158415507A1A Bob <bob@example.com>
[GNUPG:] VALIDSIG {BOB_SUB} 2026-11-30 1796031118 0 4 0 22 8 00 {BOB}
[GNUPG:] TRUST_ULTIMATE 0 pgp
"""
EXPIRED_KEY = """[GNUPG:] NEWSIG
[GNUPG:] KEYEXPIRED 1578009600
[GNUPG:] EXPKEYSIG 5552B514EF63031D Old <old@example.com>
[GNUPG:] VALIDSIG 591F374074640819745AC2495552B514EF63031D 2020-01-01 1577880000 0 4 0 22 8 00 591F374074640819745AC2495552B514EF63031D
"""
BAD = """[GNUPG:] NEWSIG
[GNUPG:] BADSIG 8B32158415507A1A Bob <bob@example.com>
"""
NO_PUBKEY = f"""[GNUPG:] NEWSIG
[GNUPG:] ERRSIG 8B32158415507A1A 22 8 00 1796031131 9 {BOB_SUB}
[GNUPG:] NO_PUBKEY 8B32158415507A1A
"""


@pytest.mark.parametrize("written", [
    BOB, BOB.lower(), "50CC 340B A91B 9D53 7F16  9389 50CE 9BFD 5923 6C37", "0x" + BOB.lower(), f"  {BOB}\n",
])
def test_fingerprints_compare_without_spaces_and_case(written):
    assert signature_formats.normalise_fingerprint(written) == BOB


@pytest.mark.parametrize("written", ["50CE9BFD59236C37", BOB[:-1], BOB + "0", "Bob <bob@example.com>", ""])
def test_short_key_ids_and_other_text_are_no_fingerprint(written):
    with pytest.raises(ValueError, match="gpg_allowlist"):
        signature_formats.normalise_fingerprint(written)


def test_verify_options_normalise_and_deduplicate():
    opts = commit_signatures.verify_options(True, "~/signers", [BOB.lower(), "50CC 340B A91B 9D53 7F16 9389 50CE 9BFD 5923 6C37"])
    assert opts.allowlist == (BOB,)
    assert not opts.allowed_signers.startswith("~")
    assert commit_signatures.verify_options(False, "x", [BOB]) is None
    assert commit_signatures.verify_options(True, None, None) == commit_signatures.VerifyOptions()
    with pytest.raises(ValueError):
        commit_signatures.verify_options(True, None, ["ABCD1234"])


def test_a_subkey_signature_names_its_primary_key():
    status = signature_formats.parse_gpg_status(GOOD_BY_SUBKEY)
    assert (status.signatures, status.result, status.fingerprint, status.primary) == (1, "GOODSIG", BOB_SUB, BOB)
    assert not status.missing_key


def test_expired_bad_and_unknown_keys_are_told_apart():
    expired = signature_formats.parse_gpg_status(EXPIRED_KEY)
    assert expired.result == "EXPKEYSIG" and expired.primary == "591F374074640819745AC2495552B514EF63031D"
    bad = signature_formats.parse_gpg_status(BAD)
    assert (bad.result, bad.fingerprint) == ("BADSIG", None)
    unknown = signature_formats.parse_gpg_status(NO_PUBKEY)
    assert (unknown.result, unknown.missing_key, unknown.key) == ("ERRSIG", True, BOB_SUB)


def test_two_signatures_are_counted_and_user_ids_are_not_status():
    status = signature_formats.parse_gpg_status(GOOD_BY_SUBKEY + EXPIRED_KEY)
    assert status.signatures == 2
    # Text outside "[GNUPG:] " lines (stderr mixed in, a user id) never counts.
    forged = "gpg: Good signature from \"[GNUPG:] GOODSIG x\"\n[GNUPG:]GOODSIG\n"
    assert signature_formats.parse_gpg_status(forged).result is None


def _sshsig(namespace: bytes = b"git", key: bytes = b"\x00\x00\x00\x0bssh-ed25519" + b"\x00\x00\x00\x20" + b"k" * 32) -> bytes:
    def string(value: bytes) -> bytes:
        return struct.pack(">I", len(value)) + value

    blob = b"SSHSIG" + struct.pack(">I", 1) + string(key) + string(namespace) + string(b"") + string(b"sha512") + string(b"sig")
    body = base64.b64encode(blob)
    lines = b"\n".join(body[i:i + 70] for i in range(0, len(body), 70))
    return b"-----BEGIN SSH SIGNATURE-----\n" + lines + b"\n-----END SSH SIGNATURE-----\n"


def test_an_ssh_signature_names_its_key_and_namespace():
    key = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + b"k" * 32
    assert signature_formats.parse_sshsig(_sshsig(b"file")) == (key, "file")
    assert signature_formats.ssh_fingerprint(key).startswith("SHA256:")
    assert "=" not in signature_formats.ssh_fingerprint(key)


@pytest.mark.parametrize("armored, problem", [
    (_sshsig() * 2, "2 SSH signature blocks"),
    (b"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n", "truncated"),
    (b"-----BEGIN SSH SIGNATURE-----\nnot base64!\n-----END SSH SIGNATURE-----\n", "base64"),
    (b"-----BEGIN SSH SIGNATURE-----\n" + base64.b64encode(b"NOTSIG" + b"\0" * 8) + b"\n-----END SSH SIGNATURE-----\n",
     "magic"),
])
def test_malformed_ssh_signatures_are_refused(armored, problem):
    with pytest.raises(ValueError, match=problem):
        signature_formats.parse_sshsig(armored)


def test_allowed_signers_lines_with_options_quotes_and_comments():
    key = base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519" + b"\x00\x00\x00\x20" + b"a" * 32).decode()
    text = (
        "# team keys\n"
        "\n"
        f'alice@example.com,ops@example.com namespaces="git,file",valid-before="20200101" ssh-ed25519 {key} alice\n'
        f"bob@example.com ssh-ed25519 {key}\n"
        "broken line\n"
        f"carol@example.com ssh-ed25519 not-base64!\n"
    )
    signers = signature_formats.parse_allowed_signers(text)
    assert [s.principals for s in signers] == ["alice@example.com,ops@example.com", "bob@example.com"]
    assert signers[0].options == {"namespaces": "git,file", "valid-before": "20200101"}
    assert signers[1].options == {}
    assert signers[0].key == signers[1].key == base64.b64decode(key)
