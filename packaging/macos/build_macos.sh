#!/usr/bin/env bash
# macOS: the .app (PyInstaller's BUNDLE, see rwkv-desktop.spec), ad-hoc signed, in a .dmg with a
# link to /Applications. Run on the architecture you ship (GitHub's macos-14 runner: arm64).
#   packaging/macos/build_macos.sh            -> dist/rwkv-desktop-VERSION-macos-ARCH.dmg
# The macOS torch wheel from PyPI is the CPU + Metal (MPS) build: there is one variant.
# Notarisation (needs an Apple Developer ID) is documented in docs/packaging.md; set
# CODESIGN_IDENTITY="Developer ID Application: ..." to sign with it instead of ad hoc.
# Not run on the development machine (Linux): CI runs it.
set -euo pipefail
cd "$(dirname "$0")/../.."
export VARIANT=cpu
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
ARCH=$(uname -m)
APP="dist/cpu/RWKV Desktop.app"
IDENTITY=${CODESIGN_IDENTITY:--}

t0=$(date +%s)
SKIP_SELF_CHECK=1 packaging/build_bundle.sh

# Sign inside out. Ad hoc ("-") is enough to run on the machine that downloads it after the user
# confirms once in System Settings > Privacy & Security; Developer ID + notarisation removes that.
if [ "$IDENTITY" = "-" ]; then
    codesign --force --deep --sign - "$APP"
else
    codesign --force --deep --options runtime --timestamp \
        --entitlements packaging/macos/entitlements.plist --sign "$IDENTITY" "$APP"
fi
codesign --verify --deep --strict --verbose=2 "$APP"

echo "== self-check of the signed .app"
QT_QPA_PLATFORM=offscreen "$APP/Contents/MacOS/rwkv-desktop" --self-check

DMG=dist/rwkv-desktop-$VERSION-macos-$ARCH.dmg
stage=build/dmg
rm -rf "$stage" "$DMG"
mkdir -p "$stage"
cp -R "$APP" "$stage/"
ln -s /Applications "$stage/Applications"
# hdiutil sometimes fails with "Resource busy" on CI machines: try a few times.
for try in 1 2 3; do
    hdiutil create -volname "RWKV Desktop" -srcfolder "$stage" -fs HFS+ -format UDZO -ov "$DMG" && break
    [ "$try" = 3 ] && exit 1
    sleep 10
done
[ "$IDENTITY" = "-" ] || codesign --force --sign "$IDENTITY" --timestamp "$DMG"

echo "== self-check from the mounted .dmg"
mnt=$(mktemp -d)
hdiutil attach -nobrowse -readonly -mountpoint "$mnt" "$DMG" >/dev/null
QT_QPA_PLATFORM=offscreen "$mnt/RWKV Desktop.app/Contents/MacOS/rwkv-desktop" --self-check \
    || { hdiutil detach "$mnt"; exit 1; }
hdiutil detach "$mnt" >/dev/null
echo "== macOS: $(du -sh "$APP" | cut -f1) app, $(du -sh "$DMG" | cut -f1) $DMG, $(( $(date +%s) - t0 )) s"
