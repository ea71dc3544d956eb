#!/usr/bin/env bash
# Builds dist/passerelle_<version>_<arch>.deb: the locked Python environment (uv.lock) bundled in
# /usr/lib/passerelle, run by Debian's own python3, plus the unit, sysusers, tmpfiles, polkit rule,
# udev templates and a default configuration (a conffile). Layout and maintainer scripts: packaging/.
#
# Built with dpkg-deb rather than dpkg-buildpackage + dh-virtualenv: the dependency environment is
# cached per uv.lock and copied into each build, so a second build (another version, e.g. the
# upgrade test's) takes seconds, and no debhelper toolchain is needed on the build machine.
#   PASSERELLE_PKG_VERSION  Debian version to stamp (default: [project] version of pyproject.toml)
#   PASSERELLE_PKG_OUT      output directory (default: dist)
#   PASSERELLE_PKG_COMPRESSION  xz (default: the smallest, ~80 s here) or gzip (~4 s, larger; the
#                           package test uses it: same contents). Not zstd: bookworm's lintian
#                           rejects it (malformed-deb-archive).
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD

python=/usr/bin/python3   # Debian's interpreter: the target has it, not the build machine's pyenv
[ -x "$python" ] || { echo "package: $python is missing (apt-get install python3)" >&2; exit 1; }
[ -x .tools/bin/uv ] || bash scripts/setup.sh
uv=$root_dir/.tools/bin/uv
export UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy UV_NO_PROGRESS=1

pyproject() { "$python" packaging/pyproject_field.py "$1"; }
version=${PASSERELLE_PKG_VERSION:-$(pyproject version)}
arch=$(dpkg --print-architecture)
py_minor=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
out_dir=${PASSERELLE_PKG_OUT:-dist}
work=build/package
stage=$work/root
prefix=/usr/lib/passerelle
mkdir -p "$work" "$out_dir"

