# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ref names a Git server sends, checked as `git check-ref-format` checks them (pure logic).

A server chooses the names it advertises, HEAD's symref target among them; the branch name may end
up in git_inventory_version and in messages. The rules are git's (Documentation/git-check-ref-format.txt),
applied as an allow-list of what a name may be, plus one of our own: the name must be UTF-8.
"""

from __future__ import annotations

from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import UnusableCommit

__metaclass__ = type

# check-ref-format rule 4 and 5: no control character, DEL, space, ~ ^ : ? * [ or backslash anywhere.
_FORBIDDEN = frozenset(range(0x20)) | frozenset(b"\x7f ~^:?*[\\")
SHOWN_MAX = 80


def valid_ref_name(name: bytes) -> bool:
    """Whether name passes `git check-ref-format` (a full name such as refs/heads/main)."""
    if not name or len(name) > 1024:
        return False
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if any(byte in _FORBIDDEN for byte in name):
        return False
    # Rules 3, 6, 7, 8, 9: no "..", no "@{", not "@", no leading/trailing "/" or "//", no trailing ".".
    if b".." in name or b"@{" in name or name == b"@" or name.endswith(b".") or b"//" in name:
        return False
    if name.startswith(b"/") or name.endswith(b"/"):
        return False
    # Rule 1: no component starts with "." or ends with ".lock"; rule 2: at least one "/".
    parts = name.split(b"/")
    if len(parts) < 2:
        return False
    return all(part and not part.startswith(b".") and not part.endswith(b".lock") for part in parts)


def branch_of_head(target: bytes | None) -> str | None:
    """The branch name of HEAD's symref target, None when the server sent none.

    Raises UnusableCommit (with the name quoted safely) when the target is not a valid branch ref.
    """
    if target is None:
        return None
    if not target.startswith(b"refs/heads/") or not valid_ref_name(target):
        raise UnusableCommit(f"the remote's HEAD points at {shown(target)}, which is not a valid branch name "
                             "(git check-ref-format); set the option 'version' to the branch to read")
    return target.decode("utf-8").removeprefix("refs/heads/")


def shown(name: bytes | str) -> str:
    """A name from the server as it may appear in a message: escaped, quoted, cut short."""
    if isinstance(name, bytes):
        name = name.decode("utf-8", "backslashreplace")
    text = repr(name)  # escapes newlines, control and non-printable characters
    return text if len(text) <= SHOWN_MAX else text[:SHOWN_MAX - 4] + "...'"
