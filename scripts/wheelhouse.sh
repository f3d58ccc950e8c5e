#!/usr/bin/env bash
# Build wheelhouse/ (repo root, gitignored): wheels of the SDK (sdk/, package camunda-workers),
# all its dependencies and every workers/*/requirements.txt, for the Python of the worker
# images. Images install from it with `pip install --no-index --find-links /wheelhouse`
# (the package index is not reachable from inside containers here).
#
#   scripts/wheelhouse.sh          # rebuild only if an input changed
#   FORCE=1 scripts/wheelhouse.sh  # rebuild anyway
#   PYTHON=/path/to/python3.11 scripts/wheelhouse.sh
#
# Target Pythons: TARGET_PYTHON_VERSIONS (default "3.11 3.12": local/python-base:bookworm has
# 3.11, the Dockerfile's default python:3.12-slim has 3.12). pip picks the matching wheels.
#  - the host's own version: `pip wheel` (may build sdists into wheels for this host);
#  - any other version: `pip download --only-binary=:all: --python-version X --platform
#    manylinux...x86_64` (binary wheels only, glibc x86_64 images).
# Inputs hashed into wheelhouse/.inputs-hash: sdk/pyproject.toml, sdk/README.md, sdk/src/**,
# workers/*/requirements.txt, deploy/monitoring/autoscaler-requirements.txt, the host Python
# and the target versions.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$REPO_ROOT/wheelhouse"
FORCE="${FORCE:-0}"
read -r -a TARGETS <<<"${TARGET_PYTHON_VERSIONS:-3.11 3.12}"

say() { printf '[wheelhouse] %s\n' "$*"; }
die() { printf '[wheelhouse] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ -n ${PYTHON:-} ]]; then py="$PYTHON"
elif [[ -x $REPO_ROOT/.venv/bin/python ]]; then py="$REPO_ROOT/.venv/bin/python"
else py="$(command -v python3 || true)"; fi
[[ -n $py ]] || die "no python3 found (set PYTHON=...)"
"$py" -m pip --version >/dev/null 2>&1 || die "$py has no pip (python3 -m venv .venv && .venv/bin/pip install -U pip)"

tag="$("$py" -c 'import sys, sysconfig; print(f"{sys.version_info[0]}.{sys.version_info[1]} {sysconfig.get_platform()} {sys.implementation.name}")')"
host_py="${tag%% *}"
[[ ${tag#* } == "linux-x86_64 cpython" ]] || say "WARNING: host is '${tag#* }', images are linux-x86_64 CPython"

cd "$REPO_ROOT"
shopt -s nullglob
# and what the stack's autoscaler service needs beyond the SDK (deploy/monitoring)
reqs=(workers/*/requirements.txt deploy/monitoring/autoscaler-requirements.txt)

inputs_hash() {
    {
        echo "python: $tag; targets: ${TARGETS[*]}"
        find sdk/pyproject.toml sdk/README.md sdk/src "${reqs[@]}" -type f \
            ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 2>/dev/null \
            | LC_ALL=C sort -z | xargs -0 sha256sum
    } | sha256sum | cut -d' ' -f1
}
hash="$(inputs_hash)"

if [[ $FORCE != 1 && -f $OUT/.inputs-hash && $(cat "$OUT/.inputs-hash") == "$hash" ]]; then
    say "up to date ($(find "$OUT" -name '*.whl' | wc -l) wheels, inputs ${hash:0:12})"
    exit 0
fi

t0=$(date +%s)
tmp="$(mktemp -d "$REPO_ROOT/.wheelhouse.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
reqargs=()
for r in "${reqs[@]}"; do reqargs+=(-r "$r"); done
pipq=(-m pip --quiet --disable-pip-version-check)
# --find-links: wheels of the previous wheelhouse are reused; pip's HTTP cache does the rest.
links=(); [[ -d $OUT ]] && links=(--find-links "$OUT")

# The SDK's own wheel (pure Python) first; the targets then resolve it from $tmp.
say "building the camunda-workers wheel from sdk/"
"$py" "${pipq[@]}" wheel --no-deps --wheel-dir "$tmp" ./sdk || die "pip wheel ./sdk failed"
sdk_whl="$(find "$tmp" -name 'camunda_workers-*.whl' | head -n 1)"

for v in "${TARGETS[@]}"; do
    if [[ $v == "$host_py" ]]; then
        say "python $v (host): pip wheel camunda-workers ${reqargs[*]}"
        "$py" "${pipq[@]}" wheel --wheel-dir "$tmp" --find-links "$tmp" "${links[@]}" \
            "$sdk_whl" "${reqargs[@]}" || die "pip wheel for python $v failed"
    else
        say "python $v (cross): pip download --only-binary=:all: camunda-workers ${reqargs[*]}"
        "$py" "${pipq[@]}" download --dest "$tmp" --find-links "$tmp" "${links[@]}" \
            --only-binary=:all: --implementation cp --python-version "$v" \
            --platform manylinux_2_36_x86_64 --platform manylinux_2_28_x86_64 \
            --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 \
            "$sdk_whl" "${reqargs[@]}" \
            || die "pip download for python $v failed (a dependency without a binary wheel? build the wheelhouse with that Python: PYTHON=python$v TARGET_PYTHON_VERSIONS=$v)"
    fi
done

# Every wheel must install on one of the images' Pythons.
abis="$(printf 'cp%s|' "${TARGETS[@]//./}")"; abis="${abis%|}"
bad="$(find "$tmp" -name '*.whl' -printf '%f\n' | grep -vE -- '-(py3|py2\.py3|'"$abis"')-(none|'"$abis"'|abi3)-(any|manylinux[^ ]*x86_64|linux_x86_64)\.whl$' || true)"
[[ -z $bad ]] || say "WARNING: wheels that may not fit the images: $bad"

echo "$hash" >"$tmp/.inputs-hash"
rm -rf "$OUT.old"; [[ -d $OUT ]] && mv "$OUT" "$OUT.old"
mv "$tmp" "$OUT"; trap - EXIT; rm -rf "$OUT.old"
chmod 755 "$OUT"
say "$(find "$OUT" -name '*.whl' | wc -l) wheels, $(du -sh "$OUT" | cut -f1), in $(( $(date +%s) - t0 )) s:"
find "$OUT" -name '*.whl' -printf '  %f\n' | sort
