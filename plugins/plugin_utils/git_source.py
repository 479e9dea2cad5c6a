# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible side of one run: options in, sync, load the checkout, annotate the hosts.

The plugin file calls these four steps; the Git work itself lives in git_cache (no Ansible there).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from ansible.inventory.group import Group
from ansible.utils.unsafe_proxy import wrap_var
from ansible.utils.vars import combine_vars
from ansible.vars.plugins import get_vars_from_inventory_sources

from ansible_collections.vcs.inventory.plugins.plugin_utils import _ansible_internals as internals
from ansible_collections.vcs.inventory.plugins.plugin_utils import commit_signatures, inventory_loading, messages, parsed_cache, repo_trust
from ansible_collections.vcs.inventory.plugins.plugin_utils import host_changes, version_choice, version_lists
from ansible_collections.vcs.inventory.plugins.plugin_utils.git_cache import Checkout, SyncError, SyncOptions, sync
from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import DulwichMissing
from ansible_collections.vcs.inventory.plugins.plugin_utils.transport import TransportOptions
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import redact

__metaclass__ = type

PREFIX = messages.PREFIX
# Changes when what a checkout may load changes, so that no stored parse made under older rules is replayed.
LOADING_RULES = 2


@dataclass
class Settings:
    sync: SyncOptions
    paths: list
    allow_scripts: bool
    trust_repo: bool
    vars_sources: list = field(default_factory=list)  # checkout paths Ansible's vars plugins read
    owner: str = ""  # the source file


def _template(plugin, value, option):
    """Render url/version/path templates against extra vars (and lookups)."""
    if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
        return value
    try:
        templar = plugin.templar
        templar.available_variables = internals.extra_vars(plugin)
        result = templar.template(value)
    except Exception as exc:
        # The url may carry credentials: never quote it unredacted, and drop the cause, which 2.19
        # shows together with the source line the template came from.
        secrets = [plugin.get_option("password") or ""]
        shown = redact(str(value), secrets)
        raise messages.cannot_render(option, shown, redact(str(exc), secrets)) from None
    return result


def fail_the_run() -> None:
    """Make the inventory manager fail the run when this source fails.

    By default Ansible only warns about a source no plugin could parse and goes on with an empty
    inventory: for a Git outage or a typo that would run playbooks against no hosts (or make AWX
    import an empty inventory). The manager reads this setting right after the source's plugins
    have all failed, so it turns our error into the run's error.
    """
    if inventory_loading.nested_limits() is None:  # a nested source fails as one file of its directory
        internals.fail_run_on_unparsed()


def _verify_options(opt) -> commit_signatures.VerifyOptions | None:
    try:
        return commit_signatures.verify_options(opt("verify_commit"), opt("ssh_allowed_signers"), opt("gpg_allowlist"))
    except ValueError as exc:
        raise messages.error(str(exc)) from None


def read_settings(plugin, force_sync: bool) -> Settings:
    opt = plugin.get_option
    url = _template(plugin, opt("url"), "url")
    if not url or not isinstance(url, str):
        raise messages.url_required()
    version, version_list = _version(plugin, opt("version"))
    raw_paths = opt("path")
    if raw_paths in (None, ""):
        raw_paths = [""]
    elif isinstance(raw_paths, str):
        raw_paths = [raw_paths]
    elif not isinstance(raw_paths, (list, tuple)) or not all(isinstance(p, str) for p in raw_paths):
        raise messages.path_type()
    paths = [_template(plugin, p, "path") for p in raw_paths]
    on_failure = opt("on_sync_failure")
    depth = opt("depth")
    if depth is None or depth < 0:
        raise messages.negative_depth(depth)
    for name in ("timeout", "lock_timeout", "sync_timeout", "max_file_size", "refresh_interval", "cache_max_age"):
        if opt(name) is not None and opt(name) < 0:
            raise messages.negative(name, opt(name))
    transport = TransportOptions(
        timeout=opt("timeout"), validate_certs=opt("validate_certs"), ca_path=opt("ca_path"),
        key_file=opt("key_file"), accept_hostkey=opt("accept_hostkey"), known_hosts_file=opt("known_hosts_file"),
        ssh_common_args=opt("ssh_common_args"), proxy=opt("proxy"), proxy_origin=_origin(plugin, "proxy"),
    )
    sync_opts = SyncOptions(
        url=url, version=version, depth=depth, cache_dir=opt("cache_dir"), timeout=opt("timeout"),
        lock_timeout=opt("lock_timeout"), sync_timeout=opt("sync_timeout"), max_file_size=opt("max_file_size"),
        refresh_interval=opt("refresh_interval"), on_sync_failure=on_failure,
        force=force_sync, cache_max_age=opt("cache_max_age"), username=opt("username"), password=opt("password"),
        transport=transport, verify=_verify_options(opt), paths=paths, version_list=version_list,
        mirrors=_mirrors(plugin, opt("mirrors")),
    )
    settings = Settings(sync=sync_opts, paths=paths, allow_scripts=opt("allow_scripts"), trust_repo=opt("trust_repo"))
    sync_opts.accept = host_changes.guard(plugin, settings, _source_id(settings), host_changes.max_host_loss(opt("max_host_loss")))
    outer = inventory_loading.nested_limits()
    if outer is not None:
        # A *.git.yml found inside a checkout may narrow what the source that loaded it allows, never widen it.
        inventory_loading.check_nesting(_source_id(settings))
        settings.allow_scripts = settings.allow_scripts and outer.allow_scripts
        settings.trust_repo = settings.trust_repo and outer.trust_repo
    return settings


