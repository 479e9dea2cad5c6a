"""untrusted_vars: what a repository read with trust_repo=false may set, checked against the
connection, become and shell plugins of the installed ansible-core."""

from __future__ import annotations

import pytest
from ansible import constants as C
from ansible.plugins.loader import become_loader, connection_loader, shell_loader

from ansible_collections.vcs.inventory.plugins.plugin_utils import untrusted_vars


def _declared_plugin_vars() -> set:
    """Read independently of the module under test: every var of every builtin plugin option."""
    names = set()
    for kind, loader in (("connection", connection_loader), ("become", become_loader), ("shell", shell_loader)):
        for plugin in loader.all(class_only=True):
            for definition in (C.config.get_configuration_definitions(kind, plugin._load_name) or {}).values():
                names.update(v["name"] for v in definition.get("vars") or [] if v["name"].startswith("ansible_"))
    return names


def test_every_plugin_option_var_of_this_core_is_dropped_but_the_addressing_ones():
    declared = _declared_plugin_vars()
    # the reported holes: sudo gets the become user unquoted; control_path_dir makes directories
    assert {"ansible_become_user", "ansible_control_path_dir", "ansible_become_password"} <= declared
    kept = sorted(n for n in declared if untrusted_vars.why_dropped(n, "plain") is None)
    allowed = untrusted_vars.ADDRESS_VARS | untrusted_vars.PORT_VARS
    assert set(kept) <= allowed, set(kept) - allowed


@pytest.mark.parametrize("name", [
    "ansible_become", "ansible_become_method", "ansible_become_user", "ansible_shell_type", "ansible_pipelining",
    "ansible_remote_tmp", "ansible_ssh_private_key_file", "ansible_password", "ansible_module_compression",
    "ansible_facts_modules", "ansible_python_interpreter", "ansible_docker_extra_args", "ansible_foo_executable",
])
def test_settings_of_how_the_controller_runs_things_are_dropped(name):
    assert untrusted_vars.why_dropped(name, "x") is not None


@pytest.mark.parametrize("name, value", [
    ("ansible_host", "web1.example.com"), ("ansible_host", "10.0.0.5"), ("ansible_host", "fe80::1%eth0"),
    ("ansible_ssh_host", "db-1.internal"), ("ansible_user", "deploy"), ("ansible_user", "svc@CORP.EXAMPLE"),
    ("ansible_port", 2222), ("ansible_port", "22"), ("ansible_ssh_port", 65535),
    ("fqdn", "$(anything is data)"),
])
def test_addressing_with_plain_values_is_kept(name, value):
    assert untrusted_vars.why_dropped(name, value) is None


@pytest.mark.parametrize("name, value", [
    ("ansible_host", "-oProxyCommand=touch /tmp/x"), ("ansible_host", "web1; touch /tmp/x"),
    ("ansible_host", "web1 -p 1"), ("ansible_host", "$(id)"), ("ansible_host", "`id`"), ("ansible_host", "a\nb"),
    ("ansible_user", "root; touch /tmp/x #"), ("ansible_user", "-l"), ("ansible_user", "a|b"), ("ansible_user", ""),
    ("ansible_user", ["root"]), ("ansible_port", "22; id"), ("ansible_port", 0), ("ansible_port", 70000),
    ("ansible_port", True), ("ansible_connection", "local"), ("ansible_connection", "ssh"),
])
def test_addressing_with_unsafe_values_is_dropped(name, value):
    assert untrusted_vars.why_dropped(name, value) is not None
