"""When an Ansible internal is not what the compatibility layer expects, its feature switches off
and the inventory is still exactly that of a local copy; never a less safe one.

Each test loads a real Git repository (built in tmp_path, read through a file path URL) with the
InventoryManager in this process, once normally and once with one of the layer's probes saying no.
"""

from __future__ import annotations

import os

import pytest
from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.utils.display import Display
from ansible.vars.manager import VariableManager
from conftest import said, write_source
from helpers.upstream import Upstream

from ansible_collections.vcs.inventory.plugins.plugin_utils import _ansible_internals as internals

try:
    from ansible.template import is_trusted_as_template
except ImportError:  # ansible-core < 2.19: a value is trusted unless marked unsafe
    from ansible.utils.unsafe_proxy import AnsibleUnsafe

    def is_trusted_as_template(value):
        return isinstance(value, str) and not isinstance(value, AnsibleUnsafe)

FILES = {
    "inv/hosts": "[web]\nweb[1:3] colour=blue\n[db]\ndb1 ansible_port=2222 greeting='{{ 1 + 1 }}'\n[all:children]\nweb\n",
    "inv/more.yml": "all:\n  children:\n    edge:\n      hosts:\n        edge1:\n          limits: {cpu: 2}\n        web1:\n",
    "inv/group_vars/web.yml": "from_group_vars: yes\nshown: '{{ colour }}'\n",
    "inv/host_vars/db1.yml": "backup: true\n",
}


@pytest.fixture(autouse=True)
def _fresh_switches(monkeypatch):
    monkeypatch.setattr(internals, "_off", {})
    previous = C.INVENTORY_ANY_UNPARSED_IS_FAILED
    yield
    C.INVENTORY_ANY_UNPARSED_IS_FAILED = previous


@pytest.fixture
def repo(tmp_path):
    upstream = Upstream(str(tmp_path / "repos"))
    commit = upstream.commit(FILES)
    local = upstream.clone_at(str(tmp_path / "local"), commit)
    return upstream, os.path.join(local, "inv")


def _source(tmp_path, upstream, name="prod.git.yml", **options):
    return write_source(tmp_path, name, url=upstream.bare, path="inv", cache_dir=str(tmp_path / "cache"), **options)


def _view(sources: list[str]) -> dict:
    """Hosts, groups and every host's resolved variables (with their template trust), as a play sees them."""
    loader = DataLoader()
    manager = InventoryManager(loader, sources=tuple(sources))  # as the CLI passes them
    variables = VariableManager(loader=loader, inventory=manager)
    hosts = {}
    for host in manager.get_hosts():
        resolved = variables.get_vars(host=host, include_hostvars=False)
        hosts[host.name] = {k: (v, is_trusted_as_template(v)) if isinstance(v, str) else v
                            for k, v in resolved.items()
                            if k in host.vars or k in ("from_group_vars", "shown", "backup", "colour", "limits")
                            if not k.startswith(("git_inventory_", "inventory_")) and k != "playbook_dir"}
    groups = {name: (sorted(h.name for h in g.get_hosts()), sorted(c.name for c in g.child_groups), dict(g.vars))
              for name, g in manager.groups.items()}
    return {"hosts": hosts, "groups": groups}


def _runs(tmp_path, upstream, capfd, *before: str) -> list[tuple[dict, str]]:
    """Two runs of the same source: the first parses and stores, the second reuses what it can."""
    source = _source(tmp_path, upstream)
    display = Display()
    verbosity, display.verbosity = display.verbosity, 3
    try:
        results = []
        for _round in range(2):
            capfd.readouterr()
            view = _view([*before, source])
            results.append((view, "".join(capfd.readouterr())))
        return results
    finally:
        display.verbosity = verbosity


def test_a_restored_parse_equals_a_local_copy(tmp_path, repo, capfd):
    upstream, local = repo
    expected = _view([local])
    (first, _first_printed), (second, printed) = _runs(tmp_path, upstream, capfd)
    assert first == expected
    assert "restored the stored parse" in printed
    assert second == expected
    assert expected["hosts"]["web2"]["shown"] == ("{{ colour }}", True)  # group_vars/, resolved as for the copy
    assert internals._off == {}  # nothing switched off on a tested core


def test_without_the_one_step_restore_the_calls_are_replayed(tmp_path, repo, capfd, monkeypatch):
    upstream, local = repo
    monkeypatch.setattr(internals, "_restore_works", lambda: False)
    (first, _first_printed), (second, printed) = _runs(tmp_path, upstream, capfd)
    assert "replayed the stored parse" in printed and "restored" not in printed
    assert first == second == _view([local])


def test_without_replay_every_run_parses_and_says_so_once(tmp_path, repo, capfd, monkeypatch):
    upstream, local = repo
    monkeypatch.setattr(internals, "replay_supported", lambda: internals.switch_off(internals.REPLAY, "probe says no"))
    (first, printed_first), (second, printed) = _runs(tmp_path, upstream, capfd)
    assert "the stored parse of" not in printed_first + printed
    assert not os.path.exists(tmp_path / "cache") or not any(
        "parsed" in dirs for _root, dirs, _files in os.walk(tmp_path / "cache"))
    assert first == second == _view([local])


