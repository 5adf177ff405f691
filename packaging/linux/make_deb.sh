#!/usr/bin/env bash
# Wrap a built bundle into a .deb with dpkg-deb (no debhelper needed).
#   packaging/linux/make_deb.sh BUNDLE_DIR OUT_DIR [VARIANT]
# BUNDLE_DIR is PyInstaller's one-folder output (dist/cpu/rwkv-desktop). Installs:
#   /opt/rwkv-desktop/                  the bundle (read-only at run time)
#   /usr/bin/rwkv-desktop               a two-line launcher (path relative to itself)
#   /usr/share/applications/rwkv-desktop.desktop
#   /usr/share/icons/hicolor/*/apps/rwkv-desktop.{png,svg}
#   /usr/share/doc/rwkv-desktop/copyright
# Desktop database and icon caches are refreshed by the dpkg triggers of desktop-file-utils and
# the icon theme packages, so the maintainer scripts only make sure nothing is left in /opt.
# DEB_COMPRESS (default xz) and DEB_LEVEL (default 6) pick dpkg-deb's compressor.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUNDLE=$(cd "$1" && pwd)
OUT=$2
VARIANT=${3:-cpu}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/pyproject.toml" | head -1)
ARCH=$(dpkg --print-architecture)
if [ "$VARIANT" = cpu ]; then PKG=rwkv-desktop; else PKG=rwkv-desktop-$VARIANT; fi

# Depends: what packaging/linux/depends.txt declares by hand (what the bundle loads from the
# system without linking it, or what only plugins link: OpenGL/EGL, Wayland, the Qt xcb helpers,
# xkb-data keymaps, fontconfig's configuration and a font), then what the bundle itself says: the
# package of every library an ELF file in it links (DT_NEEDED) and it does not carry, looked up in
# this machine's ld.so cache and dpkg database (bundle_libs.py; it fails if one is found nowhere).
# So Depends follows the bundle, whatever the build machine has installed; tests/packaging/test_deb.py
# checks it independently. The libc6 version is the newest GLIBC_x.y symbol version any file in the
# bundle asks for: build on the oldest distribution you support (CI uses Ubuntu 22.04).
glibc=$(find "$BUNDLE" -type f -exec sh -c 'head -c4 "$1" | grep -q ELF && objdump -T "$1"' _ {} \; 2>/dev/null \
        | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
DEPENDS=$(python3 "$HERE/bundle_libs.py" depends "$BUNDLE" "$HERE/depends.txt")
DEPENDS=${DEPENDS/libc6,/libc6 (>= ${glibc:-2.28}),}

STAGE=$ROOT/build/deb-$VARIANT/root
rm -rf "$ROOT/build/deb-$VARIANT"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
         "$STAGE/usr/share/doc/$PKG"
cp -a "$BUNDLE" "$STAGE/opt/rwkv-desktop"
install -m 0755 "$HERE/rwkv-desktop.sh" "$STAGE/usr/bin/rwkv-desktop"
install -m 0644 "$HERE/rwkv-desktop.desktop" "$STAGE/usr/share/applications/rwkv-desktop.desktop"
for png in "$ROOT"/resources/icons/rwkv-desktop-*.png; do
    size=${png##*-}; size=${size%.png}
    install -D -m 0644 "$png" "$STAGE/usr/share/icons/hicolor/${size}x${size}/apps/rwkv-desktop.png"
done
install -D -m 0644 "$ROOT/resources/icons/rwkv-desktop.svg" \
    "$STAGE/usr/share/icons/hicolor/scalable/apps/rwkv-desktop.svg"
cat > "$STAGE/usr/share/doc/$PKG/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: rwkv-desktop
License: Apache-2.0

Files: *
License: Apache-2.0
 RWKV Desktop is licensed under the Apache License 2.0. The bundle in /opt/rwkv-desktop carries
 third-party components under their own licences (Python: PSF; PyTorch: BSD-3-Clause;
 Qt for Python / Qt: LGPL-3.0; the demo model's training data: WordNet licence), listed with
 their metadata in /opt/rwkv-desktop/_internal.
EOF
# Permissions as a package should have them, whatever the umask of the build.
find "$STAGE" -type d -exec chmod 0755 {} +
find "$STAGE/opt" -type f -exec chmod go-w,a+r {} +

cat > "$STAGE/DEBIAN/control" <<EOF
Package: $PKG
Version: $VERSION
Section: utils
Priority: optional
Architecture: $ARCH
Maintainer: RWKV Desktop developers <rwkv-desktop@example.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
Depends: $DEPENDS
Description: run RWKV language models on your own computer
 RWKV Desktop downloads RWKV models, picks CPU or GPU, and chats
 offline. A conversation is one fixed-size recurrent state that is
 saved with every reply, so long chats resume instantly.
 .
 This package carries its own Python, PyTorch ($VARIANT build) and Qt
 in /opt/rwkv-desktop.
EOF
if [ "$VARIANT" != cpu ]; then
    printf 'Conflicts: rwkv-desktop\nReplaces: rwkv-desktop\nProvides: rwkv-desktop\n' >> "$STAGE/DEBIAN/control"
fi
for script in postinst postrm; do
    install -m 0755 "$HERE/$script" "$STAGE/DEBIAN/$script"
done

DEB=$OUT/${PKG}_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Z"${DEB_COMPRESS:-xz}" -z"${DEB_LEVEL:-6}" --build "$STAGE" "$DEB" >/dev/null
echo "$DEB"
