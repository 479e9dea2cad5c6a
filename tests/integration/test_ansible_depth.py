"""Constructed features, several paths, templated options and refresh_inventory, through the real
ansible-inventory and ansible-playbook; each listing is compared with what Ansible itself makes of a
plain clone (with ansible.builtin.constructed standing in for our compose/groups/keyed_groups)."""

from __future__ import annotations

import json
import os

import yaml

from conftest import plain_audit, strip_audit, write_source

HOSTS = """\
[web]
web1 ansible_host=10.0.0.1
web2 tier=host

[db]
db1
"""

CONSTRUCTED = {
    "compose": {
        "ansible_host": "ip_address | default(ansible_host | default(inventory_hostname))",
        "endpoint": "'http://' + inventory_hostname + ':' + (http_port | default(80) | string)",
        "site": "site_name | default('none')",
        "tier_seen": "tier | default('none')",
    },
    "groups": {"high_ports": "(http_port | default(0) | int) > 8000", "primaries": "role | default('') == 'primary'"},
    "keyed_groups": [
        {"key": "datacenter", "prefix": "dc"},
        {"key": "tier", "prefix": "tier"},
        {"key": "datacenter", "prefix": ""},  # "_fra", or "fra" with leading_separator false
        {"key": "site_name", "prefix": "site"},
    ],
    "strict": False,
}


def _list(ansible, *sources, args=(), env=None) -> dict:
    argv = [a for source in sources for a in ("-i", source)]
    proc = ansible.inventory(*argv, "--list", *args, env=env)
    assert proc.returncode == 0, f"ansible-inventory failed:\n{proc.stdout}\n{proc.stderr}"
    return plain_audit(json.loads(proc.stdout))


def _constructed_oracle(tmp_path, name: str, **options) -> str:
    path = os.path.join(str(tmp_path), f"{name}.constructed.yml")
    with open(path, "w") as handle:
        yaml.safe_dump({"plugin": "ansible.builtin.constructed", "use_vars_plugins": True, **options}, handle)
    return path


def _value(hostvars: dict, name: str):
    """A listed value; ansible-core 2.19 shows strings that are not trusted as templates wrapped."""
    value = hostvars[name]
    return value["__ansible_unsafe"] if isinstance(value, dict) and "__ansible_unsafe" in value else value


def _members(listing: dict, group: str) -> set:
    return set(listing.get(group, {}).get("hosts", []))


def test_compose_groups_keyed_groups_use_the_repo_vars(ansible, upstream, tmp_path):
    commit = upstream.commit({
        "inv/hosts": HOSTS,
        "inv/group_vars/db.yml": "datacenter: ber\n",
        "inv/group_vars/web.yml": "datacenter: fra\nhttp_port: 8080\ntier: group\n",
        "inv/host_vars/db1.yml": "ip_address: 10.0.1.5\nrole: primary\n",
    })
    options = dict(CONSTRUCTED, use_extra_vars=True, leading_separator=False)
    source = write_source(tmp_path, url=upstream.bare, path="inv", **options)
    listing = _list(ansible, source, args=["-e", "site_name=lab"])

    clone = upstream.clone_at(str(tmp_path / "clone"), commit)
    constructed = _constructed_oracle(tmp_path, "same", **options)
    expected = _list(ansible, os.path.join(clone, "inv"), constructed, args=["-e", "site_name=lab"])
    assert strip_audit(listing) == expected

    # What the oracle agrees on, spelled out: group_vars and host_vars of the repo feed every feature,
    # an inline host var wins over group_vars/, extra vars count, and the separator rules hold.
    hostvars = listing["_meta"]["hostvars"]
    assert _members(listing, "dc_fra") == {"web1", "web2"} and _members(listing, "dc_ber") == {"db1"}
    assert _members(listing, "tier_group") == {"web1"} and _members(listing, "tier_host") == {"web2"}
    assert _members(listing, "fra") == {"web1", "web2"} and _members(listing, "ber") == {"db1"}
    assert _members(listing, "high_ports") == {"web1", "web2"} and _members(listing, "primaries") == {"db1"}
    assert _members(listing, "site_lab") == {"web1", "web2", "db1"}
    assert _value(hostvars["db1"], "ansible_host") == "10.0.1.5" and _value(hostvars["web1"], "ansible_host") == "10.0.0.1"
    assert _value(hostvars["web1"], "endpoint") == "http://web1:8080"
    assert _value(hostvars["db1"], "endpoint") == "http://db1:80"
    assert _value(hostvars["web2"], "site") == "lab"
    assert _value(hostvars["web2"], "tier_seen") == "host" and _value(hostvars["web1"], "tier_seen") == "group"

    # The defaults: extra vars are not seen, and an empty prefix still leads with the separator.
    source = write_source(tmp_path, url=upstream.bare, path="inv", **CONSTRUCTED)
    listing = _list(ansible, source, args=["-e", "site_name=lab"])
    constructed = _constructed_oracle(tmp_path, "defaults", **CONSTRUCTED)
    assert strip_audit(listing) == _list(ansible, os.path.join(clone, "inv"), constructed, args=["-e", "site_name=lab"])
    assert "site_lab" not in listing and _value(listing["_meta"]["hostvars"]["web2"], "site") == "none"
    assert _members(listing, "_fra") == {"web1", "web2"} and "fra" not in listing


