"""A stored parse is data, and only this cache's: a planted file that would run a program (a dotted
name under an Ansible module, as the old reader let through), with a digest made the way someone
without the key would, or even with the right key, is parsed again with one warning and never run;
a file from a cache root with another key is parsed again too. Real ansible-inventory runs."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import pickle
import shutil

from conftest import oracle, strip_audit, write_source

from ansible_collections.vcs.inventory.plugins.plugin_utils import parsed_store

HOSTS = "web:\n  hosts:\n    web1:\n      http_port: 8080\n    web2:\n"
DAMAGED = "ignoring the damaged stored parse"
REPLAYED = "the stored parse of "  # restored or replayed


def _stored(ansible) -> str:
    (path,) = glob.glob(os.path.join(ansible.cache_dir, "*", "parsed", "*.pickle"))
    return path


def _list(ansible, source, tmp_path) -> tuple[dict, str]:
    out = tmp_path / "listing.json"
    proc = ansible.inventory("-i", source, "--list", "--output", out, "-vvv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text()), proc.stdout + proc.stderr


def _popen_pickle(marker) -> bytes:
    """Calls subprocess.Popen, named as ("ansible.module_utils.basic", "subprocess.Popen")."""
    def text(value: str) -> bytes:
        return b"\x8c" + bytes([len(value)]) + value.encode()

    args = pickle.dumps((["sh", "-c", f"id > '{marker}'"],), protocol=2)[2:-1]
    return b"\x80\x04" + text("ansible.module_utils.basic") + text("subprocess.Popen") + b"\x93" + args + b"R."


def _plant(path: str, body: bytes, digest) -> None:
    with open(path, "rb") as handle:
        header = json.loads(handle.readline())
    header.update(snapshot_size=0, snapshot_digest="", digest="")
    header["digest"] = digest(header, body)
    with open(path, "wb") as handle:
        handle.write(json.dumps(header).encode() + b"\n" + body)


def _parsed_again_once(ansible, source, tmp_path, expected, why: str) -> None:
    listing, printed = _list(ansible, source, tmp_path)
    assert strip_audit(listing) == expected
    assert printed.count(DAMAGED) == 1 and why in printed, printed
    listing, printed = _list(ansible, source, tmp_path)  # overwritten by that parse, and used again
    assert strip_audit(listing) == expected
    assert REPLAYED in printed and DAMAGED not in printed


def test_a_planted_stored_parse_never_runs(ansible, upstream, tmp_path):
    commit = upstream.commit({"inv/hosts.yml": HOSTS})
    source = write_source(tmp_path, url=upstream.bare, path="inv")
    expected = oracle(ansible, upstream, commit, "inv", tmp_path)
    _list(ansible, source, tmp_path)
    stored = _stored(ansible)
    marker = tmp_path / "marker"
    body = _popen_pickle(marker)

    # Without the key: the digest of the old scheme (unkeyed BLAKE2b) is refused before any unpickling.
    _plant(stored, body, lambda header, data: hashlib.blake2b(data, digest_size=16).hexdigest())
    _parsed_again_once(ansible, source, tmp_path, expected, "does not match")
    assert not marker.exists()

    # With the key (whoever can read the cache root can): the list of classes alone stops it.
    with open(os.path.join(ansible.cache_dir, ".parse.key"), "rb") as handle:
        key = handle.read()
    _plant(stored, body, lambda header, data: parsed_store._digest(key, header, b"calls", data))
    _parsed_again_once(ansible, source, tmp_path, expected, "ansible.module_utils.basic.subprocess.Popen is not allowed")
    assert not marker.exists()


def test_a_stored_parse_from_a_cache_with_another_key_is_parsed_again(ansible, upstream, tmp_path):
    commit = upstream.commit({"inv/hosts.yml": HOSTS})
    source = write_source(tmp_path, url=upstream.bare, path="inv")
    expected = oracle(ansible, upstream, commit, "inv", tmp_path)
    _list(ansible, source, tmp_path)
    stored = _stored(ansible)
    copy = tmp_path / "copied.pickle"
    shutil.copyfile(stored, copy)
    key = os.path.join(ansible.cache_dir, ".parse.key")
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"

    # The same cache path made again (a restored backup, another machine's cache): a new key.
    shutil.rmtree(ansible.cache_dir)
    _list(ansible, source, tmp_path)
    shutil.copyfile(copy, _stored(ansible))
    _parsed_again_once(ansible, source, tmp_path, expected, "does not match")