# Makes a staged venv what Debian expects of files under /usr/lib: console scripts start with a plain
# shebang to the final path (uv's relocatable sh/python polyglot fails `sh -n`), the interpreter is
# the exact python3.X the package depends on (the venv keeps working when python3 moves on), shared
# objects are stripped and not executable, and no bytecode is shipped (the postinst compiles it).
tidy_venv() {
    local venv=$1 script
    ln -sfn "/usr/bin/python$py_minor" "$venv/bin/python"
    rm -f "$venv"/bin/activate* "$venv"/bin/deactivate* "$venv"/bin/*.bat "$venv"/bin/*.ps1 \
        "$venv/.gitignore" "$venv/.lock" "$venv/CACHEDIR.TAG"
    for script in "$venv"/bin/*; do
        [ -f "$script" ] && [ ! -L "$script" ] || continue
        if [ "$(head -c 9 "$script")" = "#!/bin/sh" ] && sed -n 2p "$script" | grep -q "^'''exec'"; then
            sed -i -e "1i #!$prefix/bin/python" -e "1,3d" "$script"
        fi
    done
    find "$venv" -name __pycache__ -type d -prune -exec rm -rf {} +
    find "$venv" -type f \( -name '*.so' -o -name '*.so.*' \) -exec chmod 0644 {} +
    # Libraries that auditwheel vendored (*.libs/) were rewritten by patchelf: strip would misalign
    # their load segments, so only the extension modules themselves are stripped.
    find "$venv" -path '*.libs' -prune -o -type f -name '*.so' \
        -exec strip --strip-unneeded --remove-section=.comment --remove-section=.note {} +
}

# 1. The dependencies, exactly as locked, cached per (uv.lock, this script, python, arch). A private
#    uv cache: a wheel that the developer venv built from an sdist (pyscard) with another interpreter
#    must not be reused; this one is compiled against Debian's python3.
export UV_CACHE_DIR=$root_dir/$work/uv-cache
lock_key=$(cat uv.lock pyproject.toml scripts/package.sh | sha256sum | cut -c1-16)
deps=$work/deps-$py_minor-$arch-$lock_key
if [ ! -f "$deps/.complete" ]; then
    rm -rf "$work"/deps-*
    "$uv" venv --quiet --relocatable --python "$python" "$deps"
    "$uv" export --quiet --frozen --no-dev --no-emit-project --no-header --format requirements-txt \
        -o "$work/requirements.txt"
    "$uv" pip install --quiet --python "$deps/bin/python" --require-hashes -r "$work/requirements.txt"
    tidy_venv "$deps"
    touch "$deps/.complete"
fi

# 2. The project itself, non-editable, from a wheel; then a smoke import of the compiled extensions
#    (strip must not have broken any) and of every entry point.
rm -rf "$work/wheel" "$stage"
"$uv" build --quiet --python "$python" --wheel --out-dir "$work/wheel" >/dev/null
mkdir -p "$stage/usr/lib"
cp -a "$deps" "$stage$prefix"
rm -f "$stage$prefix/.complete"
"$uv" pip install --quiet --python "$stage$prefix/bin/python" --no-deps "$work"/wheel/*.whl
tidy_venv "$stage$prefix"
PYTHONDONTWRITEBYTECODE=1 "$stage$prefix/bin/python" packaging/smoke_import.py

# 3. /usr/bin/<script> for every console script that pyproject.toml declares (never hard-coded).
mkdir -p "$stage/usr/bin"
for script in $(pyproject scripts); do
    [ -x "$stage$prefix/bin/$script" ] || { echo "package: console script $script not built" >&2; exit 1; }
    ln -s "../lib/passerelle/bin/$script" "$stage/usr/bin/$script"
done

# 4. System integration files.
install -D -m 0644 systemd/passerelle.service "$stage/lib/systemd/system/passerelle.service"
install -D -m 0644 systemd/sysusers.d/passerelle.conf "$stage/usr/lib/sysusers.d/passerelle.conf"
install -D -m 0644 packaging/tmpfiles.conf "$stage/usr/lib/tmpfiles.d/passerelle.conf"
install -D -m 0644 systemd/polkit/60-passerelle-pcsc.rules \
    "$stage/usr/share/polkit-1/rules.d/60-passerelle-pcsc.rules"
install -D -m 0644 systemd/udev/70-passerelle-scanners.rules.in \
    "$stage/usr/share/passerelle/udev/70-passerelle-scanners.rules.in"
install -D -m 0640 packaging/config.toml "$stage/etc/passerelle/config.toml"
install -D -m 0644 docs/config.example.toml "$stage/usr/share/doc/passerelle/examples/config.example.toml"
install -D -m 0644 packaging/copyright "$stage/usr/share/doc/passerelle/copyright"
install -D -m 0644 packaging/lintian-overrides "$stage/usr/share/lintian/overrides/passerelle"
sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$(date -R -d @"$(git log -1 --format=%ct 2>/dev/null || date +%s)")/" \
    packaging/changelog.in | gzip -9n > "$stage/usr/share/doc/passerelle/changelog.gz"
chmod 0644 "$stage/usr/share/doc/passerelle/changelog.gz"

# 5. Control data: Depends from the ELF files' libraries (dpkg-shlibdeps), the interpreter, and
#    libpcsclite1, which pyscard opens with dlopen() so no ELF header names it.
mkdir -p "$stage/DEBIAN"
for script in postinst prerm postrm; do
    install -m 0755 "packaging/debian/$script" "$stage/DEBIAN/$script"
done
echo /etc/passerelle/config.toml > "$stage/DEBIAN/conffiles"
shlib_depends=$(packaging/shlibdeps.sh "$stage")
installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
# The long description: pyproject's, folded to control-file lines (one leading space each).
pyproject description | fold -s -w 72 | sed -e 's/ *$//' -e 's/^/ /' > "$work/description"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_size/" \
    -e "s/@PYTHON@/python$py_minor, python3/" -e "s/@SHLIBS@/$shlib_depends/" \
    -e "/@DESCRIPTION@/{r $work/description" -e "d}" \
    packaging/debian/control.in > "$stage/DEBIAN/control"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z \
    | xargs -0 md5sum > DEBIAN/md5sums)

deb="$out_dir/passerelle_${version}_${arch}.deb"
dpkg-deb --root-owner-group "-Z${PASSERELLE_PKG_COMPRESSION:-xz}" --build "$stage" "$deb" >/dev/null
echo "$deb"
