#!/usr/bin/env bash
# Windows (Git Bash on GitHub's windows runners): the PyInstaller bundle, then an Inno Setup
# installer (per user, no admin; Start menu; uninstaller).
#   packaging/windows/build_windows.sh                -> dist/rwkv-desktop-VERSION-windows-x64-cpu-setup.exe
#   VARIANT=cuda TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" \
#       packaging/windows/build_windows.sh
# Needs Python 3.11 and Inno Setup 6 (ISCC.exe; on PATH, or in its default folder, or ISCC=...).
# Not run on the development machine (Linux): CI runs it.
set -euo pipefail
cd "$(dirname "$0")/../.."
VARIANT=${VARIANT:-cpu}
export VARIANT
PYTHON=${PYTHON:-python}
export PYTHON
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)

t0=$(date +%s)
packaging/build_bundle.sh

ISCC=${ISCC:-$(command -v iscc || command -v ISCC || echo "/c/Program Files (x86)/Inno Setup 6/ISCC.exe")}
bundle=$(cygpath -w "$PWD/dist/$VARIANT/rwkv-desktop")
# Keep MSYS from rewriting /D... switches into paths.
MSYS2_ARG_CONV_EXCL="*" "$ISCC" /Q "/DAppVersion=$VERSION" "/DVariant=$VARIANT" "/DBundleDir=$bundle" \
    "$(cygpath -w packaging/windows/rwkv-desktop.iss)"
setup=dist/rwkv-desktop-$VERSION-windows-x64-$VARIANT-setup.exe
echo "== Windows $VARIANT: bundle $(du -sh "dist/$VARIANT/rwkv-desktop" | cut -f1), installer $(du -sh "$setup" | cut -f1), $(( $(date +%s) - t0 )) s"
