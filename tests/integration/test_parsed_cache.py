"""The stored parse: a rerun of an unchanged commit replays what the parsers produced, and gives
exactly what a fresh parse gives (the oracle, template trust, vault); a new commit or a changed
option parses again; a damaged file is rebuilt; vault values stay encrypted on disk."""

from __future__ import annotations

import glob
import json
import os
import re

import pytest

from conftest import oracle, strip_audit, write_source

REPLAYED = "the stored parse of "  # replayed, or restored in one step
DAMAGED = "ignoring the damaged stored parse"
RESTORED = "restored the stored parse"  # the stored hosts and groups, put into an empty inventory at once
REPLAYED_CALLS = "replayed the stored parse"  # the stored calls, for an inventory that already has hosts

INI = """\
[web]
web[1:3] ansible_host=10.0.0.1 http_port=8080 tags='["a", "b"]'
db1:2222 role=primary

[db]
db1

[prod:children]
web
db

[prod:vars]
env=prod
ratio=1.5
"""

YAML = """\
edge:
  hosts:
    edge1:
      ansible_port: 2200
      limits: {cpu: 2, ports: [80, 443]}
  children:
    edge_eu:
      hosts:
        edge2:
      vars:
        region: eu
"""

PLAY = """\
- hosts: web1,edge1
  gather_facts: false
  tasks:
    - debug:
        msg: "SHOWN={{ shown }}"
"""


def _files() -> dict:
    return {
        "inv/hosts": INI,
        "inv/more.yml": YAML,
        "inv/group_vars/web.yml": "from_group_vars: yes\n",
        "inv/host_vars/db1.yml": "backup: true\n",
        "other/hosts": "[other]\nother1\n",
    }


def _stored(ansible) -> list[str]:
    return sorted(glob.glob(os.path.join(ansible.cache_dir, "*", "parsed", "*.pickle")))


def _list(ansible, source, tmp_path, *args, env=None) -> tuple[dict, str]:
    """ansible-inventory --list at -vvv: (the listing, what it printed)."""
    out = tmp_path / "listing.json"
    proc = ansible.inventory("-i", source, "--list", "--output", out, "-vvv", *args, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text()), proc.stdout + proc.stderr


def test_a_rerun_replays_the_stored_parse_and_equals_the_oracle(ansible, upstream, tmp_path):
    commit = upstream.commit(_files())
    source = write_source(tmp_path, url=upstream.bare, path="inv")
    expected = oracle(ansible, upstream, commit, "inv", tmp_path)

    first, printed = _list(ansible, source, tmp_path)
    assert REPLAYED not in printed
    assert strip_audit(first) == expected
    assert len(_stored(ansible)) == 1

    second, printed = _list(ansible, source, tmp_path)
    assert REPLAYED in printed, printed
    assert second == first
    assert second["_meta"]["hostvars"]["edge1"]["limits"] == {"cpu": 2, "ports": [80, 443]}
    assert second["_meta"]["hostvars"]["web2"]["from_group_vars"] is True  # group_vars: read at run time

    # --flush-cache parses afresh (and stores again).
    play = tmp_path / "play.yml"
    play.write_text(PLAY.replace("web1,edge1", "web1").replace("SHOWN={{ shown }}", "ENV={{ env }}"))
    proc = ansible.playbook("-i", source, play, "--flush-cache", "-vvv")
    assert proc.returncode == 0 and '"msg": "ENV=prod"' in proc.stdout, proc.stdout + proc.stderr
    assert REPLAYED not in proc.stdout + proc.stderr


def test_a_new_commit_or_a_changed_option_parses_again(ansible, upstream, tmp_path):
    upstream.commit(_files())
    source = write_source(tmp_path, url=upstream.bare, path="inv")
    _list(ansible, source, tmp_path)

    commit = upstream.commit({"inv/hosts": INI.replace("web[1:3]", "web[1:4]")})
    listing, printed = _list(ansible, source, tmp_path)
    assert REPLAYED not in printed
    assert strip_audit(listing) == oracle(ansible, upstream, commit, "inv", tmp_path)
    assert "web4" in listing["web"]["hosts"]
    listing, printed = _list(ansible, source, tmp_path)
    assert REPLAYED in printed and "web4" in listing["web"]["hosts"]
    assert len(_stored(ansible)) == 1  # one file per configuration: the new commit replaced it

    for name, options in {"path": {"path": "other"}, "keyed": {"path": "inv", "keyed_groups": [{"key": "role"}]}}.items():
        changed = write_source(tmp_path, f"{name}.git.yml", url=upstream.bare, **options)
        listing, printed = _list(ansible, changed, tmp_path)
        assert REPLAYED not in printed, name
        replayed, printed = _list(ansible, changed, tmp_path)
        assert REPLAYED in printed and replayed == listing, name
    assert set(listing["_meta"]["hostvars"]) >= {"web1", "db1"} and "_primary" in listing
    assert len(_stored(ansible)) == 3


