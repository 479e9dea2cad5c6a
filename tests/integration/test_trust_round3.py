"""Round three of the attacks on trust, end to end: a hostile Git server that forges chosen lines
(the real git upload-pack behind it), and an untrusted repository beside a trusted source. Marker
files prove that nothing ran; the data beside the hostile parts still loads."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from conftest import said, write_source
from helpers.lying_git_server import LyingGitServer

HEAD_PLAY = """\
- hosts: all
  connection: local
  gather_facts: false
  tasks:
    - debug:
        msg: "VERSION {{ git_inventory_version }} COMMIT {{ git_inventory_commit }}"
"""


@pytest.fixture
def lying_server(repos_root):
    servers = []

    def start(rewrite, protocol=2):
        server = LyingGitServer(repos_root, rewrite, protocol=protocol)
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.stop()


def _unsafe(value):
    """(text, shown as unsafe) of a string in ansible-inventory --list."""
    if isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:
        return value["__ansible_unsafe"], True
    return value, False


def test_a_forged_head_branch_name_never_reaches_a_variable(ansible, upstream, lying_server, tmp_path):
    upstream.commit({"hosts": "[web]\nweb1\n"})
    marker = tmp_path / "ran"
    forged = (b"symref-target:refs/heads/#jinja2:variable_start_string:'[[',variable_end_string:']]'\n"
              b"[[lookup('pipe','id>" + str(marker).encode() + b"')]]")
    server = lying_server(lambda line: re.sub(rb"symref-target:refs/heads/main", lambda _m: forged, line))
    play = tmp_path / "play.yml"
    play.write_text(HEAD_PLAY)
    for trust in (True, False):
        source = write_source(tmp_path, f"head-{trust}.git.yml", url=server.url("inventory"), trust_repo=trust)
        proc = ansible.playbook("-i", source, play)
        out = proc.stdout + proc.stderr
        assert server.rewritten, "the server did not forge the symref line: the test would prove nothing"
        assert proc.returncode != 0 and not marker.exists(), out
        assert said("which is not a valid branch name (git check-ref-format)", out), out
        assert said("variable_start_string", out) and "\\n" in out  # quoted escaped, never as a raw line
        assert "\n[[lookup" not in out


def test_a_pinned_id_is_served_as_itself_or_not_at_all(ansible, upstream, git_daemon, lying_server, tmp_path):
    """A v0 server advertises the pinned id B as the peeled value of a tag that points at an older A."""
    old = upstream.commit({"hosts": "[web]\nold1\n"})
    upstream.tag("t")
    pinned = upstream.commit({"hosts": "[web]\npinned1\n"})
    upstream.commit({"hosts": "[web]\nnewest1\n"})  # main moves on: the pinned id is no ref tip

    honest = write_source(tmp_path, "honest.git.yml", url=git_daemon.url("inventory"), version=pinned)
    listing = ansible.list(honest)
    assert set(listing["_meta"]["hostvars"]) == {"pinned1"}

    server = lying_server(lambda line: line.replace(old.encode() + b" refs/tags/t^{}", pinned.encode() + b" refs/tags/t^{}"),
                          protocol=0)
    source = write_source(tmp_path, "lied-to.git.yml", url=server.url("inventory"), version=pinned,
                          cache_dir=str(tmp_path / "other-cache"))
    proc = ansible.inventory("-i", source, "--list")
    out = proc.stdout + proc.stderr
    assert server.rewritten, "the server did not forge the peeled tag line"
    assert proc.returncode != 0 and "old1" not in proc.stdout, out
    assert said(f"offered commit {old[:12]} for the pinned version {pinned}", out), out


def _trusted_and_untrusted(upstream, tmp_path, extra_files=None):
    files = {
        "inv/hosts.yml": yaml.safe_dump({
            "web": {"hosts": {"web1": {"role": "front"}, "db1": {"ansible_host": "attacker.example.com"}}},
            "all": {"hosts": {"localhost": {"ansible_host": "127.0.0.2", "ansible_user": "attacker"}}},
        }),
        "inv/group_vars/all.yml": "everywhere: from-the-repo\n",
        "inv/host_vars/db1.yml": "ansible_host: attacker.example.com\nansible_user: attacker\n",
        "inv/host_vars/web1.yml": yaml.safe_dump({
            "ansible_host": "web1.example.com\n", "ansible_port": "²", "ansible_user": "deploy",
            "ansible_winrm_server_cert_validation": "ignore", "ansible_winrm_message_encryption": "never",
            "ansible_winrm_proxy": "http://attacker.example.com:3128", "plain": "kept",
        }),
    }
    files.update(extra_files or {})
    commit = upstream.commit(files)
    trusted = tmp_path / "trusted.ini"
    trusted.write_text("[db]\ndb1 ansible_host=db1.internal ansible_user=dbadmin\n")
    return commit, trusted


def test_an_untrusted_repository_sets_variables_of_its_own_hosts_only(ansible, upstream, tmp_path):
    _commit, trusted = _trusted_and_untrusted(upstream, tmp_path)
    source = write_source(tmp_path, "untrusted.git.yml", url=upstream.bare, path="inv", trust_repo=False)
    proc = ansible.inventory("-i", str(trusted), "-i", source, "--list")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    hostvars = json.loads(proc.stdout)["_meta"]["hostvars"]
    # The trusted host keeps its address and user; nothing of the repository reaches it, not even all's vars.
    assert hostvars["db1"]["ansible_host"] == "db1.internal" and hostvars["db1"]["ansible_user"] == "dbadmin"
    assert "everywhere" not in hostvars["db1"] and not any(k.startswith("git_inventory_") for k in hostvars["db1"])
    assert said("another source defines that host", out), out
    # The repository may not define the controller.
    assert "localhost" not in hostvars and said("refused the host 'localhost'", out), out
    # Its own host keeps the data and the plain addressing; each bad value goes alone, with a warning.
    web1 = {k: _unsafe(v)[0] for k, v in hostvars["web1"].items()}
    assert web1["role"] == "front" and web1["plain"] == "kept" and web1["everywhere"] == "from-the-repo"
    assert web1["ansible_user"] == "deploy"
    assert not {"ansible_host", "ansible_port", "ansible_winrm_server_cert_validation",
                "ansible_winrm_message_encryption", "ansible_winrm_proxy"} & set(web1), web1
    for name in ("ansible_host", "ansible_port", "ansible_winrm_proxy"):
        assert said(f"dropped the variable '{name}' of 'web1'", out), out


def test_delegate_to_localhost_stays_on_the_controller(ansible, upstream, tmp_path):
    _commit, trusted = _trusted_and_untrusted(upstream, tmp_path)
    source = write_source(tmp_path, "untrusted.git.yml", url=upstream.bare, path="inv", trust_repo=False)
    play = tmp_path / "delegate.yml"
    play.write_text("""\
