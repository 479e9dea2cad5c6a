"""A real OpenSSH server on 127.0.0.1 for tests, with its own config, host key and authorized keys.

It runs as the current user (root in CI containers, where root may log in with a key only) and
lets that user run git-upload-pack on the repositories under the test's directory, like a Git
host's deploy-key login. Nothing of the machine's own sshd setup is read or changed.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess

from helpers.servers import free_port, stop, wait_for_port


def sshd_binary() -> str:
    found = shutil.which("sshd") or next((p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if os.access(p, os.X_OK)), None)
    if not found:
        raise RuntimeError("sshd not found: install openssh-server (.ci/run does)")
    return found


def make_key(path: str, comment: str = "vcs-inventory-test") -> str:
    """An ed25519 key pair without passphrase; returns the public key line."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
                   check=True, capture_output=True)
    with open(path + ".pub", encoding="ascii") as handle:
        return handle.read().strip()


class Sshd:
    """`sshd -D` on a free port of 127.0.0.1; stop() ends it."""

    def __init__(self, directory: str, authorized_keys: list[str]) -> None:
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.user = getpass.getuser()
        self.port = free_port()
        self.host_key = os.path.join(directory, "ssh_host_ed25519_key")
        self.host_public_key = make_key(self.host_key, "test-host")
        keys_file = os.path.join(directory, "authorized_keys")
        with open(keys_file, "w", encoding="ascii") as handle:
            handle.write("\n".join(authorized_keys) + "\n")
        os.chmod(keys_file, 0o600)
        config = os.path.join(directory, "sshd_config")
        with open(config, "w", encoding="ascii") as handle:
            handle.write(f"""\
ListenAddress 127.0.0.1
Port {self.port}
HostKey {self.host_key}
PidFile none
AuthorizedKeysFile {keys_file}
# pytest's temp dirs sit under the world-writable /tmp, which StrictModes would refuse.
StrictModes no
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
AllowUsers {self.user}
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
LogLevel VERBOSE
""")
        if os.geteuid() == 0:
            # sshd started as root insists on its privilege separation directory (a tmpfs made by
            # the service manager on a booted system; absent in a container).
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.log = os.path.join(directory, "sshd.log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([sshd_binary(), "-D", "-e", "-f", config], stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_for_port(self.port, self.proc)
        except RuntimeError as exc:
            stop(self.proc)
            with open(self.log, encoding="utf-8", errors="replace") as handle:
                raise RuntimeError(f"sshd did not start: {exc}\n{handle.read()}") from None

    def known_hosts_line(self) -> str:
        """The host key as ssh writes it for a non-standard port."""
        key_type, key = self.host_public_key.split()[:2]
        return f"[127.0.0.1]:{self.port} {key_type} {key}"

    def url(self, repo_path: str) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{repo_path}"

    def scp_url(self, repo_path: str) -> str:
        return f"{self.user}@127.0.0.1:{repo_path}"

    def read_log(self) -> str:
        with open(self.log, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def stop(self) -> None:
        stop(self.proc)
