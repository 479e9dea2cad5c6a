"""parsed_store: a stored parse is data. The reader names an exact list of classes, the writer stores
nothing else, and each part carries a digest keyed with the cache root's own key."""

from __future__ import annotations

import io
import os
import pickle
import stat
import subprocess

import pytest
from ansible.parsing.dataloader import DataLoader

from ansible_collections.vcs.inventory.plugins.plugin_utils import _ansible_internals as internals
from ansible_collections.vcs.inventory.plugins.plugin_utils import parsed_store

KEY = b"k" * parsed_store.KEY_BYTES


def global_ref(module: str, name: str) -> bytes:
    """The opcodes that name module.name (protocol 4, STACK_GLOBAL), with no PROTO and no STOP."""
    def text(value: str) -> bytes:
        data = value.encode()
        return b"\x8c" + bytes([len(data)]) + data

    return text(module) + text(name) + b"\x93"


def global_pickle(module: str, name: str, args: tuple = ()) -> bytes:
    """A pickle that calls module.name(*args): what a planted file would hold."""
    return b"\x80\x04" + global_ref(module, name) + pickle.dumps(args, protocol=2)[2:-1] + b"R."


@pytest.mark.parametrize("module, name", [
    ("ansible.module_utils.basic", "subprocess.Popen"),  # a dotted name under an Ansible module
    ("ansible.module_utils.basic", "os.system"),
    ("subprocess", "Popen"),
    ("builtins", "eval"),
    ("builtins", "getattr"),
    ("ansible.inventory.host", "Host"),  # a real Ansible class, but not one a parse stores
    ("ansible.plugins.loader", "inventory_loader"),
    ("datetime", "datetime.fromisoformat"),
])
def test_the_reader_names_only_the_listed_classes(tmp_path, module, name):
    marker = tmp_path / "ran"
    stream = io.BytesIO(global_pickle(module, name, (["touch", str(marker)],)))
    with pytest.raises(pickle.UnpicklingError, match="not allowed in a stored parse"):
        parsed_store._Unpickler(stream, DataLoader()).load()
    assert not marker.exists()


def test_the_list_is_exact_pairs_of_real_classes():
    listed = internals.stored_types()
    assert ("datetime", "date") in listed and ("collections", "OrderedDict") in listed
    for (module, name), cls in listed.items():
        assert "." not in name and isinstance(cls, type)
        assert (cls.__module__, cls.__qualname__) == (module, name)
        plain = b"\x80\x04" + global_ref(module, name) + b"."
        assert pickle.loads(plain) is cls  # the name is what the unrestricted unpickler finds too
        stream = io.BytesIO(plain)
        assert parsed_store._Unpickler(stream, DataLoader()).load() is cls


def test_what_the_parsers_make_round_trips(tmp_path):
    import yaml
    from ansible.parsing.yaml.loader import AnsibleLoader

    data = yaml.load("a: 2024-01-01\nb: 2024-01-01 10:00:00+01:00\nc: !!set {x, y}\nd: !!binary aGVsbG8=\n"
                     "e: [1, 2.5, true, null, 'text']\nf: {x: {y: 1}}\n", Loader=AnsibleLoader)
    ops = [("set_variable", ("web1", key, value), {}, None) for key, value in data.items()]
    path = str(tmp_path / "p.pickle")
    parsed_store.write(path, "k", "c", ops, {}, secret=KEY)
    assert parsed_store.read(path, "k", "c", DataLoader(), secret=KEY)[1] == ops


def test_the_writer_stores_no_other_class(tmp_path):
    path = str(tmp_path / "p.pickle")
    with pytest.raises(pickle.PicklingError, match="may not name"):
        parsed_store.write(path, "k", "c", [("set_variable", ("web1", "x", subprocess.Popen), {}, None)], {}, secret=KEY)
    with pytest.raises(pickle.PicklingError, match="may not name"):
        parsed_store.write(path, "k", "c", [("set_variable", ("web1", "x", os.path.join), {}, None)], {}, secret=KEY)
    assert not os.path.exists(path)


def test_a_digest_of_another_key_or_of_the_old_scheme_is_damage(tmp_path):
    path = str(tmp_path / "p.pickle")
    ops = [("add_host", ("web1",), {}, None)]
    parsed_store.write(path, "k", "c", ops, {"start": "s"}, secret=KEY)
    assert parsed_store.read(path, "k", "c", DataLoader(), secret=KEY)[1] == ops
    with pytest.raises(parsed_store.Damaged, match="digest"):
        parsed_store.read(path, "k", "c", DataLoader(), secret=b"o" * parsed_store.KEY_BYTES)
    # The header is bound to the digests: a changed start (or hosts, commit...) is damage too.
    with open(path, "rb") as handle:
        header, rest = handle.read().split(b"\n", 1)
    with open(path, "wb") as handle:
        handle.write(header.replace(b'"start": "s"', b'"start": "t"') + b"\n" + rest)
    with pytest.raises(parsed_store.Damaged, match="digest"):
        parsed_store.read(path, "k", "c", DataLoader(), secret=KEY)


def test_the_key_is_made_once_and_the_owners_alone(tmp_path):
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    first = parsed_store.secret_of(str(root))
    assert len(first) == parsed_store.KEY_BYTES and parsed_store.secret_of(str(root)) == first
    st = os.lstat(root / ".parse.key")
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert sorted(os.listdir(root)) == [".parse.key"]  # no temp file left

    os.chmod(root / ".parse.key", 0o644)
    with pytest.raises(parsed_store.Damaged, match="open to others"):
        parsed_store.secret_of(str(root))
    os.unlink(root / ".parse.key")
    (tmp_path / "elsewhere").write_bytes(KEY)
    os.chmod(tmp_path / "elsewhere", 0o600)
    os.symlink(tmp_path / "elsewhere", root / ".parse.key")
    with pytest.raises(parsed_store.Damaged, match="cannot be read"):
        parsed_store.secret_of(str(root))
    os.unlink(root / ".parse.key")
    (root / ".parse.key").write_bytes(b"short")
    os.chmod(root / ".parse.key", 0o600)
    with pytest.raises(parsed_store.Damaged, match="not a key"):
        parsed_store.secret_of(str(root))