def test_switching_off_says_so_once_at_vvv(capfd):
    display = Display()
    verbosity, display.verbosity = display.verbosity, 3
    try:
        capfd.readouterr()
        for _round in range(3):
            internals.switch_off(internals.RESTORE, "probe says no")
        printed = "".join(capfd.readouterr())
    finally:
        display.verbosity = verbosity
    assert printed.count("one-step restore is off on ansible-core") == 1, printed
    assert internals.is_off(internals.RESTORE) and not internals.is_off(internals.REPLAY)


def test_without_the_inventory_manager_the_vars_files_are_read_by_the_plugin(tmp_path, repo, capfd, monkeypatch):
    upstream, local = repo
    monkeypatch.setattr(internals, "find_inventory_manager", lambda inventory: None)
    (first, _first_printed), (second, _second_printed) = _runs(tmp_path, upstream, capfd)
    expected = _view([local])
    assert first["hosts"] == second["hosts"] == expected["hosts"]


def test_another_source_before_ours_gets_the_calls_replayed(tmp_path, repo, capfd):
    upstream, local = repo
    other = tmp_path / "other.ini"
    other.write_text("[web]\nweb9 colour=red\nweb1 colour=green\n")
    (first, _first_printed), (second, printed) = _runs(tmp_path, upstream, capfd, str(other))
    assert "replayed the stored parse" in printed
    assert first == second == _view([str(other), local])


@pytest.mark.parametrize("trust_repo", [True, False])
def test_an_unknown_inventory_wrapper_never_makes_values_trusted(tmp_path, repo, monkeypatch, capfd, trust_repo):
    upstream, _local = repo
    source = _source(tmp_path, upstream, trust_repo=trust_repo)
    trusted = _view([source])["hosts"]["db1"]["greeting"]
    assert trusted == ("{{ 1 + 1 }}", trust_repo)
    monkeypatch.setattr(internals, "raw_inventory", lambda inventory: None)
    if trust_repo:
        assert _view([source])["hosts"]["db1"]["greeting"] == trusted
        assert internals.is_off(internals.REPLAY)
        return
    capfd.readouterr()
    with pytest.raises(AnsibleError, match="Completely failed to parse"):
        _view([source])
    assert said("cannot keep the repository's values untrusted", "".join(capfd.readouterr()))


def test_a_later_constructed_source_sees_the_repositorys_vars(tmp_path, repo):
    upstream, local = repo
    constructed = tmp_path / "constructed.yml"
    constructed.write_text("plugin: ansible.builtin.constructed\nuse_vars_plugins: true\nstrict: true\n"
                           "groups:\n  backed_up: backup | default(false)\n  blue: from_group_vars | default(false)\n")
    expected = _view([local, str(constructed)])
    assert expected["groups"]["backed_up"][0] == ["db1"] and expected["groups"]["blue"][0] == ["web1", "web2", "web3"]
    assert _view([_source(tmp_path, upstream), str(constructed)])["groups"] == expected["groups"]


def test_the_probes_pass_on_this_core():
    assert internals.replay_supported()
    assert internals._restore_works()
    assert internals._off == {}


def test_a_stored_snapshot_holds_data_only(tmp_path):
    import copyreg
    import io
    import pickle

    from ansible.inventory.data import InventoryData

    from ansible_collections.vcs.inventory.plugins.plugin_utils import parsed_store

    KEY = b"k" * parsed_store.KEY_BYTES
    data = InventoryData()
    data.add_group("web")
    data.add_host("web1", "web")
    path = str(tmp_path / "stored.pickle")
    parsed_store.write(path, "k", "c", [("add_group", ("web",), None, None)], {}, snapshot=internals.snapshot(data), secret=KEY)
    _header, _ops, stored = parsed_store.read(path, "k", "c", DataLoader(), snapshot=True, secret=KEY)
    assert [h.name for h in stored["groups"]["web"].get_hosts()] == ["web1"]
    assert parsed_store.read(path, "k", "c", DataLoader(), secret=KEY)[1] == [("add_group", ("web",), None, None)]
    # Each part is checked when it is read: a flipped byte among the calls spoils the replay only.
    with open(path, "rb") as handle:
        good = handle.read()
    with open(path, "wb") as handle:
        handle.write(good[:-5] + bytes([good[-5] ^ 0xFF]) + good[-4:])
    assert parsed_store.read(path, "k", "c", DataLoader(), snapshot=True, secret=KEY)[2]["hosts"]["web1"].name == "web1"
    with pytest.raises(parsed_store.Damaged, match="digest"):
        parsed_store.read(path, "k", "c", DataLoader(), secret=KEY)

    # A planted file that names a function (here the collection's own state setter) is refused.
    stream = io.BytesIO()
    pickler = pickle.Pickler(stream, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {Display: lambda o: (copyreg.__newobj__, (Display,), {}, None, None, internals.set_object_state)}
    pickler.dump(Display())
    with pytest.raises(pickle.UnpicklingError, match="not allowed in a stored parse"):
        parsed_store._Unpickler(io.BytesIO(stream.getvalue()), DataLoader()).load()
    with pytest.raises(pickle.UnpicklingError, match="hosts and groups only"):
        internals.set_object_state(Display(), {})
