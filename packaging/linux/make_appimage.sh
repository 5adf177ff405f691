#!/usr/bin/env bash
# Wrap a built bundle into an AppImage. Needs appimagetool on PATH (it fetches nothing when its
# runtime is embedded, as in the release builds from github.com/AppImage/appimagetool).
#   packaging/linux/make_appimage.sh BUNDLE_DIR OUT_DIR [VARIANT]
# Not verified on the development machine (no appimagetool there); CI builds it on ubuntu.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUNDLE=$(cd "$1" && pwd)
OUT=$(mkdir -p "$2" && cd "$2" && pwd)
VARIANT=${3:-cpu}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/pyproject.toml" | head -1)
ARCH=$(uname -m)

APPDIR=$ROOT/build/appimage-$VARIANT/RWKV_Desktop.AppDir
rm -rf "$ROOT/build/appimage-$VARIANT"
mkdir -p "$APPDIR/usr/lib"
cp -a "$BUNDLE" "$APPDIR/usr/lib/rwkv-desktop"
cat > "$APPDIR/AppRun" <<'APPRUN'
#!/bin/sh
here=$(dirname "$(readlink -f "$0")")
exec "$here/usr/lib/rwkv-desktop/rwkv-desktop" "$@"
APPRUN
chmod 0755 "$APPDIR/AppRun"
install -m 0644 "$HERE/rwkv-desktop.desktop" "$APPDIR/rwkv-desktop.desktop"
install -m 0644 "$ROOT/resources/icons/rwkv-desktop-256.png" "$APPDIR/rwkv-desktop.png"
ln -s rwkv-desktop.png "$APPDIR/.DirIcon"

image=$OUT/RWKV_Desktop-$VERSION-$VARIANT-$ARCH.AppImage
ARCH=$ARCH appimagetool --no-appstream "$APPDIR" "$image" >&2
echo "$image"
