#!/usr/bin/env bash
# Installs the Debian packages of real speech the tests, benchmarks and demo use (see cli/enrollctl/samples.py).
set -euo pipefail
packages=$(python3 - <<'PY'
import re, pathlib
text = pathlib.Path(__file__ if False else "cli/enrollctl/samples.py").read_text()
block = re.search(r"DEBIAN_PACKAGES = \((.*?)\)", text, re.S).group(1)
print(" ".join(re.findall(r'"([^"]+)"', block)))
PY
)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $packages