def test_strict_turns_a_bad_expression_into_an_error(ansible, upstream, tmp_path):
    upstream.commit({"inv/hosts": HOSTS, "inv/group_vars/web.yml": "http_port: 8080\n"})
    bad = {"compose": {"broken": "http_port.no_such_attribute.deeper"}, "groups": {"odd": "undefined_thing.x"}}

    lenient = write_source(tmp_path, "lenient.git.yml", url=upstream.bare, path="inv", strict=False, **bad)
    listing = _list(ansible, lenient)
    assert set(listing["_meta"]["hostvars"]) == {"web1", "web2", "db1"}
    assert "odd" not in listing
    assert all("broken" not in hostvars for hostvars in listing["_meta"]["hostvars"].values())

    strict = write_source(tmp_path, "strict.git.yml", url=upstream.bare, path="inv", strict=True, **bad)
    proc = ansible.inventory("-i", strict, "--list")
    assert proc.returncode != 0
    assert "broken" in proc.stderr and "no_such_attribute" in proc.stderr, proc.stderr


def test_a_list_of_paths_loads_like_several_sources(ansible, upstream, tmp_path):
    commit = upstream.commit({
        "one/hosts.yml": "web:\n  hosts:\n    web1:\n    web2:\n",
        "one/group_vars/all.yml": "region: one\nonly_one: true\n",
        "one/group_vars/web.yml": "port: 80\n",
        "two/hosts": "[web]\nweb1\n\n[db]\ndb1\n",
        "two/group_vars/all.yml": "region: two\n",
        "two/group_vars/web.yml": "port: 443\n",
        "two/host_vars/web1.yml": "pinned: true\n",
    })
    source = write_source(tmp_path, url=upstream.bare, path=["one", "two"],
                          keyed_groups=[{"key": "port | string", "prefix": "port"}])
    listing = _list(ansible, source)

    clone = upstream.clone_at(str(tmp_path / "clone"), commit)
    constructed = _constructed_oracle(tmp_path, "paths", keyed_groups=[{"key": "port | string", "prefix": "port"}])
    assert strip_audit(listing) == _list(ansible, f"{clone}/one", f"{clone}/two", constructed)
    hostvars = listing["_meta"]["hostvars"]
    assert hostvars["web2"]["region"] == "two" and hostvars["web2"]["only_one"] is True
    assert hostvars["web1"]["pinned"] is True and hostvars["db1"]["region"] == "two"
    assert _members(listing, "port_443") == {"web1", "web2"} and "port_80" not in listing

    # The order is the one given: reversed, the first path's vars win.
    source = write_source(tmp_path, url=upstream.bare, path=["two", "one"])
    assert strip_audit(_list(ansible, source)) == _list(ansible, f"{clone}/two", f"{clone}/one")
    assert _list(ansible, source)["_meta"]["hostvars"]["web1"]["region"] == "one"


