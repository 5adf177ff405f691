#!/usr/bin/env bash
# Build the one-folder PyInstaller bundle of RWKV Desktop from scratch, in a build venv of its own
# (never the project's .venv), then run the bundled app's --self-check.
#
#   packaging/build_bundle.sh                 # CPU variant -> dist/cpu/rwkv-desktop/
#   VARIANT=cuda TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" \
#       packaging/build_bundle.sh             # CUDA variant -> dist/cuda/rwkv-desktop/
#
# Environment: VARIANT (cpu|cuda|rocm, default cpu), TORCH_SPEC (pip arguments for torch; default
# the CPU build, torch 2.13.0+cpu from PyTorch's CPU index on Linux: scripts/install_torch),
# PYTHON (interpreter for the venv, default python3), BUILD_VENV (default build/pkg-$VARIANT/venv),
# SKIP_SELF_CHECK=1 to skip the check.
# Runs under bash on Linux, macOS and Windows (Git Bash on GitHub's runners).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VARIANT=${VARIANT:-cpu}
PYTHON=${PYTHON:-python3}
WORK=$ROOT/build/pkg-$VARIANT
VENV=${BUILD_VENV:-$WORK/venv}
DIST=$ROOT/dist/$VARIANT
PYINSTALLER_SPEC=${PYINSTALLER_SPEC:-pyinstaller==6.22.3}

case "$(uname -s)" in
    MINGW*|MSYS*|CYGWIN*) VPY=$VENV/Scripts/python.exe; EXE_SUFFIX=.exe ;;
    *) VPY=$VENV/bin/python; EXE_SUFFIX="" ;;
esac

t_start=$(date +%s)
if [ ! -x "$VPY" ]; then
    echo "== creating build venv $VENV"
    "$PYTHON" -m venv "$VENV"
    "$VPY" -m pip install --quiet --upgrade pip
fi
if ! "$VPY" -c "import importlib.metadata as m; m.version('torch')" 2>/dev/null; then
    "$ROOT/scripts/install_torch" "$VPY"      # TORCH_SPEC, else the CPU build (as scripts/setup)
fi
echo "== installing rwkv-desktop (a wheel, not editable: builds the compiled CPU kernels if setup.py has them)"
rm -rf "$WORK/wheel"
"$VPY" -m pip wheel --quiet --no-deps --wheel-dir "$WORK/wheel" .
wheel=$(ls "$WORK"/wheel/rwkv_desktop-*.whl)
"$VPY" -m pip install --quiet --force-reinstall --no-deps "$wheel"
"$VPY" -m pip install --quiet "$wheel"      # its dependencies (torch is already there)
"$VPY" -m pip install --quiet "$PYINSTALLER_SPEC" pyinstaller-hooks-contrib

# The torch flavour must match the variant: a CUDA wheel in the CPU bundle would cost gigabytes.
"$VPY" - "$VARIANT" <<'EOF'
import importlib.util, sys
import torch
variant = sys.argv[1]
cuda, hip = torch.version.cuda, getattr(torch.version, "hip", None)
print(f"== torch {torch.__version__} (cuda {cuda}, hip {hip}) for the {variant} variant")
if variant == "cpu" and (cuda or hip):
    sys.exit("VARIANT=cpu but torch is a GPU build: set TORCH_SPEC to a CPU wheel "
             "(e.g. --index-url https://download.pytorch.org/whl/cpu)")
if variant == "cuda" and not cuda:
    sys.exit("VARIANT=cuda but torch has no CUDA: set TORCH_SPEC to a CUDA wheel index")
if variant == "rocm" and not hip:
    sys.exit("VARIANT=rocm but torch has no ROCm: set TORCH_SPEC to a ROCm wheel index")
if variant == "cpu" and importlib.util.find_spec("triton") is not None:
    sys.exit("triton is installed in the build venv: it must not go into the CPU bundle")
EOF
t_deps=$(date +%s)

echo "== PyInstaller ($VARIANT)"
rm -rf "$DIST"
mkdir -p "$WORK"
# From outside the source tree, so the installed packages are analysed (see the spec).
(cd "$WORK" && RWKV_VARIANT=$VARIANT "$VPY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$WORK/pyinstaller" "$ROOT/packaging/rwkv-desktop.spec")
t_built=$(date +%s)

if [ "$(uname -s)" = Darwin ]; then
    APP="$DIST/RWKV Desktop.app/Contents/MacOS/rwkv-desktop"
else
    APP="$DIST/rwkv-desktop/rwkv-desktop$EXE_SUFFIX"
fi
if [ "$VARIANT" = cpu ] && find "$DIST" -type d -name triton | grep -q .; then
    echo "triton ended up in the CPU bundle" >&2
    exit 1
fi
if [ -z "${SKIP_SELF_CHECK:-}" ]; then
    echo "== bundled self-check"
    QT_QPA_PLATFORM=offscreen "$APP" --self-check
fi
echo "== bundle: $(du -sh "$DIST" | cut -f1) in $DIST; dependencies $((t_deps - t_start)) s," \
     "PyInstaller $((t_built - t_deps)) s"
