"""Shared fixtures: the collection on the import path, real Git servers on 127.0.0.1, upstream
repositories, and the real ansible-inventory / ansible-playbook against the built collection."""

from __future__ import annotations

import atexit
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from helpers.servers import GitDaemon, HttpGitServer  # noqa: E402
from helpers.upstream import Upstream  # noqa: E402


def _collection_import_path() -> str:
    """Make `ansible_collections.vcs.inventory` importable from this checkout, wherever it lives."""
    parts = ROOT.split(os.sep)
    if len(parts) >= 3 and parts[-3] == "ansible_collections" and parts[-2] == "vcs":
        return os.sep.join(parts[:-3])
    base = tempfile.mkdtemp(prefix="vcs-inventory-import-")
    os.makedirs(os.path.join(base, "ansible_collections", "vcs"))
    os.symlink(ROOT, os.path.join(base, "ansible_collections", "vcs", "inventory"))
    atexit.register(shutil.rmtree, base, True)
    return base


IMPORT_PATH = _collection_import_path()
if IMPORT_PATH not in sys.path:
    sys.path.insert(0, IMPORT_PATH)
from ansible.utils.collection_loader import AnsibleCollectionConfig  # noqa: E402

if AnsibleCollectionConfig.collection_finder is None:
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader([IMPORT_PATH])

BIN = os.path.dirname(sys.executable)


def said(text: str, output: str) -> bool:
    """Whether output holds text; ansible-core 2.16 wraps messages at 80 columns, so whitespace is ignored."""
    return "".join(text.split()) in "".join(output.split())


def strip_audit(listing: dict) -> dict:
    """ansible-inventory --list output without the vars this plugin adds."""
    result = json.loads(json.dumps(listing))
    hostvars = result.get("_meta", {}).get("hostvars", {})
    for name in list(hostvars):
        for key in [k for k in hostvars[name] if k.startswith("git_inventory_")]:
            del hostvars[name][key]
        if not hostvars[name]:
            del hostvars[name]  # ansible-inventory lists only hosts that have vars
    return result


class Ansible:
    """Runs the real ansible-* commands against the collection installed from its tarball."""

    def __init__(self, collections_path: str, home: str, cache_dir: str) -> None:
        self.collections_path = collections_path
        self.home = home
        self.cache_dir = cache_dir

    def env(self, extra: dict | None = None) -> dict:
        env = dict(os.environ)
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": self.collections_path,
            "HOME": self.home,
            "ANSIBLE_VCS_INVENTORY_CACHE_DIR": self.cache_dir,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_LOCAL_TEMP": os.path.join(self.home, "tmp"),
            "ANSIBLE_HOST_KEY_CHECKING": "0",
            # local hosts run modules with this interpreter, not whatever discovery finds first
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "PATH": BIN + os.pathsep + env.get("PATH", ""),
            "PYTHONWARNINGS": "default",
            "COLUMNS": "2000",  # ansible-core 2.16 wraps warnings at the terminal width
        })
        env.pop("ANSIBLE_CONFIG", None)
        env.update(extra or {})
        return env

    def run(self, tool: str, *args, env: dict | None = None, cwd: str | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([os.path.join(BIN, tool), *map(str, args)], env=self.env(env), cwd=cwd,
                              capture_output=True, text=True, timeout=timeout, check=False)

    def inventory(self, *args, **kwargs) -> subprocess.CompletedProcess:
        return self.run("ansible-inventory", *args, **kwargs)

    def playbook(self, *args, **kwargs) -> subprocess.CompletedProcess:
        return self.run("ansible-playbook", *args, **kwargs)

    def list(self, source: str, *args, **kwargs) -> dict:
        """ansible-inventory --list, with the audit vars (always unsafe) shown as plain strings.

        tests/integration/test_trust_round3.py checks their raw, unsafe form.
        """
        proc = self.inventory("-i", source, "--list", *args, **kwargs)
        assert proc.returncode == 0, f"ansible-inventory failed:\n{proc.stdout}\n{proc.stderr}"
        return plain_audit(json.loads(proc.stdout))


def plain_audit(listing: dict) -> dict:
    """A listing whose git_inventory_* values are plain ({"__ansible_unsafe": x} -> x)."""
    for hostvars in listing.get("_meta", {}).get("hostvars", {}).values():
        for key, value in hostvars.items():
            if key.startswith("git_inventory_") and isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:
                hostvars[key] = value["__ansible_unsafe"]
    return listing


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory) -> str:
    """Build the collection tarball and install it, as a user would."""
    work = tmp_path_factory.mktemp("collection")
    galaxy = os.path.join(BIN, "ansible-galaxy")
    env = dict(os.environ, HOME=str(work), ANSIBLE_NOCOLOR="1")
    subprocess.run([galaxy, "collection", "build", ROOT, "--output-path", str(work / "dist")],
                   check=True, capture_output=True, env=env)
    tarball = glob.glob(str(work / "dist" / "vcs-inventory-*.tar.gz"))[0]
    subprocess.run([galaxy, "collection", "install", tarball, "-p", str(work / "colls"), "--force"],
                   check=True, capture_output=True, env=env)
    return str(work / "colls")


@pytest.fixture
def ansible(collections_path, tmp_path) -> Ansible:
    home = tmp_path / "home"
    (home / "tmp").mkdir(parents=True)
    return Ansible(collections_path, str(home), str(tmp_path / "cache"))


@pytest.fixture
def repos_root(tmp_path) -> str:
    """The directory the upstream repositories live in and the servers serve."""
    root = tmp_path / "repos"
    root.mkdir(exist_ok=True)
    return str(root)


@pytest.fixture
def upstream(repos_root) -> Upstream:
    return Upstream(repos_root)


@pytest.fixture
def git_daemon(repos_root):
    server = GitDaemon(repos_root)
    yield server
    server.stop()


@pytest.fixture
def http_server(repos_root):
    server = HttpGitServer(repos_root)
    yield server
    server.stop()


def write_source(directory, name: str = "prod.git.yml", **options) -> str:
    """Write a plugin config file; options are YAML-dumped as given."""
    import yaml

    config = {"plugin": "vcs.inventory.git", **options}
    path = os.path.join(str(directory), name)
    with open(path, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    return path


def oracle(ansible: Ansible, upstream: Upstream, commit: str, path: str, tmp_path, *args) -> dict:
    """What ansible-inventory says of a plain git clone of the same commit."""
    dest = os.path.join(str(tmp_path), f"oracle-{commit[:8]}-{len(os.listdir(str(tmp_path)))}")
    upstream.clone_at(dest, commit)
    return ansible.list(os.path.join(dest, path) if path else dest, *args)
