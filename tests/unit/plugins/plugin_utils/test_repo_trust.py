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


def test_every_variable_a_connection_become_or_shell_option_reads_is_dropped_but_addressing():
    # The allow-list rests on Ansible's naming: every such variable is ansible_*. Checked on each core.
    declared = set()
    for kind, loader in (("connection", connection_loader), ("become", become_loader), ("shell", shell_loader)):
        for plugin in loader.all(class_only=True):
            for definition in (C.config.get_configuration_definitions(kind, plugin._load_name) or {}).values():
                declared.update(v["name"] for v in definition.get("vars") or [])
    declared.discard("inventory_hostname")  # the last fallback of remote_addr: a magic variable Ansible sets
    assert len(declared) > 50
    assert sorted(n for n in declared - untrusted_vars.ALLOWED if not _dropped(n, "x")) == []


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


@pytest.mark.parametrize("name", ["http_args", "fqdn", "motd", "_private", "Role2"])
def test_plain_vars_are_kept(name):
    assert not _dropped(name, "anything")


@pytest.mark.parametrize("name", [
    "ansible_managed_by_repo", "ansible_connection", "ansible_winrm_server_cert_validation",
    "ansible_winrm_message_encryption", "ansible_winrm_proxy", "ansible_password", "ansible_become",
    "delegated_vars['ansible_host']", "_ansible_no_log", "my_ansible_host", "ANSIBLE_HOST", "ansible", "a-b", "a.b",
    "ｆqdn", "",
])
def test_every_other_ansible_var_is_dropped(name):
    assert _dropped(name, "ssh")


@pytest.mark.parametrize("name,value,dropped", [
    ("ansible_host", "web2.example.com", False), ("ansible_ssh_host", "10.0.0.7", False),
    ("ansible_user", "deploy", False), ("ansible_winrm_user", "admin@EXAMPLE", False),
    ("ansible_host", "web2.example.com\n", True), ("ansible_host", "-oProxyCommand=x", True),
    ("ansible_host", "a b", True), ("ansible_user", "x;id", True), ("ansible_host", "", True),
    ("ansible_host", 7, True), ("ansible_user", "ｄeploy", True),
    ("ansible_port", 22, False), ("ansible_port", "2222", False), ("ansible_ssh_port", 65535, False),
    ("ansible_port", "²", True), ("ansible_port", "22\n", True), ("ansible_port", "٢٢", True),
    ("ansible_port", 0, True), ("ansible_port", 65536, True), ("ansible_port", True, True), ("ansible_port", "-1", True),
])
def test_addressing_values_are_checked_as_whole_strings(name, value, dropped):
    assert _dropped(name, value) is dropped


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
    guard = repo_trust.untrusted_inventory(inventory, display, own=["web1"])

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
    guard = repo_trust.untrusted_inventory(inventory, Display(), own=["web1"])
    guard._target_plugin = SimpleNamespace(trusted_by_default=True)  # what CheckoutLoader does per file
    guard.set_variable("web1", "fqdn", trust_as_template("{{ inventory_hostname }}"))
    assert not is_trusted_as_template(data.get_host("web1").vars["fqdn"])


def test_template_names_are_refused_and_plain_ones_pass():
    inventory, data = _inventory()
    display = Display()
    guard = repo_trust.untrusted_inventory(inventory, display, buffered=True)
    with pytest.raises(AnsibleParserError, match="host name"):
        guard.add_host("{{ lookup('pipe', 'id') }}")
    with pytest.raises(AnsibleParserError, match="host name"):
        guard.add_host("#jinja2:variable_start_string:'[['\n[[ 1 ]]")
    with pytest.raises(AnsibleParserError, match="group name"):
        guard.add_group("{% if true %}x{% endif %}")
    with pytest.raises(AnsibleParserError, match="group name"):
        guard.add_group("#jinja2:variable_start_string:'[[',variable_end_string:']]'\n[[ lookup('pipe','id') ]]")
    assert guard.add_group("web") == "web" and guard.add_host("web2", "web") == "web2"
    assert set(data.hosts) == {"web1", "web2"} and "web" in data.groups
    # A name that is not plain is refused with a warning; what refers to it is skipped.
    assert guard.add_group("web servers") is None and "'web servers'" in display.warnings[-1]
    assert guard.add_host("web3", "web servers") == "web3" and data.get_host("web3") is not None
    guard.add_child("web servers", "web3")
    guard.set_variable("web servers", "x", 1)
    assert "web servers" not in data.groups


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "::1", "LocalHost"])
def test_controller_names_are_refused(name):
    inventory, data = _inventory()
    display = Display()
    guard = repo_trust.untrusted_inventory(inventory, display, buffered=True)
    assert guard.add_host(name, "all") is None
    guard.set_variable(name, "ansible_host", "127.0.0.2")
    guard.finish()
    assert name not in data.hosts and "controller" in display.warnings[0] and len(display.warnings) == 1