@pytest.mark.parametrize("trust", [True, False])
def test_template_trust_after_a_replay_is_that_of_a_fresh_parse(ansible, upstream, tmp_path, trust):
    upstream.commit({
        "inv/hosts": '[web]\nweb1 shown="{{ inventory_hostname | upper }}"\n',
        # TOML asks Ansible to mark trust for it (ansible-core 2.19), which a composed value then shares.
        "inv/edge.toml": '[edge.hosts.edge1]\nshown = "{{ inventory_hostname | upper }}"\n',
    })
    source = write_source(tmp_path, url=upstream.bare, path="inv", trust_repo=trust,
                          compose={"composed": "'{{' ~ ' 6 * 7 ' ~ '}}'"})
    play = tmp_path / "play.yml"
    play.write_text(PLAY.replace("SHOWN={{ shown }}", "SHOWN={{ shown }} COMPOSED={{ composed }}"))
    # toml before ini, so that ansible-core 2.16 too reads the .toml file as TOML.
    enabled = {"ANSIBLE_INVENTORY_ENABLED": "vcs.inventory.git,host_list,script,auto,yaml,toml,ini"}
    runs = []
    for _run in range(2):
        proc = ansible.playbook("-i", source, play, "-vvv", env=enabled)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        runs.append(sorted(line.strip() for line in proc.stdout.splitlines() if '"msg": "SHOWN=' in line))
    assert REPLAYED in proc.stdout + proc.stderr
    assert runs[0] == runs[1] and len(runs[0]) == 2
    rendered = any("SHOWN=WEB1" in line for line in runs[0])
    assert rendered is trust, runs[0]


