#!/bin/sh
# Portable .tar.gz only: add RWKV Desktop to this user's application menu, pointing at this folder.
# Undo: delete the two files it names. (The .deb does this system-wide by itself.)
set -e
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
apps=$data/applications
icons=$data/icons/hicolor/256x256/apps
mkdir -p "$apps" "$icons"
cp "$here/rwkv-desktop.png" "$icons/rwkv-desktop.png"
sed -e "s|^Exec=.*|Exec=\"$here/rwkv-desktop\"|" -e "s|^TryExec=.*|TryExec=$here/rwkv-desktop|" \
    "$here/rwkv-desktop.desktop" > "$apps/rwkv-desktop.desktop"
echo "Added $apps/rwkv-desktop.desktop and $icons/rwkv-desktop.png"