def _repo_on_top_of_a_trusted_source(tmp_path):
    """A trusted source defined db1 in group web; the untrusted repository adds web1 to web, db1 to db."""
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("where: all-file\nlevel: all-file\n")
    (tmp_path / "group_vars" / "web.yml").write_text(
        "fqdn: '{{ inventory_hostname }}.example.com'\nansible_ssh_executable: /bin/evil\nlevel: web-file\n")
    (tmp_path / "host_vars" / "web1.yml").write_text("role: primary\n")
    (tmp_path / "host_vars" / "db1.yml").write_text("ansible_host: attacker.example.com\n")
    data = InventoryData()
    data.add_group("web")
    data.add_host("db1", "web")
    data.set_variable("db1", "ansible_host", "db1.internal")
    return data


def test_the_repository_vars_reach_only_its_own_hosts(tmp_path):
    data = _repo_on_top_of_a_trusted_source(tmp_path)
    display = Display()
    guard = repo_trust.untrusted_inventory(data, display, buffered=True)
    guard.add_group("web")
    guard.add_host("web1", "web")
    guard.add_host("db1", "web", port=2222)  # membership only: another source defines db1
    guard.set_variable("all", "level", "all-inline")
    guard.set_variable("web", "level", "web-inline")
    guard.set_variable("web", "inline", "yes")
    guard.set_variable("web1", "level", "host-inline")
    guard.set_variable("db1", "ansible_user", "attacker")
    assert guard.read_vars_dirs(DataLoader(), [str(tmp_path)]) == ""
    guard.finish()

    web1 = data.get_host("web1").vars
    # Ansible's order: group vars inline < group_vars/ < host vars inline < host_vars/.
    assert web1["level"] == "host-inline" and web1["where"] == "all-file" and web1["inline"] == "yes"
    assert web1["fqdn"] == "{{ inventory_hostname }}.example.com" and not is_trusted_as_template(web1["fqdn"])
    assert web1["role"] == "primary" and "ansible_ssh_executable" not in web1
    db1 = data.get_host("db1").vars
    assert db1["ansible_host"] == "db1.internal"
    assert not {"ansible_user", "ansible_port", "where", "level", "fqdn"} & set(db1)
    assert "db1" in [h.name for h in data.groups["web"].get_hosts()]
    assert data.groups["web"].get_vars() == {} and data.groups["all"].get_vars() == {}
    assert any("'db1'" in w and "another source" in w for w in display.warnings)


def test_group_vars_files_beat_inline_group_vars_but_not_inline_host_vars(tmp_path):
    data = _repo_on_top_of_a_trusted_source(tmp_path)
    guard = repo_trust.untrusted_inventory(data, Display(), buffered=True)
    guard.add_host("web2", "web")
    guard.set_variable("web", "level", "web-inline")
    guard.read_vars_dirs(DataLoader(), [str(tmp_path)])
    guard.finish()
    assert data.get_host("web2").vars["level"] == "web-file"


def test_a_vault_encrypted_vars_file_keeps_the_parse_from_being_stored(tmp_path):
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "other.yml").write_text("$ANSIBLE_VAULT;1.1;AES256\n3132\n")
    guard = repo_trust.untrusted_inventory(InventoryData(), Display(), buffered=True)
    assert "vault-encrypted" in guard.read_vars_dirs(DataLoader(), [str(tmp_path)])


def test_load_vars_dirs_of_a_trusted_repository_sets_group_vars(tmp_path):
    data = _repo_on_top_of_a_trusted_source(tmp_path)
    data.add_host("web1", "web")
    repo_trust.load_vars_dirs(SimpleNamespace(loader=DataLoader(), display=Display()), data, [str(tmp_path)])
    assert data.groups["web"].get_vars()["ansible_ssh_executable"] == "/bin/evil"
    assert data.get_host("web1").vars["role"] == "primary"


def test_aliases_stay_shared_so_an_alias_bomb_costs_what_a_local_copy_costs():
    # 9 levels of 10 aliases: 10**9 leaves when copied, 10 lists when shared.
    import yaml

    text = "a0: &a0 [x, y]\n" + "".join(
        f"a{i}: &a{i} [{', '.join(['*a%d' % (i - 1)] * 10)}]\n" for i in range(1, 10))
    data = yaml.safe_load(text)
    inventory, raw = _inventory()
    repo_trust.untrusted_inventory(inventory, Display(), own=["web1"]).set_variable("web1", "bomb", data["a9"])
    stored = raw.get_host("web1").vars["bomb"]
    assert stored[0] is stored[1]  # one object, as YAML made it
    assert stored[0][0][0][0][0][0][0][0][0] == ["x", "y"] and not is_trusted_as_template(stored[0][0][0][0][0][0][0][0][0][0])


def test_shared_wrapping_keeps_cycles_and_structure():
    loop = {"name": "x"}
    loop["self"] = loop
    wrapped = repo_trust.wrap_shared({"a": loop, "b": loop, "t": (1, "s"), "set": {"k"}})
    assert wrapped["a"] is wrapped["b"] and wrapped["a"]["self"] is wrapped["a"]
    assert wrapped["t"] == (1, "s") and wrapped["set"] == {"k"}
