#!/usr/bin/env bash
# Builds build/lambda-layer/python: the third-party wheels of requirements.txt for the Lambda functions
# (python3.12 on arm64), without Docker: pip downloads manylinux aarch64 wheels for CPython 3.12.
# boto3/botocore/s3transfer are left out: the Lambda runtime provides them.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
LAYER=build/lambda-layer
TARGET=$LAYER/python
# The python3.12 runtime is Amazon Linux 2023 (glibc 2.34): numpy 2 ships manylinux_2_28 wheels only.
PLATFORMS=(--platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64)
# Powertools' Tracer imports aws-xray-sdk; it is installed without its botocore dependency (the runtime's).
TRACER_PACKAGES=(aws-xray-sdk==2.15.0 wrapt==2.5.2)
LIMIT_MB=250

pip_install() {
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile \
    "${PLATFORMS[@]}" --only-binary=:all: --python-version 3.12 --implementation cp \
    --target "$TARGET" "$@"
}

rm -rf "$LAYER"
mkdir -p "$TARGET"
grep -v -i -E '^\s*(boto3|botocore|s3transfer)\b' requirements.txt > "$LAYER/requirements.txt"
pip_install -r "$LAYER/requirements.txt"
pip_install --no-deps "${TRACER_PACKAGES[@]}"

# Nothing the runtime loads: byte code compiled here, and the SDK if a dependency pulled it in anyway.
find "$TARGET" -name __pycache__ -type d -prune -exec rm -rf {} +
rm -rf "$TARGET"/boto3 "$TARGET"/botocore "$TARGET"/s3transfer "$TARGET"/boto3-* "$TARGET"/botocore-* "$TARGET"/s3transfer-*
rm -rf "$TARGET/bin"  # console scripts with this machine's shebang
rm -f "$LAYER/requirements.txt"

layer_mb=$(du -sm "$LAYER" | cut -f1)
code_mb=$(du -sm --exclude=__pycache__ lambdas | cut -f1)
echo "lambda layer: ${layer_mb} MB unzipped in $LAYER; function code: ${code_mb} MB (Lambda limit ${LIMIT_MB} MB together)"
if (( layer_mb + code_mb >= LIMIT_MB )); then
  echo "error: layer + code exceed Lambda's ${LIMIT_MB} MB unzipped limit" >&2
  exit 1
fi