@pytest.mark.parametrize("trust", [True, False])
def test_a_restore_or_a_replay_equals_a_fresh_parse_also_after_another_source(ansible, upstream, tmp_path, trust):
    commit = upstream.commit(_files())
    source = write_source(tmp_path, url=upstream.bare, path="inv", trust_repo=trust)
    before = tmp_path / "before.ini"
    # An untrusted repository may not set variables of a host another source defined (it warns, and a
    # parse that warned is not stored): there the other source shares groups, not hosts.
    shared = "web1 from_before=1 http_port=1\n" if trust else ""
    before.write_text(f"[web]\nweb9 colour=red\n{shared}[lonely]\nsolo\n")

    def listing(*sources, flush=False) -> tuple[dict, str]:
        if flush:  # a fresh parse (ansible-inventory of 2.16 has no --flush-cache)
            for stored in _stored(ansible):
                os.unlink(stored)
        out = tmp_path / "listing.json"
        args = [a for s in sources for a in ("-i", s)] + ["--list", "--output", out, "-vvv"]
        proc = ansible.inventory(*args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(out.read_text()), proc.stdout + proc.stderr

    fresh, printed = listing(source, flush=True)
    assert REPLAYED not in printed
    if trust:
        assert strip_audit(fresh) == oracle(ansible, upstream, commit, "inv", tmp_path)
    restored, printed = listing(source)
    assert RESTORED in printed and REPLAYED_CALLS not in printed
    assert restored == fresh

    # Another source first: the inventory has hosts already, so a parse stored after the same source
    # is replayed call by call (parsers skip calls for groups that exist, so it is only for that start).
    fresh_after, printed = listing(before, source)
    assert REPLAYED not in printed and "started from other sources" in printed
    replayed, printed = listing(before, source)
    assert REPLAYED_CALLS in printed and RESTORED not in printed
    assert replayed == fresh_after
    assert "web9" in replayed["web"]["hosts"]
    if trust:
        assert replayed["_meta"]["hostvars"]["web1"]["from_before"] == 1
        assert replayed["_meta"]["hostvars"]["web1"]["http_port"] == 8080  # the later source wins, as for -i copies
    else:  # the repository's group vars reach its own hosts, not web9 of the other source
        assert "http_port" in replayed["_meta"]["hostvars"]["web1"]
        assert replayed["_meta"]["hostvars"]["web9"] == {"colour": "red"}

    # Back to an empty start: that parse is not replayed into it; the next run restores in one step.
    again, printed = listing(source, before)
    assert REPLAYED not in printed
    restored_first, printed = listing(source, before)
    assert RESTORED in printed
    assert restored_first == again == listing(source, before, flush=True)[0]


def test_a_damaged_or_foreign_file_is_rebuilt(ansible, upstream, tmp_path):
    commit = upstream.commit(_files())
    source = write_source(tmp_path, url=upstream.bare, path="inv")
    expected = oracle(ansible, upstream, commit, "inv", tmp_path)
    _list(ansible, source, tmp_path)
    [stored] = _stored(ansible)
    with open(stored, "rb") as handle:
        good = handle.read()
    end = good.index(b"\n")
    # The rerun restores the hosts and groups, which come first: damage there (the part that is read).
    damages = {
        "truncated": good[: end + 50],
        "flipped byte": good[:end + 200] + bytes([good[end + 200] ^ 0xFF]) + good[end + 201:],
        "garbage": b"\x00\xffnot a stored parse",
        "empty": b"",
        "no body digest": good[:end].replace(b'digest"', b'digest_"') + good[end:],
    }
    for kind, data in damages.items():
        with open(stored, "wb") as handle:
            handle.write(data)
        listing, printed = _list(ansible, source, tmp_path)
        assert strip_audit(listing) == expected, kind
        assert DAMAGED in printed, kind
        listing, printed = _list(ansible, source, tmp_path)  # rewritten by the fresh parse
        assert REPLAYED in printed and strip_audit(listing) == expected, kind

    # Written by another format version: not damage, just not ours; rebuilt without a warning.
    header = json.loads(good[:end])
    header["format"] = 0
    with open(stored, "wb") as handle:
        handle.write(json.dumps(header).encode() + good[end:])
    listing, printed = _list(ansible, source, tmp_path)
    assert REPLAYED not in printed and DAMAGED not in printed
    assert strip_audit(listing) == expected
    with open(stored, "rb") as handle:
        assert json.loads(handle.readline())["format"] != 0


def test_vault_values_stay_encrypted_on_disk(ansible, upstream, tmp_path):
    password = tmp_path / "vault-password"
    password.write_text("correct horse battery staple\n")
    proc = ansible.run("ansible-vault", "encrypt_string", "--vault-password-file", password,
                       "inline-secret-value", "--name", "shown")
    assert proc.returncode == 0, proc.stderr
    inline = "edge:\n  hosts:\n    edge1:\n      " + proc.stdout.strip().replace("\n", "\n      ") + "\n"
    whole = tmp_path / "whole.yml"
    whole.write_text("vaulted:\n  hosts:\n    web1:\n      shown: whole-file-secret-value\n")
    proc = ansible.run("ansible-vault", "encrypt", "--vault-password-file", password, whole)
    assert proc.returncode == 0, proc.stderr
    commit = upstream.commit({"inline/hosts.yml": inline, "whole/hosts.yml": whole.read_text()})
    play = tmp_path / "play.yml"
    play.write_text(PLAY)

    cases = [("inline", True, "edge1", "inline-secret-value", True),
             ("inline", False, "edge1", "inline-secret-value", True),
             ("whole", True, "web1", "whole-file-secret-value", False)]
    for path, trust, host, secret, stored in cases:
        source = write_source(tmp_path, f"{path}-{trust}.git.yml", url=upstream.bare, path=path, trust_repo=trust)
        expected = oracle(ansible, upstream, commit, path, tmp_path, "--vault-password-file", password)
        for _run in range(2):
            listing, printed = _list(ansible, source, tmp_path, "--vault-password-file", password)
            assert host in listing["_meta"]["hostvars"]
            if trust:  # the oracle is a trusted local copy
                assert strip_audit(listing) == expected, path
        assert (REPLAYED in printed) is stored, (path, trust)
        proc = ansible.playbook("-i", source, play, "--vault-password-file", password)
        assert proc.returncode == 0 and f'"msg": "SHOWN={secret}"' in proc.stdout, proc.stdout + proc.stderr
    assert len(_stored(ansible)) == 2  # the whole-file vault's parse is never stored

    for stored_file in _stored(ansible):
        with open(stored_file, "rb") as handle:
            data = handle.read()
        assert b"$ANSIBLE_VAULT;1.1;AES256" in data  # the ciphertext is what is stored
        for plain in (b"inline-secret-value", b"whole-file-secret-value", b"correct horse battery staple"):
            assert plain not in data
        assert os.stat(stored_file).st_mode & 0o077 == 0


def test_script_inventories_run_every_time(ansible, upstream, tmp_path):
    upstream.write({"inv/hosts.sh": '#!/bin/sh\necho "{\\"web\\": {\\"hosts\\": [\\"$VCS_TEST_HOST\\"]}}"\n'})
    os.chmod(os.path.join(upstream.work, "inv", "hosts.sh"), 0o755)
    upstream.commit()
    source = write_source(tmp_path, url=upstream.bare, path="inv", allow_scripts=True)
    for host in ("alpha", "beta"):
        listing, printed = _list(ansible, source, tmp_path, env={"VCS_TEST_HOST": host})
        assert listing["web"]["hosts"] == [host]
        assert REPLAYED not in printed
    assert _stored(ansible) == []


def test_a_run_inside_refresh_interval_never_imports_dulwich_or_ssl(ansible, upstream, tmp_path):
    upstream.commit(_files())
    source = write_source(tmp_path, url=upstream.bare, path="inv", refresh_interval=3600)
    importtime = {"PYTHONPROFILEIMPORTTIME": "1"}  # python -X importtime: every import, on stderr
    first = ansible.inventory("-i", source, "--list", env=importtime)
    assert first.returncode == 0, first.stderr
    assert re.search(r"\|\s+dulwich\.client$", first.stderr, re.M)  # the sync needed the network
    again = ansible.inventory("-i", source, "--list", env=importtime)
    assert again.returncode == 0, again.stderr
    assert "dulwich" not in again.stderr
    assert not re.search(r"\|\s+_?ssl$", again.stderr, re.M)  # only a failed sync's classification needs it
    assert json.loads(again.stdout) == json.loads(first.stdout)
