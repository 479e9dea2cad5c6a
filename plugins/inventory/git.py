# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: git
short_description: Read an Ansible inventory from a Git repository
version_added: 0.1.0
description:
  - Keeps a cached copy of a Git repository in sync (pure Python, through dulwich; no C(git) binary
    needed) and parses the inventory inside it exactly as Ansible parses a local copy given with C(-i),
    that is INI, YAML, JSON and TOML files, directories, and the C(group_vars/) and C(host_vars/) beside the path.
  - The cache is safe under parallel jobs and crashes, and a rerun never fails on what an earlier run left behind.
  - Every host the source adds gets the variables C(git_inventory_url) (without credentials),
    C(git_inventory_version), C(git_inventory_commit), C(git_inventory_stale) and C(git_inventory_previous_commit)
    (the commit this source read before the current one, empty on the first sync).
  - When a run reads another commit than the last one of this source, C(-v) shows one line with the hosts
    added, removed and with changed variables.
  - The configuration file name must end in C(git.yml) or C(git.yaml).
requirements:
  - dulwich >= 1.2.13 (on the controller)
  - the C(ssh) client, for C(ssh://) and C(user@host:path) URLs
extends_documentation_fragment:
  - ansible.builtin.constructed
options:
  plugin:
    description: The name of this plugin; it must always be set to V(vcs.inventory.git) for this plugin to read the file.
    type: str
    required: true
    choices: [vcs.inventory.git]
  url:
    description:
      - The Git repository to read.
      - V(https://), V(http://), V(git://), V(ssh://), V(user@host:path), V(file://) or a local path.
      - A path or V(file://) URL of a C(*.bundle) file reads that Git bundle (since 0.2.0); see O(mirrors).
      - Credentials inside an https URL are used, and never shown or stored; prefer O(username) and O(password).
      - May be a Jinja template, evaluated against extra vars (C(-e)) and lookups.
    type: str
    required: true
    aliases: [repo]
    version_added: 0.1.0
  version:
    description:
      - The branch, tag, full commit id or abbreviated commit id to read.
      - Defaults to the branch the remote's C(HEAD) points to; V(HEAD) means the same.
      - A name that is both a tag and a branch means the tag (as in git), with a warning; write
        V(refs/heads/NAME) or V(refs/tags/NAME) to choose.
      - An abbreviated commit id needs at least 7 hex digits and must be the start of exactly one commit among
        the advertised refs and the whole history (checked once, with a full fetch); otherwise the run fails and
        lists the candidates. Full commit ids are faster.
      - Quote a version that YAML would read as a number, boolean or date, such as V("1.10") or V("0123456");
        such a value unquoted fails the source, because YAML would turn V(1.10) into V(1.1).
      - May be a Jinja template rendered against extra vars, to replay a job on the exact commit an earlier job
        used (its C(git_inventory_commit)); see the examples, which give the template a default branch.
      - May be a list of such strings (since 0.2.0). Each entry is rendered on its own, entries that render empty
        are skipped, and the first entry that names a ref the remote advertises (branch, tag, V(HEAD), V(refs/...))
        or that is a full commit id is used; C(git_inventory_version) says which. One ref advertisement serves the
        whole list. When no entry matches, the run fails and lists every entry and what it rendered to.
        Within O(refresh_interval) the last choice for the same rendered list is reused without network.
      - For example the branch of the CI job (an C(env) lookup), else the branch of the playbook (the
        C(vcs.inventory.current_branch) lookup), else V(main); the examples show that list.
    type: raw
    version_added: 0.1.0
  path:
    description:
      - The inventory file or directory inside the repository, relative to its root. Defaults to the root.
      - A list loads each entry in order, each with its own C(group_vars/) and C(host_vars/), like several C(-i) sources.
      - Absolute paths and paths that climb out of the repository are refused.
      - May be a Jinja template.
    type: raw
    default: ''
    version_added: 0.1.0
  depth:
    description:
      - How many commits of history to fetch. V(1) (the default) is a shallow fetch of just the wanted commit;
        V(0) fetches the full history.
    type: int
    default: 1
    version_added: 0.1.0
  cache_dir:
    description:
      - The directory that holds the cached clones, one entry per repository URL. Created with mode C(0700).
      - Defaults to C(~/.cache/ansible/vcs_inventory), honouring E(XDG_CACHE_HOME).
    type: path
    env:
      - name: ANSIBLE_VCS_INVENTORY_CACHE_DIR
    ini:
      - section: vcs_inventory
        key: cache_dir
    version_added: 0.1.0
  refresh_interval:
    description:
      - Seconds during which a cache synced for the same O(url) and O(version) is used as it is, with no network
        access at all. V(0) (the default) checks the remote on every run.
      - C(--flush-cache) and the C(refresh_inventory) meta task always check the remote.
    type: int
    default: 0
    env:
      - name: ANSIBLE_VCS_INVENTORY_REFRESH_INTERVAL
    ini:
      - section: vcs_inventory
        key: refresh_interval
    version_added: 0.1.0
  on_sync_failure:
    description:
      - What to do when the repository cannot be read (server down, timeout, authentication, protocol error).
      - V(fail) stops the run with an error naming the remote and the cause.
      - V(use_cache) uses the last good checkout, warns with its age and the cause, and sets
        C(git_inventory_stale=true) on every host. With no cached checkout the run still fails.
      - A version that the remote answers it does not have always fails; the old data is never served silently.
    type: str
    choices: [fail, use_cache]
    default: fail
    env:
      - name: ANSIBLE_VCS_INVENTORY_ON_SYNC_FAILURE
    ini:
      - section: vcs_inventory
        key: on_sync_failure
    version_added: 0.1.0
  mirrors:
    description:
      - Other URLs of the same repository, tried in order, each once, when O(url) cannot be reached (connection
        refused, unknown host, timeout, TLS error or an HTTP 5xx answer). A primary that answers, with an
        authentication failure, no such repository or no such version, is never replaced by a mirror.
      - The first mirror that serves the commit is used for this run; a warning names the failure of O(url) and the
        mirror, and C(git_inventory_url) names the mirror (without credentials). The cache, its last good commit,
        O(verify_commit), O(trust_repo) and the other checks are those of O(url), whatever served.
      - The credentials of O(url) (in it, or O(username) and O(password)) are sent only to mirrors on the same
        host; a mirror elsewhere takes credentials in its own URL, or none.
      - A mirror (or O(url) itself) may be a Git bundle, a path or V(file://) URL of a file ending in
        V(.bundle) (v2 or v3, as C(git bundle create) writes), read locally with no network.
      - In the environment variable, separate URLs with commas.
    type: list
    elements: str
    default: []
    env:
      - name: ANSIBLE_VCS_INVENTORY_MIRRORS
    version_added: 0.2.0
  max_host_loss:
    description:
      - A guard against losing hosts, in percent (0 to 100); off when not set.
      - When the commit to read holds fewer of the hosts of this source's last good commit (same O(url), O(version)
        and O(path)) than the limit allows, that is when more than this percentage of them is gone, the source
        fails with a message naming the commits, the count and up to 10 removed hosts. With
        O(on_sync_failure=use_cache) the last good commit is served instead, marked stale, with that message as a
        warning.
      - Such a commit never becomes the last good one, so the guard holds on every later run until the limit is
        raised (in the source file, or for one run through the environment variable or C(ansible.cfg) where the
        file does not set it) or O(version) pins a commit. The first sync of a source always passes.
      - A run whose commit did not change costs nothing more; a changed commit is parsed once more, into an
        inventory of its own, to count its hosts.
    type: int
    env:
      - name: ANSIBLE_VCS_INVENTORY_MAX_HOST_LOSS
    ini:
      - section: vcs_inventory
        key: max_host_loss
    version_added: 0.2.0
  timeout:
    description:
      - Seconds of the longest single wait on the remote (to connect, or for the next bytes of an answer),
        on every transport, HTTP(S) included. A wait that runs out fails the sync at once; nothing is retried.
    type: int
    default: 60
    env:
      - name: ANSIBLE_VCS_INVENTORY_TIMEOUT
    version_added: 0.1.0
  sync_timeout:
    description:
      - Seconds the whole network part of one sync may take (connect, negotiate, fetch, the fetches of the
        files the inventory needs), however slowly the server answers within O(timeout).
      - Past it the sync fails like an outage (see O(on_sync_failure)), the cache entry's lock is released,
        and nothing half-fetched is used or kept. V(0) sets no limit.
    type: int
    default: 300
    env:
      - name: ANSIBLE_VCS_INVENTORY_SYNC_TIMEOUT
    ini:
      - section: vcs_inventory
        key: sync_timeout
    version_added: 0.2.0
  max_file_size:
    description:
      - Largest file, in MiB, that the inventory may need from the repository. A larger file under O(path)
        is never read whole into memory or written to the cache; the source fails naming the file and its size.
      - Where the server supports filters the larger files are held back on the server. Where it does not, a
        larger file anywhere in the fetched commit fails the source (its size is seen in the pack's stream,
        before it is read). V(0) sets no limit.
    type: int
    default: 64
    env:
      - name: ANSIBLE_VCS_INVENTORY_MAX_FILE_SIZE
    version_added: 0.2.0
  lock_timeout:
    description:
      - Seconds to wait for each lock of the cache the run needs (the cache entry's, while another process
        syncs it; a checkout's, while another process removes it).
      - When exceeded, the error names the lock and the process holding it.
    type: int
    default: 300
    env:
      - name: ANSIBLE_VCS_INVENTORY_LOCK_TIMEOUT
    version_added: 0.1.0
  cache_max_age:
    description:
      - Days after which a cache entry for a repository that no run has used is removed (by any run).
        V(0) never removes entries.
    type: int
    default: 30
    env:
      - name: ANSIBLE_VCS_INVENTORY_CACHE_MAX_AGE
    ini:
      - section: vcs_inventory
        key: cache_max_age
    version_added: 0.1.0
  username:
    description: User name for HTTP(S) authentication. Wins over a user name inside O(url).
    type: str
    env:
      - name: ANSIBLE_VCS_INVENTORY_USERNAME
    version_added: 0.1.0
  password:
    description:
      - Password or token for HTTP(S) authentication. Never shown, logged or written to the cache.
    type: str
    secret: true
    env:
      - name: ANSIBLE_VCS_INVENTORY_PASSWORD
    version_added: 0.1.0
  validate_certs:
    description: Whether to verify the HTTPS server's certificate.
    type: bool
    default: true
    env:
      - name: ANSIBLE_VCS_INVENTORY_VALIDATE_CERTS
    version_added: 0.1.0
  ca_path:
    description: A PEM file of CA certificates to verify the HTTPS server with (for a private CA).
    type: path
    env:
      - name: ANSIBLE_VCS_INVENTORY_CA_PATH
    version_added: 0.1.0
  key_file:
    description: The private SSH key to authenticate with (a deploy key) for SSH URLs.
    type: path
    env:
      - name: ANSIBLE_VCS_INVENTORY_KEY_FILE
    version_added: 0.1.0
  accept_hostkey:
    description:
      - Accept and remember an SSH host key that is not yet known. A changed key is still refused.
      - By default the host key must already be in O(known_hosts_file).
    type: bool
    default: false
    env:
      - name: ANSIBLE_VCS_INVENTORY_ACCEPT_HOSTKEY
    version_added: 0.1.0
  known_hosts_file:
    description: The known_hosts file to check SSH host keys against. Defaults to the user's.
    type: path
    env:
      - name: ANSIBLE_VCS_INVENTORY_KNOWN_HOSTS_FILE
    version_added: 0.1.0
  ssh_common_args:
    description: Extra options for the C(ssh) command, for example V(-o ProxyJump=bastion).
    type: str
    env:
      - name: ANSIBLE_VCS_INVENTORY_SSH_COMMON_ARGS
    version_added: 0.1.0
  proxy:
    description:
      - The HTTP proxy for V(https://) and V(http://) URLs, as V(http://[user:password@]host:port) (no port means
        1080, as in git). V(https://) URLs go through it with C(CONNECT), so the TLS options still apply to the Git server.
      - Wins over the environment. Without it the proxy comes from E(https_proxy) or E(HTTPS_PROXY) for V(https://)
        URLs, E(http_proxy) or E(HTTP_PROXY) for V(http://) URLs, then E(all_proxy) or E(ALL_PROXY); an empty
        variable counts as unset. E(no_proxy) or E(NO_PROXY) (host names, V(.domain) suffixes, IP addresses, CIDR
        networks, V(*)) lists servers reached directly, whichever way the proxy was set.
      - Its user name and password are sent as Basic proxy authentication and, like O(password), never shown,
        logged or written to the cache.
    type: str
    secret: true
    env:
      - name: ANSIBLE_VCS_INVENTORY_PROXY
    ini:
      - section: vcs_inventory
        key: proxy
    version_added: 0.2.0
  allow_scripts:
    description:
      - Run executable files of the repository as script inventories, as Ansible would for a local copy.
      - Off by default, so that nothing from the repository runs on the controller; such files are skipped with a warning.
    type: bool
    default: false
    version_added: 0.1.0
  trust_repo:
    description:
      - Treat the repository like a playbook repository (the default), so templates inside its variables render
        as they would from a local inventory.
      - V(false) for repositories edited by people who must not run code on the controller. Values from the
        repository are then never templated; only the INI, YAML/JSON and TOML parsers read it (files that
        configure an inventory plugin are skipped with a warning); and every variable that sets how the
        controller connects or runs things is dropped with a warning, except plain host, port and user
        addresses (see the Trust page of the documentation).
      - A V(vcs.inventory.git) configuration found inside a checkout never gets a wider O(trust_repo) or
        O(allow_scripts) than the source that loaded it.
    type: bool
    default: true
    version_added: 0.1.0
  verify_commit:
    description:
      - Read only a commit that carries a good signature from an allowed key, OpenPGP (see O(gpg_allowlist))
        or SSH (see O(ssh_allowed_signers)), as C(git verify-commit) would check it.
      - The signature is checked right after the fetch, before the commit is checked out; a commit that fails is
        never checked out, parsed, stored or recorded as the last good commit, and the run fails with an error
        that names the commit and what to do. With O(on_sync_failure=use_cache) the last verified commit of the
        same version is used instead, with a warning, and every host gets C(git_inventory_stale=true).
      - Only the commit that is read is checked, not its history. For an annotated tag, the commit it points to
        must be signed; the tag's own signature is not checked.
      - Every host gets C(git_inventory_signer) - the OpenPGP primary key fingerprint, or the SSH principal and
        key fingerprint (V(alice@example.com SHA256:...)) that signed.
      - Needs the C(gpg) program (package C(gnupg)) for OpenPGP signatures and C(ssh-keygen) (package
        C(openssh-client)) for SSH signatures.
    type: bool
    default: false
    env:
      - name: ANSIBLE_VCS_INVENTORY_VERIFY_COMMIT
    version_added: 0.2.0
  ssh_allowed_signers:
    description:
      - With O(verify_commit), the SSH keys that may sign, in git's allowed signers format (as for
        C(gpg.ssh.allowedSignersFile)) - one line per key with its principals, optionally
        V(namespaces="git") and V(valid-after=)/V(valid-before=), then the key.
      - A key outside its V(valid-after)/V(valid-before) window is refused; the window is checked against the
        current time, not the commit's date, which the signer chooses.
      - Required to read SSH-signed commits (C(gpg.format=ssh)).
    type: path
    env:
      - name: ANSIBLE_VCS_INVENTORY_SSH_ALLOWED_SIGNERS
    version_added: 0.2.0
  gpg_allowlist:
    description:
      - With O(verify_commit), the OpenPGP fingerprints of the keys that may sign, as in the
        C(gpg_allowlist) of the C(ansible.builtin.git) module. Compared without spaces, case-insensitively.
      - Signatures are checked against the user's GnuPG keyring (E(GNUPGHOME) is honoured), which must hold the
        public keys; keys missing from it are never fetched from a key server.
      - A signature by a subkey counts for its primary key. A good signature from a key that is in the keyring but
        not in this list is refused. When the list is empty, any valid key of the keyring may sign.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
"""

EXAMPLES = r"""
# inventories/prod.git.yml -- the repository's HEAD branch, one directory in it
plugin: vcs.inventory.git
url: https://git.example.com/ops/infra.git
path: inventories/prod

---
# A pinned tag, read over HTTPS with a read-only token from the environment
# (export ANSIBLE_VCS_INVENTORY_PASSWORD=...; the token never shows up in output or the cache)
plugin: vcs.inventory.git
url: https://git.example.com/ops/infra.git
username: deploy
version: v2.4.0
path: inventories/prod/hosts.yml

---
# SSH with a deploy key, host key checked against a known_hosts file you ship
plugin: vcs.inventory.git
url: git@git.example.com:ops/infra.git
key_file: ~/.ssh/inventory_deploy_key
known_hosts_file: ~/.ssh/known_hosts_git
version: main
path: inventories/prod

---
# Several paths, each with its own group_vars/ and host_vars/, and groups built from vars
plugin: vcs.inventory.git
url: https://git.example.com/ops/infra.git
path:
  - inventories/prod
  - inventories/shared/hosts.ini
keyed_groups:
  - key: datacenter
    prefix: dc
compose:
  ansible_host: ip_address

---
# The branch of the CI job, else the branch the playbook is checked out on, else main
plugin: vcs.inventory.git
url: https://git.example.com/ops/infra.git
version:
  - "{{ lookup('env', 'CI_COMMIT_REF_NAME') }}"
  - "{{ lookup('vcs.inventory.current_branch') }}"
  - main
path: inventories/prod

---
# Replay a job on the exact commit an earlier job used:
#   ansible-playbook -i prod.git.yml site.yml -e inventory_commit=<git_inventory_commit of that job>
plugin: vcs.inventory.git
url: https://git.example.com/ops/infra.git
version: "{{ inventory_commit | default('main') }}"
path: inventories/prod

---
# Fast reruns on a busy controller, and keep working from the last good commit if Git is down
plugin: vcs.inventory.git
url: https://git.example.com/ops/infra.git
refresh_interval: 300
on_sync_failure: use_cache

---
# Read only commits signed by the team's SSH keys (or OpenPGP keys: gpg_allowlist)
plugin: vcs.inventory.git
url: https://git.example.com/ops/infra.git
verify_commit: true
ssh_allowed_signers: ~/.config/inventory/allowed_signers
"""

import os
from importlib.util import find_spec

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

# Found, not imported: the Git code imports dulwich only when a sync needs the network, so a run
# inside refresh_interval never loads it.
try:
    HAS_DULWICH = find_spec("dulwich") is not None
except (ImportError, ValueError):
    HAS_DULWICH = False

from ansible_collections.vcs.inventory.plugins.plugin_utils import long_lived, messages, strict_options
from ansible_collections.vcs.inventory.plugins.plugin_utils._ansible_internals import inventory_of
from ansible_collections.vcs.inventory.plugins.plugin_utils.attempts import fail_again_if_failed, remember_failure
from ansible_collections.vcs.inventory.plugins.plugin_utils.empty_source import warn_if_no_hosts
from ansible_collections.vcs.inventory.plugins.plugin_utils.git_source import (
    annotate_hosts,
    fail_the_run,
    load_checkout,
    read_settings,
    sync_checkout,
)


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "vcs.inventory.git"

    def verify_file(self, path):
        readable = super().verify_file(path)
        if readable and not path.endswith(("git.yml", "git.yaml")) and strict_options.names_this_plugin(path):
            self.display.warning(messages.misnamed_source(path))  # the file is still refused: only the reason is told
        return readable and path.endswith(("git.yml", "git.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        display = self.display
        self.display = messages.SourceDisplay(display, path)  # every warning of this source names it
        try:
            if not HAS_DULWICH:
                raise messages.missing_dulwich()
            long_lived.before_load(inventory_of(self))
            self._read_source(path)
            fail_again_if_failed(self, path)  # auto hands a failed source back to us: one attempt per run
            owner = os.path.abspath(path)
            settings = read_settings(self, force_sync=not cache)
            checkout = sync_checkout(self, settings, owner)
            added = load_checkout(self, settings, checkout, owner, cache)
            warn_if_no_hosts(self, settings, checkout, added)
            annotate_hosts(self, settings, checkout, added)
            long_lived.after_load(inventory_of(self))  # ansible-playbook forks next: see long_lived
        except Exception as exc:  # MemoryError or RecursionError too: a failed source fails the run, never empties it
            fail_the_run()
            if not isinstance(exc, AnsibleError):  # a bug or no memory: where it happened, for a report (-vvv)
                display.vvv(messages.unexpected_trace(exc, path))
            failure = messages.in_source(exc, path)
            remember_failure(self, path, failure)  # the error being raised, for the next attempt in this run
            if failure is exc:
                raise
            raise failure from None
        finally:
            self.display = display

    def _read_source(self, path):
        try:
            config = self._read_config_data(path)
        except AnsibleError as exc:  # bad YAML, a required or mistyped option: Ansible's words, with our face
            strict_options.explain(self, self.loader, path)  # unless a check of ours says it more plainly
            raise messages.unreadable_source(path, messages.ansible_text(exc)) from None
        strict_options.check(self, config, path)
