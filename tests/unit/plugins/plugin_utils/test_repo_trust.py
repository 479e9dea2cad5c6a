"""repo_trust: which repo variables are dropped, and how untrusted values are stored, checked
against the option declarations of the installed ansible-core and with its real InventoryData."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from ansible import constants as C
from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import become_loader, connection_loader, shell_loader

from ansible_collections.vcs.inventory.plugins.plugin_utils import repo_trust, untrusted_vars

try:  # ansible-core >= 2.19: trust is a tag on the value
    from ansible.inventory.manager import _InventoryDataWrapper
    from ansible.template import is_trusted_as_template, trust_as_template
except ImportError:  # ansible-core < 2.19: untrusted values are AnsibleUnsafe
    from ansible.utils.unsafe_proxy import AnsibleUnsafe

    _InventoryDataWrapper = None

    def is_trusted_as_template(value):
        return not isinstance(value, AnsibleUnsafe)

    def trust_as_template(value):
        return value

# Option names that mean "a program, its arguments, or a file that makes one run".
_PROGRAM_OPTION = re.compile(r"(args|exe|executable|command|cmd|interpreter|flags|ssh_config|pkcs11_provider)$")


def _dropped(name: str, value) -> bool:
    return untrusted_vars.why_dropped(name, value) is not None


class Display:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)


def _declared_program_vars() -> set:
    """Every inventory var that feeds such an option of a connection, become or shell plugin."""
    names = set()
    for kind, loader in (("connection", connection_loader), ("become", become_loader), ("shell", shell_loader)):
        for plugin in loader.all(class_only=True):
            definitions = C.config.get_configuration_definitions(kind, plugin._load_name) or {}
            for option, definition in definitions.items():
                if _PROGRAM_OPTION.search(option):
                    names.update(v["name"] for v in definition.get("vars") or [])
    return names


def test_every_declared_program_var_of_this_core_is_dropped():
    declared = _declared_program_vars()
    assert {"ansible_ssh_common_args", "ansible_ssh_executable", "ansible_become_exe"} <= declared
    assert sorted(n for n in declared if not _dropped(n, "x")) == []


@pytest.mark.parametrize("name", [
    "ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_scp_extra_args", "ansible_sftp_extra_args",
    "ansible_ssh_args", "ansible_ssh_executable", "ansible_scp_executable", "ansible_sftp_executable",
    "ansible_become_exe", "ansible_sudo_exe", "ansible_become_flags", "ansible_shell_executable",
    "ansible_python_interpreter", "ansible_perl_interpreter", "ansible_paramiko_proxy_command",
    "ansible_winrm_kinit_cmd", "ansible_winrm_kinit_args", "ansible_netconf_ssh_config",
    "ansible_ssh_pkcs11_provider", "ansible_docker_extra_args",
])
def test_program_vars_are_dropped(name):
    assert _dropped(name, "anything")


@pytest.mark.parametrize("name", ["http_args", "fqdn", "ansible_managed_by_repo", "motd"])
def test_plain_vars_are_kept(name):
    assert not _dropped(name, "anything")


@pytest.mark.parametrize("value,dropped", [
    ("ssh", False), ("ansible.builtin.ssh", False), ("paramiko", False), ("winrm", False), ("psrp", False),
    ("local", True), ("ansible.builtin.local", True), ("community.docker.docker", True),
    ("{{ 'local' }}", True),
])
def test_only_remote_connections_are_kept(value, dropped):
    assert _dropped("ansible_connection", value) is dropped


def _inventory():
    """The inventory a plugin sees: on 2.19 the manager's wrapper, here with a trusted-by-default
    plugin as the first to set a variable (the TOML plugin's case), which the wrapper then caches."""
    data = InventoryData()
    data.add_host("web1")
    if _InventoryDataWrapper is None:
        return data, data
    wrapper = _InventoryDataWrapper(data, target_plugin=SimpleNamespace(trusted_by_default=True), origin=None)
    wrapper.set_variable("web1", "first", "{{ 1 }}")
    assert is_trusted_as_template(data.get_host("web1").vars["first"])  # what would happen to repo values
    return wrapper, data


def test_untrusted_values_are_stored_without_trust_and_risky_ones_dropped():
    inventory, data = _inventory()
    display = Display()
    guard = repo_trust.untrusted_inventory(inventory, display)

    # As the yaml and ini parsers hand them over: trusted (2.19) or plain strings (2.16).
    guard.set_variable("web1", "fqdn", trust_as_template("{{ inventory_hostname }}.example.com"))
    guard.set_variable("web1", "nested", {"list": [trust_as_template("{{ x }}")], trust_as_template("{{ key }}"): "v"})
    guard.set_variable("web1", "ansible_ssh_common_args", "-o ProxyCommand='touch marker'")
    guard.set_variable("web1", "ansible_connection", "local")

    hostvars = data.get_host("web1").vars
    assert not is_trusted_as_template(hostvars["fqdn"])
    assert not is_trusted_as_template(hostvars["nested"]["list"][0])
    assert all(not is_trusted_as_template(key) for key in hostvars["nested"])
    assert "ansible_ssh_common_args" not in hostvars and "ansible_connection" not in hostvars
    assert len(display.warnings) == 2 and "'ansible_ssh_common_args' of 'web1'" in display.warnings[0]


def test_a_parser_cannot_put_trust_back_through_the_guard():
    inventory, data = _inventory()
    guard = repo_trust.untrusted_inventory(inventory, Display())
    guard._target_plugin = SimpleNamespace(trusted_by_default=True)  # what CheckoutLoader does per file
    guard.set_variable("web1", "fqdn", trust_as_template("{{ inventory_hostname }}"))
    assert not is_trusted_as_template(data.get_host("web1").vars["fqdn"])


def test_template_names_are_refused_and_plain_ones_pass():
    inventory, data = _inventory()
    guard = repo_trust.untrusted_inventory(inventory, Display())
    with pytest.raises(AnsibleParserError, match="host name"):
        guard.add_host("{{ lookup('pipe', 'id') }}")
    with pytest.raises(AnsibleParserError, match="group name"):
        guard.add_group("{% if true %}x{% endif %}")
    assert guard.add_group("web") == "web" and guard.add_host("web2", "web") == "web2"
    assert set(data.hosts) == {"web1", "web2"} and "web" in data.groups


def test_load_vars_dirs_reads_group_and_host_vars_untrusted(tmp_path):
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "group_vars" / "web.yml").write_text(
        "fqdn: '{{ inventory_hostname }}.example.com'\nansible_ssh_executable: /bin/evil\n")
    (tmp_path / "host_vars" / "web1.yml").write_text("role: primary\n")
    data = InventoryData()
    data.add_group("web")
    data.add_host("web1", "web")
    display = Display()
    plugin = SimpleNamespace(loader=DataLoader(), display=display)

    repo_trust.load_vars_dirs(plugin, data, [str(tmp_path)], trusted=False)
    group_vars = data.groups["web"].get_vars()
    assert group_vars["fqdn"] == "{{ inventory_hostname }}.example.com" and not is_trusted_as_template(group_vars["fqdn"])
    assert "ansible_ssh_executable" not in group_vars and "'ansible_ssh_executable' of 'web'" in display.warnings[0]
    assert data.get_host("web1").get_vars()["role"] == "primary"

    trusted = InventoryData()
    trusted.add_group("web")
    trusted.add_host("web1", "web")
    repo_trust.load_vars_dirs(plugin, trusted, [str(tmp_path)], trusted=True)
    assert trusted.groups["web"].get_vars()["ansible_ssh_executable"] == "/bin/evil"


