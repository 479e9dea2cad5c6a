"""trust_repo through the real ansible-playbook: a trusted repo renders its templates like a local
copy; an untrusted one renders none, and nothing in it makes the controller run a program (markers
prove it, and the trusted run proves the markers would appear). Vault data decrypts either way."""

from __future__ import annotations

import os

import yaml

from conftest import oracle, said, strip_audit, write_source
from helpers.servers import free_port
from helpers.upstream import git

PLAY = """\
- hosts: web
  gather_facts: false
  tasks:
    - debug:
        msg: "FQDN={{ fqdn }} INLINE={{ inline_fqdn }} PAYLOAD={{ payload }}"
    - ping:
      ignore_unreachable: true
"""


def _repo(upstream, tmp_path):
    """A repo whose vars hold templates, a pipe lookup and a ProxyCommand, each touching a marker."""
    pipe_marker, proxy_marker = tmp_path / "pipe-ran", tmp_path / "proxy-ran"
    port = free_port()  # nothing listens there: without the ProxyCommand, ssh is refused at once
    hosts = {"web": {"hosts": {"web1": {
        "ansible_host": "127.0.0.1", "ansible_port": port,
        "inline_fqdn": "{{ inventory_hostname }}.example.com",
    }}}}
    upstream.commit({
        "inv/hosts.yml": yaml.safe_dump(hosts),
        "inv/more": f'[web]\nweb2 ansible_host=127.0.0.1 ansible_port={port} '
                    'inline_fqdn="{{ inventory_hostname }}.example.com"\n',
        "inv/group_vars/web.yml": yaml.safe_dump({
            "fqdn": "{{ inventory_hostname }}.example.com",
            "payload": "{{ lookup('pipe', 'touch %s') }}" % pipe_marker,
            "ansible_connection": "ssh",
            "ansible_ssh_common_args": f"-o ProxyCommand='touch {proxy_marker}'",
        }),
    })
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    return play, pipe_marker, proxy_marker


def _listed(value):
    """(text, shown as unsafe): how ansible-inventory --list shows a string value."""
    if isinstance(value, dict) and "__ansible_unsafe" in value:
        return value["__ansible_unsafe"], True
    return value, False


def test_untrusted_repo_renders_nothing_and_runs_nothing(ansible, upstream, tmp_path):
    play, pipe_marker, proxy_marker = _repo(upstream, tmp_path)
    # compose copies repo values: they stay untrusted, and a risky target is dropped all the same.
    source = write_source(tmp_path, "untrusted.git.yml", url=upstream.bare, path="inv", trust_repo=False,
                          compose={"composed_fqdn": "fqdn", "ansible_ssh_extra_args": "ansible_port | string"})
    # A TOML source parsed first: ansible-core 2.19 then keeps "trusted by default" for the whole
    # inventory (the first plugin's choice is cached), which must not give the repo's values trust.
    local = tmp_path / "local.toml"
    local.write_text('[local.hosts.local1]\nlocal_var = "{{ 1 + 1 }}"\n')

    proc = ansible.playbook("-i", local, "-i", source, str(play))
    out = proc.stdout + proc.stderr
    literal = "{{ inventory_hostname }}.example.com"
    assert out.count(f'"msg": "FQDN={literal} INLINE={literal} PAYLOAD={{{{ lookup(') == 2, out  # web1, web2
    assert "dropped the variable 'ansible_ssh_common_args'" in out, out
    assert "dropped the variable 'ansible_ssh_extra_args'" in out, out
    assert not pipe_marker.exists() and not proxy_marker.exists(), out

    # The listing shows why: the values carry no template trust (2.19) or are marked unsafe (2.16).
    hostvars = ansible.list(source)["_meta"]["hostvars"]
    for host in ("web1", "web2"):
        assert "ansible_ssh_common_args" not in hostvars[host]
        assert _listed(hostvars[host]["fqdn"]) == ("{{ inventory_hostname }}.example.com", True)
        assert _listed(hostvars[host]["inline_fqdn"]) == ("{{ inventory_hostname }}.example.com", True)
        assert _listed(hostvars[host]["composed_fqdn"]) == ("{{ inventory_hostname }}.example.com", True)
        assert "ansible_ssh_extra_args" not in hostvars[host]
        assert "ansible_connection" not in hostvars[host]  # only host, port and user (+ aliases) survive


