#!/usr/bin/env bash
# Prints the Depends that the staged tree's compiled extensions need (pyscard → libpcsclite1, libc6…),
# as dpkg-shlibdeps computes them. Libraries that wheels bundle next to themselves (*.libs/) are part
# of the package and need no dependency.
set -euo pipefail
stage=$(realpath "$1")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/debian"
printf 'Source: passerelle\n\nPackage: passerelle\nArchitecture: any\n' > "$scratch/debian/control"
mapfile -d '' elf_files < <(find "$stage" -path "$stage/DEBIAN" -prune -o -type f \
    \( -name '*.so' -o -name '*.so.*' \) -print0)
bundled_dirs=()
while IFS= read -r -d '' dir; do bundled_dirs+=("-l$dir"); done \
    < <(find "$stage" -type d -name '*.libs' -print0)
cd "$scratch"
dpkg-shlibdeps -O --ignore-missing-info "${bundled_dirs[@]}" "${elf_files[@]}" 2>shlibdeps.log \
    | sed -n 's/^shlibs:Depends=//p' || { cat shlibdeps.log >&2; exit 1; }