def test_aliases_stay_shared_so_an_alias_bomb_costs_what_a_local_copy_costs():
    # 9 levels of 10 aliases: 10**9 leaves when copied, 10 lists when shared.
    import yaml

    text = "a0: &a0 [x, y]\n" + "".join(
        f"a{i}: &a{i} [{', '.join(['*a%d' % (i - 1)] * 10)}]\n" for i in range(1, 10))
    data = yaml.safe_load(text)
    inventory, raw = _inventory()
    repo_trust.untrusted_inventory(inventory, Display()).set_variable("web1", "bomb", data["a9"])
    stored = raw.get_host("web1").vars["bomb"]
    assert stored[0] is stored[1]  # one object, as YAML made it
    assert stored[0][0][0][0][0][0][0][0][0] == ["x", "y"] and not is_trusted_as_template(stored[0][0][0][0][0][0][0][0][0][0])


def test_shared_wrapping_keeps_cycles_and_structure():
    loop = {"name": "x"}
    loop["self"] = loop
    wrapped = repo_trust.wrap_shared({"a": loop, "b": loop, "t": (1, "s"), "set": {"k"}})
    assert wrapped["a"] is wrapped["b"] and wrapped["a"]["self"] is wrapped["a"]
    assert wrapped["t"] == (1, "s") and wrapped["set"] == {"k"}
