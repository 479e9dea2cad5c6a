# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: current_branch
short_description: The branch checked out in the Git work tree of the playbook (or of a directory)
version_added: 0.2.0
description:
  - Returns the name of the branch checked out in the Git work tree that contains the playbook being run
    (the first playbook given to C(ansible-playbook)); outside C(ansible-playbook), or for a playbook from a
    collection, the work tree of the current directory.
  - With a directory as its argument, the work tree that contains that directory.
  - Returns an empty string for a detached C(HEAD) or for a directory outside any work tree (or inside a bare
    repository), so that a O(vcs.inventory.git#inventory:version) list falls through to its next entry.
  - Pure Python (dulwich); no C(git) program. Follows the C(.git) files of linked worktrees and submodules.
  - The branch is read from the work tree, not from a server; a branch that was never pushed is returned
    all the same (a C(version) list then goes on to its next entry when the remote does not have it).
requirements:
  - dulwich >= 1.2.13 (on the controller)
options:
  _terms:
    description: The directory whose work tree to read; at most one. Defaults to the playbook's directory.
    type: list
    elements: path
    required: false
"""

EXAMPLES = r"""
# prod.git.yml: the inventory follows the branch the job runs, falling back to main
plugin: vcs.inventory.git
url: https://git.example.com/infra/inventory.git
version:
  - "{{ lookup('vcs.inventory.current_branch') }}"
  - main

# The branch of another checkout
# "{{ lookup('vcs.inventory.current_branch', '/srv/checkouts/playbooks') }}"
"""

RETURN = r"""
_raw:
  description: The branch name (without C(refs/heads/)), or an empty string for a detached HEAD or no work tree.
  type: list
  elements: str
"""

import os
import sys

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

PREFIX = "vcs.inventory.current_branch: "


def playbook_directory() -> str | None:
    """The directory of the first playbook given to ansible-playbook, or None when there is none on disk.

    ansible-playbook keeps its positional arguments (the playbooks) in context.CLIARGS['args'];
    other programs keep something else there (ansible-inventory: a group name), so the program
    is recognised by its own options or its name.
    """
    try:
        from ansible import context

        cliargs = context.CLIARGS
        is_playbook = "start_at_task" in cliargs or os.path.basename(sys.argv[0] or "").startswith("ansible-playbook")
        playbooks = list(cliargs.get("args") or []) if is_playbook else []
    except Exception:  # noqa: BLE001 - no CLI arguments (a library caller): the current directory
        return None
    if not playbooks or not isinstance(playbooks[0], str):
        return None
    path = os.path.abspath(os.path.expanduser(playbooks[0]))
    return os.path.dirname(path) if os.path.isfile(path) else None  # a collection playbook (ns.coll.play) is no file


def current_branch(directory: str) -> str:
    """The branch checked out in the work tree that contains directory; '' when detached or outside any."""
    from dulwich.errors import NotGitRepository
    from dulwich.repo import Repo

    try:
        repo = Repo.discover(directory)
    except NotGitRepository:
        return ""
    with repo:
        if repo.bare:
            return ""
        # The work tree's own HEAD: for a linked worktree or a submodule, the one its .git file leads to.
        head = repo.refs.read_ref(b"HEAD")
    if not head or not head.startswith(b"ref: refs/heads/"):
        return ""  # detached: a commit id, not a branch
    return head[len(b"ref: refs/heads/"):].decode("utf-8", "replace").strip()


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if len(terms) > 1:
            raise AnsibleLookupError(f"{PREFIX}takes at most one directory, got {len(terms)}; "
                                     "call it once per directory")
        if terms and terms[0] not in (None, ""):
            directory = os.path.abspath(os.path.expanduser(str(terms[0])))
            if not os.path.isdir(directory):
                raise AnsibleLookupError(f"{PREFIX}the directory {str(terms[0])!r} does not exist; "
                                         "give an existing directory, or none for the playbook's own")
        else:
            directory = playbook_directory() or os.getcwd()
        try:
            import dulwich  # noqa: F401 - a missing library is one clear line, not a traceback
        except ImportError:
            raise AnsibleLookupError(f"{PREFIX}needs the Python library dulwich: pip install 'dulwich>=1.2.13,<2' "
                                     "with the Python that runs Ansible") from None
        try:
            return [current_branch(directory)]
        except Exception as exc:  # noqa: BLE001 - a work tree dulwich cannot read is one clear line
            raise AnsibleLookupError(f"{PREFIX}cannot read the Git work tree of {directory}: "
                                     f"{type(exc).__name__}: {exc}") from None
