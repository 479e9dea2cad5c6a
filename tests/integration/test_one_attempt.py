"""One attempt per run: a failed source that `auto` hands back to the plugin fails again at once,
with the same message, without a second connection."""

from __future__ import annotations

import socket
import threading

import pytest

from conftest import said, write_source

BOTH = {"ANSIBLE_INVENTORY_ENABLED": "vcs.inventory.git,host_list,script,auto,yaml,ini,toml"}


class HangUp:
    """A TCP server on 127.0.0.1 that counts connections and closes each at once (a broken Git server)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.stopped = False
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped:
            try:
                conn, _addr = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def stop(self) -> None:
        self.stopped = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def hang_up():
    server = HangUp()
    yield server
    server.stop()


@pytest.mark.parametrize("tool", ["ansible-inventory", "ansible-playbook"])
def test_a_failed_source_is_not_tried_again_through_auto(ansible, hang_up, tmp_path, tool):
    source = write_source(tmp_path, url=f"git://127.0.0.1:{hang_up.port}/inventory.git")
    args = ["--list"] if tool == "ansible-inventory" else [str(tmp_path / "site.yml")]
    (tmp_path / "site.yml").write_text("- hosts: all\n  gather_facts: false\n  tasks: []\n")
    proc = ansible.run(tool, "-i", source, *args, env=BOTH)
    assert proc.returncode != 0
    # Both plugins report the failure, with the same message: the second one without connecting.
    message = f"cannot read git://127.0.0.1:{hang_up.port}/inventory.git"
    assert said(f"with 'auto' plugin: vcs.inventory.git: {message}", proc.stderr) or said(
        f"with auto plugin: vcs.inventory.git: {message}", proc.stderr), proc.stderr
    assert hang_up.connections == 1
    # A new run is a new attempt.
    assert ansible.run(tool, "-i", source, *args, env=BOTH).returncode != 0
    assert hang_up.connections == 2


def test_the_source_is_tried_once_per_run_without_auto_too(ansible, hang_up, tmp_path):
    source = write_source(tmp_path, url=f"git://127.0.0.1:{hang_up.port}/inventory.git")
    proc = ansible.inventory("-i", source, "--list", env={"ANSIBLE_INVENTORY_ENABLED": "vcs.inventory.git"})
    assert proc.returncode != 0 and hang_up.connections == 1