def _mirrors(plugin, raw) -> list[str]:
    if raw in (None, "", []):
        return []
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, (list, tuple)) or not all(isinstance(m, str) for m in raw):
        raise messages.mirrors_type()
    return [str(_template(plugin, m.strip(), "mirrors")) for m in raw if m and m.strip()]


def _version(plugin, raw) -> tuple[str | None, list[tuple[str, str]] | None]:
    """(the version string, None), or for a list (None, its entries as written and as rendered)."""
    if isinstance(raw, (list, tuple)):
        return None, version_choice.render_list(raw, lambda value: _template(plugin, value, "version"))
    version = _template(plugin, raw, "version")
    return (str(version).strip() if version not in (None, "") else None), None


def _source_id(settings: Settings) -> tuple:
    version = version_lists.spec(settings.sync)
    return (redact(settings.sync.url, [settings.sync.password or ""]),
            tuple(version) if isinstance(version, list) else version, tuple(settings.paths))


def _origin(plugin, option: str) -> str | None:
    """Where an option's value came from: "env: NAME", "ini: ...", or None for the source file."""
    try:
        value, origin = plugin.get_option_and_origin(option)  # it does not see the source file's own settings
    except (AttributeError, KeyError):
        return None
    return str(origin) if value == plugin.get_option(option) else None


def sync_checkout(plugin, settings: Settings, owner: str) -> Checkout:
    display = plugin.display
    settings.owner = owner
    inventory_loading.unregister_vars_source(owner)
    try:
        checkout = sync(settings.sync, warn=lambda m: display.warning(PREFIX + m), progress=lambda m: display.vvv(PREFIX + m),
                        notice=lambda m: display.vv(PREFIX + m))
    except DulwichMissing:
        raise messages.missing_dulwich() from None
    except SyncError as exc:
        raise messages.error(str(exc)) from None
    for message in checkout.warnings:
        display.warning(PREFIX + message)
    if display.verbosity >= 2:
        age = max(time.time() - checkout.synced_at, 0)
        display.vv(f"{PREFIX}{checkout.safe_url} {checkout.version} at commit {checkout.commit}"
                   f"{' (STALE)' if checkout.stale else ''}, synced {age:.0f}s ago, cache entry {checkout.entry}"
                   f" ({_entry_size(checkout.entry)})")
    return checkout


def _entry_size(path: str) -> str:
    total = files = 0
    seen = set()
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            files += 1
            if (st.st_dev, st.st_ino) not in seen:  # hard links shared between checkouts count once
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return f"{total / 1024:.0f} KiB in {files} files"


