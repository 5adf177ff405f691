#!/bin/sh
# /usr/bin/rwkv-desktop: start the bundle in /opt/rwkv-desktop. The path is found relative to this
# script, so the same package also works when unpacked under another root (tests, dpkg --root).
here=$(dirname "$(readlink -f "$0")")
exec "$here/../../opt/rwkv-desktop/rwkv-desktop" "$@"