def test_url_version_and_path_are_templates_over_extra_vars_and_lookups(ansible, upstream, git_daemon, tmp_path):
    first = upstream.commit({"prod/hosts": "[web]\nweb1\n", "stage/hosts": "[web]\nstage1\n"})
    upstream.commit({"prod/hosts": "[web]\nweb1\nweb2\n"})
    source = write_source(
        tmp_path,
        url="{{ repo_base }}/{{ lookup('env', 'INVENTORY_REPO') }}.git",
        version="{{ inventory_commit | default('main') }}",
        path="{{ inventory_env | default('prod') }}",
    )
    env = {"INVENTORY_REPO": "inventory"}
    base = git_daemon.url("inventory").rsplit("/", 1)[0]

    listing = _list(ansible, source, args=["-e", f"repo_base={base}"], env=env)
    assert set(listing["_meta"]["hostvars"]) == {"web1", "web2"}
    assert listing["_meta"]["hostvars"]["web1"]["git_inventory_url"] == git_daemon.url("inventory")
    assert listing["_meta"]["hostvars"]["web1"]["git_inventory_version"] == "main"

    listing = _list(ansible, source, args=["-e", f"repo_base={base}", "-e", f"inventory_commit={first}",
                                           "-e", "inventory_env=stage"], env=env)
    assert set(listing["_meta"]["hostvars"]) == {"stage1"}
    assert listing["_meta"]["hostvars"]["stage1"]["git_inventory_commit"] == first

    # An undefined variable is an error that names the option, never an empty URL.
    proc = ansible.inventory("-i", source, "--list", env=env)
    assert proc.returncode != 0
    assert "'url'" in proc.stderr and "repo_base" in proc.stderr, proc.stderr


REFRESH_PLAY = """\
- hosts: all
  gather_facts: false
  tasks:
    - debug:
        msg: "BEFORE {{ inventory_hostname }} {{ region | default('unset') }}"
    - meta: refresh_inventory
- hosts: all
  gather_facts: false
  tasks:
    - debug:
        msg: "AFTER {{ inventory_hostname }} {{ region | default('unset') }}"
"""

LEAK_SCRIPT = """\
#!/bin/sh
touch "{marker}"
echo '{{"leaked": {{"hosts": ["leaked1"]}}}}'
"""


def test_refresh_inventory_never_parses_the_checkout_as_a_source(ansible, upstream, tmp_path):
    """The checkout paths registered for group_vars/host_vars stay vars-only across refresh_inventory."""
    marker = tmp_path / "script-ran"
    upstream.commit({
        "a/hosts": "[web]\nweb1\n",
        "a/group_vars/all.yml": "region: a\n",
        "a/leak.sh": LEAK_SCRIPT.format(marker=marker),
        "b/hosts": "[db]\ndb1\n",
        "b/group_vars/all.yml": "region: b\n",
        "b/leak.sh": LEAK_SCRIPT.format(marker=marker),
    })
    os.chmod(os.path.join(upstream.work, "a/leak.sh"), 0o755)
    os.chmod(os.path.join(upstream.work, "b/leak.sh"), 0o755)
    upstream.commit()
    first = write_source(tmp_path, "a.git.yml", url=upstream.bare, path="a")
    second = write_source(tmp_path, "b.git.yml", url=upstream.bare, path="b")
    play = tmp_path / "refresh.yml"
    play.write_text(REFRESH_PLAY)

    proc = ansible.playbook("-i", first, "-i", second, str(play), "-vvv")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for stage in ("BEFORE", "AFTER"):
        # b's group_vars/all is the later source, as with -i a -i b.
        assert f'"msg": "{stage} web1 b"' in out and f'"msg": "{stage} db1 b"' in out, out
    assert "leaked1" not in out
    assert not marker.exists()
    assert "not running the executable" in out
    sources = [line for line in out.splitlines() if "inventory source with" in line]
    assert len(sources) == 4 and all(".git.yml" in line for line in sources), sources