def load_checkout(plugin, settings: Settings, checkout: Checkout, owner: str, cache: bool) -> list[str]:
    """Parse every configured path of the checkout; return the names of the hosts this source added."""
    inventory = plugin.inventory
    before = set(inventory.hosts)
    fulls = []
    for rel in settings.paths:
        full = inventory_loading.resolve_path(checkout.path, rel)
        if not os.path.lexists(full):
            raise messages.path_not_in_repo(rel, checkout.safe_url, checkout.version, checkout.commit)
        fulls.append(full)
    parser = inventory_loading.CheckoutLoader(inventory, plugin.loader, plugin.display, settings.allow_scripts, cache,
                                              trust_repo=settings.trust_repo)
    scope = inventory_loading.Scope(_source_id(settings), settings.allow_scripts, settings.trust_repo)

    def parse() -> None:
        untrusted = None
        if not settings.trust_repo:
            # The repository's variables, group_vars/ and host_vars/ included, go to its own hosts in
            # this step, so that the stored parse replays them as they were given.
            parser.inventory = untrusted = repo_trust.untrusted_inventory(inventory, plugin.display, buffered=True)
        with inventory_loading.loading(scope):
            for full in fulls:
                parser.load(full, checkout.path)
        if untrusted is not None:
            parser.unstorable = untrusted.read_vars_dirs(plugin.loader, fulls)
            untrusted.finish()

    # A rerun of the same commit with the same options replays the stored parse instead.
    shape = {"paths": settings.paths, "version": version_lists.spec(settings.sync), "trust_repo": settings.trust_repo,
             "allow_scripts": settings.allow_scripts, "constructed": parsed_cache.constructed_options(plugin),
             "rules": LOADING_RULES}
    defined = parsed_cache.load_or_parse(plugin, checkout, parser, parse, shape, reuse=cache)
    added = [name for name in inventory.hosts if name not in before]
    if defined is not None and settings.trust_repo:
        # Hosts the repository defines, also those an earlier source already had: all get the audit vars.
        added += [name for name in defined if name in inventory.hosts and name in before]
    manager = internals.find_inventory_manager(inventory) if settings.trust_repo else None
    if manager is not None:
        inventory_loading.register_vars_source(manager, owner, fulls)
        # A later source such as ansible.builtin.constructed (use_vars_plugins) reads these too, as for -i <copy>.
        internals.add_processed_sources(inventory, fulls)
        settings.vars_sources = fulls
    else:
        if settings.trust_repo:  # outside a running inventory manager: read the vars files here
            repo_trust.load_vars_dirs(plugin, inventory, fulls)
        settings.vars_sources = []
    return added


def annotate_hosts(plugin, settings: Settings, checkout: Checkout, added: list[str]) -> None:
    """Add the audit vars, then the constructed features (which may use the repo's vars)."""
    inventory = plugin.inventory
    audit = {
        "git_inventory_url": _plain(checkout.safe_url),
        "git_inventory_version": _plain(checkout.version),
        "git_inventory_commit": _plain(checkout.commit),
        "git_inventory_stale": checkout.stale,
        "git_inventory_previous_commit": _plain(host_changes.after_load(
            plugin, os.path.basename(settings.owner), checkout.entry, _source_id(settings), checkout, added)),
    }
    if checkout.signer is not None:
        audit["git_inventory_signer"] = _plain(checkout.signer)
    raw = internals.raw_inventory(inventory)  # _plain() decided their trust; no wrapper may change it
    if raw is not None:
        internals.set_variables(raw, added, audit)
    else:  # a wrapper this layer does not know applies this plugin's own trust: none (trusted_by_default False)
        for name in added:
            for key, value in audit.items():
                inventory.set_variable(name, key, value)
    opt = plugin.get_option
    if opt("compose") or opt("groups") or opt("keyed_groups"):
        if settings.trust_repo:
            _construct(plugin, inventory, added, settings.vars_sources)
        else:
            # Composed values and keyed group names come from the repo's values: they get the same guard.
            plugin.inventory = repo_trust.untrusted_inventory(inventory, plugin.display, own=added)
            try:
                _construct(plugin, inventory, added, settings.vars_sources)
            finally:
                plugin.inventory = inventory
    if not settings.trust_repo:
        repo_trust.guard_own_hosts(inventory, added, plugin.display)


def _construct(plugin, inventory, added: list[str], sources: list[str]) -> None:
    strict = plugin.get_option("strict")
    for name in added:
        host = inventory.get_host(name)
        # The order ansible.builtin.constructed uses: every group var (inline, then group_vars/) under
        # every host var (inline, then host_vars/), so an inline host var beats group_vars/.
        group_vars = _group_vars(host)
        host_vars = host.get_vars()
        if sources:
            group_vars = combine_vars(group_vars, get_vars_from_inventory_sources(plugin.loader, sources, host.get_groups(), "all"))
            host_vars = combine_vars(host_vars, get_vars_from_inventory_sources(plugin.loader, sources, [host], "all"))
        internals.construct(plugin, combine_vars(group_vars, host_vars), name, strict)


def _plain(value: str):
    """An audit string that is never rendered, on every core and whatever trust_repo says.

    The url, the version (which may be the remote HEAD's branch, named by whoever runs the server),
    the commit and the signer come from Git or from the user's file: data, never a template. Unsafe
    on 2.16-2.18, without template trust on 2.19+ (ansible-inventory --list shows them as
    {"__ansible_unsafe": ...}, as it shows every such value).
    """
    if not isinstance(value, str):
        return value
    return wrap_var(str.__str__(value))  # str.__str__: an option rendered from a lookup may come back unsafe already


def _group_vars(host) -> dict:
    from ansible.inventory.helpers import get_group_vars

    groups = [g for g in host.get_groups() if isinstance(g, Group)]
    return get_group_vars(groups)
