"""docs/getting-started.md, word for word: its shell blocks (all but installing from PyPI and Galaxy,
which the fixture does from the built tarball) run as written, and the inventory has its hosts on
every supported ansible-core."""

from __future__ import annotations

import os
import re
import subprocess

from conftest import ROOT, said

SKIP = re.compile(r"pip install|collection install|ssh-keyscan|export ANSIBLE_VCS|ansible-doc")


def test_getting_started_as_written(ansible):
    with open(os.path.join(ROOT, "docs", "getting-started.md"), encoding="utf-8") as handle:
        blocks = re.findall(r"```bash\n(.*?)```", handle.read(), re.S)
    script = "set -euo pipefail\n" + "\n".join(b for b in blocks if not SKIP.search(b))
    env = ansible.env({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.path.join(ansible.home, ".gitconfig")})
    proc = subprocess.run(["bash", "-c", script], env=env, cwd=ansible.home, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    graphs = re.findall(r"@all:.*?(?=\n\S|\Z)", proc.stdout, re.S)
    assert len(graphs) == 2
    assert all(f"|--{h}" in graphs[0] for h in ("db1", "web1", "web2")) and "web3" not in graphs[0]
    assert "|--web3" in graphs[1]  # step 6: the new commit is read
    assert '"http_port": 8080' in proc.stdout  # group_vars/ beside the path
    assert said("ok=1 changed=0 unreachable=0 failed=0", proc.stdout)
    assert not said("[WARNING]", proc.stderr), proc.stderr
