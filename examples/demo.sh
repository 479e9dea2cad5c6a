#!/usr/bin/env bash
# make demo: build and install the collection, put the example inventory in a local Git repository,
# and read it through the plugin with ansible-inventory and ansible-playbook, twice (the rerun).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
BIN=$(dirname "$PYTHON")
DEMO=build/demo
rm -rf "$DEMO"
mkdir -p "$DEMO"
DEMO=$(cd "$DEMO" && pwd)

echo "== building and installing the collection from its tarball"
"$BIN/ansible-galaxy" collection build --force --output-path "$DEMO/dist" . >/dev/null
"$BIN/ansible-galaxy" collection install --force -p "$DEMO/collections" "$DEMO"/dist/vcs-inventory-*.tar.gz >/dev/null

echo "== committing examples/inventory to a local Git repository (with dulwich, no git binary needed)"
"$PYTHON" - "$DEMO/repo" <<'PY'
import os, shutil, sys
from dulwich import porcelain
repo_dir = sys.argv[1]
shutil.copytree("examples/inventory", repo_dir)
repo = porcelain.init(repo_dir)
porcelain.add(repo, paths=[os.path.join(repo_dir, p) for p in ("hosts.yml", "group_vars", "host_vars")])
porcelain.commit(repo, message=b"Example inventory", author=b"Demo <demo@example.invalid>",
                 committer=b"Demo <demo@example.invalid>")
repo.close()
PY

cat > "$DEMO/demo.git.yml" <<YML
plugin: vcs.inventory.git
url: file://$DEMO/repo
YML

export ANSIBLE_COLLECTIONS_PATH="$DEMO/collections"
export ANSIBLE_VCS_INVENTORY_CACHE_DIR="$DEMO/cache"
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
# The playbook runs first each time, so that the first run is the one that finds the cache empty (it
# fetches and parses) and the rerun the one that finds it warm; the graph comes after, from the warm cache.
for run in "first run (empty cache)" "rerun (warm cache)"; do
  echo "== $run: ansible-playbook -i demo.git.yml examples/demo.yml"
  start=$EPOCHREALTIME
  "$BIN/ansible-playbook" -i "$DEMO/demo.git.yml" examples/demo.yml
  "$PYTHON" -c 'import sys, time; print(f"({sys.argv[1]} took {time.time() - float(sys.argv[2]):.2f} s)")' "$run" "$start"
  echo "== $run: ansible-inventory -i demo.git.yml --graph"
  "$BIN/ansible-inventory" -i "$DEMO/demo.git.yml" --graph
done
echo "== done: the cache lives in $DEMO/cache; the rerun reused it and did not fail on leftovers"