def test_trusted_repo_renders_like_a_local_copy(ansible, upstream, tmp_path):
    play, pipe_marker, proxy_marker = _repo(upstream, tmp_path)
    source = write_source(tmp_path, "trusted.git.yml", url=upstream.bare, path="inv")  # trust_repo defaults to true

    proc = ansible.playbook("-i", source, str(play))
    out = proc.stdout + proc.stderr
    for host in ("web1", "web2"):
        assert f'"msg": "FQDN={host}.example.com INLINE={host}.example.com PAYLOAD="' in out, out
    # The same markers the untrusted run must not touch: so that test can fail.
    assert pipe_marker.exists() and proxy_marker.exists(), out
    assert "dropped the variable" not in out

    hostvars = ansible.list(source)["_meta"]["hostvars"]
    assert _listed(hostvars["web1"]["fqdn"]) == ("{{ inventory_hostname }}.example.com", False)
    assert "ProxyCommand" in hostvars["web1"]["ansible_ssh_common_args"]


NAMES_PLAY = """\
- hosts: all
  gather_facts: false
  tasks:
    - debug:
        msg: "VERSION {{ git_inventory_version }}"
"""


def test_names_from_the_remote_are_never_rendered(ansible, upstream, tmp_path):
    """Branch, host and group names that look like templates: shown or refused, never run."""
    payload = "{{lookup('pipe','touch${IFS}ran')}}"  # a valid Git branch name
    upstream.commit({"hosts": "[web]\nweb1\n"}, branch=payload)
    git("symbolic-ref", "HEAD", f"refs/heads/{payload}", cwd=upstream.bare)
    play = tmp_path / "names.yml"
    play.write_text(NAMES_PLAY)
    for trust in (True, False):
        source = write_source(tmp_path, f"head-{trust}.git.yml", url=upstream.bare, trust_repo=trust)
        proc = ansible.playbook("-i", source, play, cwd=tmp_path)
        assert f'"msg": "VERSION {payload}"' in proc.stdout, proc.stdout + proc.stderr
        assert not (tmp_path / "ran").exists()

    # ansible-core 2.16 renders inventory_hostname and group_names: an untrusted repo may not use such names.
    upstream.commit({"names.yml": yaml.safe_dump({
        "{{ lookup('pipe', 'touch group-ran') }}": {"hosts": {"{{ lookup('pipe', 'touch host-ran') }}": None}},
    })}, branch=payload)
    source = write_source(tmp_path, "names.git.yml", url=upstream.bare, path="names.yml", trust_repo=False)
    proc = ansible.playbook("-i", source, play, cwd=tmp_path)
    assert proc.returncode != 0
    assert said("holds a template; trust_repo is false", proc.stdout + proc.stderr), proc.stdout + proc.stderr  # 2.16 wraps
    assert not (tmp_path / "group-ran").exists() and not (tmp_path / "host-ran").exists()


VAULT_PLAY = """\
- hosts: db
  gather_facts: false
  tasks:
    - debug:
        msg: "GROUP={{ db_password }} HOST={{ api_token }} PLAIN={{ plain }}"
"""


def _vault_repo(ansible, upstream, tmp_path):
    password = tmp_path / "vault-password"
    password.write_text("correct horse battery staple\n")
    clear = tmp_path / "db.yml"
    clear.write_text("db_password: group-level-value\n")
    proc = ansible.run("ansible-vault", "encrypt", "--vault-password-file", password, clear)
    assert proc.returncode == 0, proc.stderr
    proc = ansible.run("ansible-vault", "encrypt_string", "--vault-password-file", password,
                       "host-level-value", "--name", "api_token")
    assert proc.returncode == 0, proc.stderr
    commit = upstream.commit({
        "inv/hosts.yml": "db:\n  hosts:\n    db1:\n",
        "inv/group_vars/db.yml": clear.read_text(),
        "inv/host_vars/db1.yml": proc.stdout + "plain: visible\n",
    })
    with open(os.path.join(upstream.work, "inv/group_vars/db.yml")) as handle:
        assert handle.read().startswith("$ANSIBLE_VAULT;")
    return commit, password


def test_vault_files_and_values_decrypt_in_a_play_and_a_listing(ansible, upstream, tmp_path):
    commit, password = _vault_repo(ansible, upstream, tmp_path)
    play = tmp_path / "vault.yml"
    play.write_text(VAULT_PLAY)
    expected_msg = '"msg": "GROUP=group-level-value HOST=host-level-value PLAIN=visible"'

    for trust in (True, False):
        source = write_source(tmp_path, f"vault-{trust}.git.yml", url=upstream.bare, path="inv", trust_repo=trust)
        proc = ansible.playbook("-i", source, str(play), "--vault-password-file", password)
        assert proc.returncode == 0 and expected_msg in proc.stdout, proc.stdout + proc.stderr

    source = write_source(tmp_path, url=upstream.bare, path="inv")
    listing = ansible.list(source, "--vault-password-file", password)
    assert strip_audit(listing) == oracle(ansible, upstream, commit, "inv", tmp_path, "--vault-password-file", password)
    assert listing["_meta"]["hostvars"]["db1"]["db_password"] == "group-level-value"
