#!/usr/bin/env bash
# Linux installers, from scratch: the PyInstaller bundle (packaging/build_bundle.sh, which also runs
# its --self-check), a portable .tar.gz, a .deb and, when appimagetool is on PATH, an AppImage.
#
#   packaging/build_linux.sh                  # CPU variant
#   VARIANT=cuda TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" \
#       packaging/build_linux.sh
#   VARIANT=rocm TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/rocm6.4" \
#       packaging/build_linux.sh
#
# Outputs in dist/: rwkv-desktop[-VARIANT]_VERSION_ARCH.deb, rwkv-desktop-VERSION-linux-ARCH-VARIANT.tar.gz
# (and .AppImage). SKIP_BUNDLE=1 reuses an existing dist/VARIANT/rwkv-desktop.
set -euo pipefail
cd "$(dirname "$0")/.."
VARIANT=${VARIANT:-cpu}
export VARIANT
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
ARCH=$(uname -m)
BUNDLE=dist/$VARIANT/rwkv-desktop

t0=$(date +%s)
[ -n "${SKIP_BUNDLE:-}" ] || packaging/build_bundle.sh
t1=$(date +%s)

# Portable archive: unpack anywhere and run rwkv-desktop; ./install-menu-entry.sh adds it to the menu.
name=rwkv-desktop-$VERSION-linux-$ARCH-$VARIANT
tarball=dist/$name.tar.gz
stage=build/tar-$VARIANT/$name
rm -rf "build/tar-$VARIANT"
mkdir -p "$stage"
cp -a "$BUNDLE"/. "$stage/"
install -m 0644 packaging/linux/rwkv-desktop.desktop "$stage/rwkv-desktop.desktop"
install -m 0644 resources/icons/rwkv-desktop-256.png "$stage/rwkv-desktop.png"
install -m 0755 packaging/linux/install-menu-entry.sh "$stage/install-menu-entry.sh"
tar -C "build/tar-$VARIANT" --owner=0 --group=0 --numeric-owner -czf "$tarball" "$name"
t2=$(date +%s)

deb=$(packaging/linux/make_deb.sh "$BUNDLE" dist "$VARIANT")
t3=$(date +%s)

appimage=""
if command -v appimagetool >/dev/null 2>&1; then
    appimage=$(packaging/linux/make_appimage.sh "$BUNDLE" dist "$VARIANT")
else
    echo "== no appimagetool on PATH: AppImage skipped (see docs/packaging.md)"
fi
t4=$(date +%s)

size() { du -sh "$1" | cut -f1; }
echo "== Linux $VARIANT artefacts"
echo "   bundle   $(size "$BUNDLE")  $BUNDLE   (built in $((t1 - t0)) s)"
echo "   tar.gz   $(size "$tarball")  $tarball   ($((t2 - t1)) s)"
echo "   deb      $(size "$deb")  $deb   ($((t3 - t2)) s)"
[ -z "$appimage" ] || echo "   AppImage $(size "$appimage")  $appimage   ($((t4 - t3)) s)"
echo "   total $((t4 - t0)) s"
