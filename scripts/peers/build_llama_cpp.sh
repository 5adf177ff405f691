#!/usr/bin/env bash
# Build llama.cpp (the peer runner) from PyPI, outside our repo, CPU only.
#
# Why PyPI: our machines reach only PyPI / Debian / npm, and the `llama-cpp-python` sdist carries
# the whole llama.cpp tree under vendor/llama.cpp (with the submodule's git metadata, so the
# binaries report the real llama.cpp commit). Nothing of it is committed to our repo.
#
# Usage: scripts/peers/build_llama_cpp.sh [DEST]     (DEST defaults to $RWKV_PEERS_DIR/llama.cpp, else ../peers/llama.cpp beside the checkout)
# Result: DEST/bin/{llama-bench,llama-server,llama-cli,llama-simple,llama-quantize,...},
#         DEST/src (the llama.cpp tree: convert_hf_to_gguf.py, gguf-py, include/llama.h),
#         DEST/BUILT (version, commit, cmake flags). A second run with BUILT present is a no-op.
#         PEER_VENV (default DEST/../venv): a venv with the converter's Python packages from PyPI
#         (torch, transformers, numpy, sentencepiece, safetensors; gguf-py is read from DEST/src),
#         kept apart so the project venv stays as the project pins it.
#
# GGML_NATIVE is left at its default (ON, i.e. -march=native): right for a side-by-side peer
# comparison on one machine, wrong for a shipped binary.
set -euo pipefail

VERSION=0.3.36
SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
DEST=${1:-${RWKV_PEERS_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)/peers}/llama.cpp}
SDIST=llama_cpp_python-$VERSION.tar.gz
TARGETS=(llama-bench llama-server llama-cli llama-simple llama-quantize llama-tokenize)
CMAKE_FLAGS=(-DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF
             -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF)
# On a CPU that reports AMX (Sapphire Rapids and later), -march=native compiles ggml's AMX path in,
# and on our VMs it dies at its first tileloadd (SIGILL in q8_0 models, SIGSEGV in q4_0 ones, seen
# 2026-12-03; XCR0 enables tile data and arch_prctl grants it). So AMX is off there unless
# PEER_AMX=1: explicit -mno-amx-* win over -march=native whatever their order.
EXTRA=""
if grep -qw amx_tile /proc/cpuinfo && [[ ${PEER_AMX:-0} != 1 ]]; then
    EXTRA="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
fi
# PEER_NO_AVX512=1: a build as for an AVX2 laptop on an AVX-512 machine (-mno-avx512f takes every
# AVX-512 subset with it; AVX-VNNI, F16C and FMA stay where the CPU has them): Alder Lake and later,
# against our kernels forced to AVX2 (RWKV_CPU_ISA=avx2). Give it its own DEST.
if [[ ${PEER_NO_AVX512:-0} == 1 ]]; then
    EXTRA="$EXTRA -mno-avx512f"
fi
if [[ -n $EXTRA ]]; then
    CMAKE_FLAGS+=("-DCMAKE_C_FLAGS=$EXTRA" "-DCMAKE_CXX_FLAGS=$EXTRA")
fi

mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
VENV=${PEER_VENV:-$(dirname "$DEST")/venv}
# The converter's pins (requirements-convert_hf_to_gguf.txt), torch at the project's version; on
# our machines pip's find-links serve torch 2.13.0+cpu, elsewhere PyPI's default wheel.
PEER_PKGS=("torch==2.13.0" "transformers==4.57.6" "numpy~=2.2.6" "sentencepiece>=0.1.98,<0.3.0"
           "protobuf>=4.21.0,<5.0.0" safetensors)
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c "import torch, transformers, safetensors" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "${PEER_PKGS[@]}"
fi

if [[ -f $DEST/BUILT ]] && grep -q "^llama-cpp-python $VERSION$" "$DEST/BUILT"; then
    echo "already built: $DEST/BUILT"; cat "$DEST/BUILT"; exit 0
fi
cd "$DEST"

# 1. Download: the URL and hash come from PyPI's JSON simple index; the hash must also equal ours.
if [[ ! -f $SDIST ]] || ! echo "$SHA256  $SDIST" | sha256sum -c --quiet - 2>/dev/null; then
    read -r URL LISTED < <(curl -fsS -H "Accept: application/vnd.pypi.simple.v1+json" \
        https://pypi.org/simple/llama-cpp-python/ | python3 -c "
import json, sys
for f in json.load(sys.stdin)['files']:
    if f['filename'] == '$SDIST':
        print(f['url'], f['hashes']['sha256'])")
    if [[ $LISTED != "$SHA256" ]]; then
        echo "PyPI lists sha256 $LISTED for $SDIST, we pinned $SHA256: refusing" >&2; exit 1
    fi
    curl -fsSL -o "$SDIST.part" "$URL"
    mv "$SDIST.part" "$SDIST"
fi
echo "$SHA256  $SDIST" | sha256sum -c -

# 2. Unpack (whole sdist: vendor/llama.cpp/.git points into its .git/modules).
if [[ ! -d llama_cpp_python-$VERSION/vendor/llama.cpp/src ]]; then
    tar xzf "$SDIST"
fi
ln -sfn "llama_cpp_python-$VERSION/vendor/llama.cpp" src
COMMIT=$(git -C src rev-parse --short HEAD 2>/dev/null || echo unknown)

# 3. Build the CPU binaries and libllama (shared, so check_logits can link a small program to it).
cmake -S src -B build "${CMAKE_FLAGS[@]}"
cmake --build build -j "$(nproc)" --target "${TARGETS[@]}"
ln -sfn build/bin bin

{
    echo "llama-cpp-python $VERSION"
    echo "llama.cpp commit $COMMIT"
    echo "gcc $(gcc -dumpfullversion), cmake flags: ${CMAKE_FLAGS[*]}"
    echo "built $(date -u +%FT%TZ) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
} > BUILT
cat BUILT
