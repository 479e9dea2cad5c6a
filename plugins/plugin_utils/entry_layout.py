# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The names of everything in one cache entry: every other module asks here.

    <entry>/lock              flock: exclusive while syncing or collecting garbage
    <entry>/lock.owner        who holds it (pid, host, since)
    <entry>/entry.json        which remote this entry belongs to
    <entry>/server.json       what the server supports (filters, objects by id)
    <entry>/mirror.git/       bare repository; refs/heads/v-<version key> per configured version
    <entry>/trees/<sha>/      one checkout per commit, built in trees/tmp-* then renamed
    <entry>/trees/<sha>.json  its manifest
    <entry>/trees/<sha>.lock  flock: shared while a process reads that checkout
    <entry>/state/<key>.json  the last good commit of one configured version
    <root>/.parse.key          the key of the stored parses' digests (in the cache root, beside the entries)
"""

from __future__ import annotations

import os
import re

__metaclass__ = type

LOCK = "lock"
LOCK_OWNER = "lock.owner"
ENTRY_INFO = "entry.json"
SERVER_INFO = "server.json"
MIRROR = "mirror.git"
TREES = "trees"
STATE = "state"
TMP_PREFIX = "tmp-"  # temp directories and files of a writer, removed once it is known dead
TMP_MARK = ".tmp-"  # inside the name of an atomically written file's temp copy
VERSION_REF_PREFIX = b"refs/heads/v-"
PARSE_KEY = ".parse.key"
OBJECT_ID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")  # SHA-1 or SHA-256, as a checkout is named


def version_ref(key: str) -> bytes:
    return VERSION_REF_PREFIX + key.encode()


def state_file(state_dir: str, key: str) -> str:
    return os.path.join(state_dir, key + ".json")


def tree_manifest(trees_dir: str, commit: str) -> str:
    return os.path.join(trees_dir, f"{commit}.json")


def tree_lock(trees_dir: str, commit: str) -> str:
    return os.path.join(trees_dir, f"{commit}.lock")