- hosts: web1
  gather_facts: false
  connection: local
  tasks:
    - debug:
        msg: "DELEGATED {{ hostvars['localhost'].ansible_host | default('implicit') }}"
      delegate_to: localhost
""")
    proc = ansible.playbook("-i", str(trusted), "-i", source, str(play))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "DELEGATED implicit" in out and "127.0.0.2" not in proc.stdout, out


def test_audit_values_are_never_templates(ansible, upstream, tmp_path):
    upstream.commit({"hosts": "[web]\nweb1\n"})
    for trust in (True, False):
        source = write_source(tmp_path, f"audit-{trust}.git.yml", url=upstream.bare, trust_repo=trust)
        proc = ansible.inventory("-i", source, "--list")
        hostvars = json.loads(proc.stdout)["_meta"]["hostvars"]["web1"]
        for key in ("git_inventory_url", "git_inventory_version", "git_inventory_commit"):
            assert _unsafe(hostvars[key])[1], (key, hostvars[key])


def test_group_names_of_an_untrusted_repository_are_plain_names(ansible, upstream, tmp_path):
    marker = tmp_path / "group-ran"
    header = ("#jinja2:variable_start_string:'[[',variable_end_string:']]'\n"
              f"[[ lookup('pipe','id > {marker}') ]]")
    upstream.commit({
        "inv/evil.yml": yaml.safe_dump({header: {"hosts": {"evil1": None}}}),
        "inv/hosts.yml": yaml.safe_dump({"web": {"hosts": {"web1": None}}, "web servers": {"hosts": {"web2": None}}}),
    })
    play = tmp_path / "groups.yml"
    play.write_text("- hosts: all\n  connection: local\n  gather_facts: false\n  tasks:\n"
                    "    - debug:\n        msg: \"GROUPS {{ group_names }}\"\n")
    source = write_source(tmp_path, "names.git.yml", url=upstream.bare, path="inv/evil.yml", trust_repo=False)
    proc = ansible.playbook("-i", source, play)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and said("holds a template", out) and not marker.exists(), out

    plain = write_source(tmp_path, "plain.git.yml", url=upstream.bare, path="inv/hosts.yml", trust_repo=False)
    proc = ansible.inventory("-i", plain, "--list")
    out = proc.stdout + proc.stderr
    listing = json.loads(proc.stdout)
    assert listing["web"]["hosts"] == ["web1"] and "web servers" not in listing, out
    assert said("refused the group 'web servers'", out) and said("hosts.yml", out), out


def test_a_later_source_that_defines_a_host_of_the_repository_takes_it_whole(ansible, upstream, tmp_path):
    """The repository defines db1 first; a trusted source parsed after it defines db1 too."""
    upstream.commit({
        "inv/hosts.yml": yaml.safe_dump({"web": {"hosts": {
            "db1": {"ansible_host": "evil.attacker.example", "ansible_user": "root"}, "web1": {"role": "front"}}}}),
        "inv/group_vars/all.yml": "from_repo_all: true\n",
    })
    source = write_source(tmp_path, "a.git.yml", url=upstream.bare, path="inv", trust_repo=False)
    later = tmp_path / "z_trusted.ini"
    later.write_text("[prod]\ndb1 backup_target=trusted-bucket\n")
    for order in ((source, str(later)), (str(later), source)):
        proc = ansible.inventory(*[a for s in order for a in ("-i", s)], "--list")
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        hostvars = json.loads(proc.stdout)["_meta"]["hostvars"]
        assert hostvars["db1"] == {"backup_target": "trusted-bucket"}, (order, out)
        assert _unsafe(hostvars["web1"]["from_repo_all"])[0] is True and _unsafe(hostvars["web1"]["role"])[0] == "front"
        assert said("a later source defines that host too", out) or said("another source defines that host", out), out
    # The stored parse of the first order is replayed on a rerun: the guard holds there too.
    proc = ansible.inventory("-i", source, "-i", str(later), "--list")
    assert json.loads(proc.stdout)["_meta"]["hostvars"]["db1"] == {"backup_target": "trusted-bucket"}
