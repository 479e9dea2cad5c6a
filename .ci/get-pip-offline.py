# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for the get-pip.py that ansible-test downloads to bootstrap pip in its virtual environments.

ansible-test runs ~/.ansible/test/cache/get_pip_<version>.py when that file exists, instead of fetching
it from the internet. This stand-in installs pip with the interpreter's own ensurepip, then brings it
to the requested version from the configured package index. Copy it there before running ansible-test
on a machine without access to ansible-test's download site (the Makefile's hygiene target does).
"""

from __future__ import annotations

import subprocess
import sys

__metaclass__ = type

UNSUPPORTED = ("--no-setuptools", "--no-wheel")


def main(argv):
    args = [arg for arg in argv if arg not in UNSUPPORTED]
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "pip", "install", "--upgrade", *args], check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
