"""Build of the compiled CPU kernels (``kernels/cpu/src/*.cpp``); everything else is in pyproject.toml.

The library is plain C++ with no torch inside: it is built for the baseline CPU of its architecture
and picks AVX2 or AVX-512 code paths at run time, so one build runs on every x86-64 machine. It is
an extension module only so that setuptools builds and installs it (``pip install -e .`` builds it
in place); ``kernels/cpu/__init__.py`` loads it with ctypes.
"""

import sys

from setuptools import Extension, setup

if sys.platform == "win32":
    compile_args = ["/O2", "/std:c++17", "/openmp:experimental"]
    link_args: list[str] = []
else:
    compile_args = ["-O3", "-std=c++17", "-fopenmp-simd", "-fvisibility=hidden", "-fno-math-errno"]
    link_args = ["-pthread"]

setup(
    ext_modules=[
        Extension(
            "kernels.cpu._rwkv_cpu",
            sources=["kernels/cpu/src/rwkv_cpu.cpp", "kernels/cpu/src/rwkv7.cpp", "kernels/cpu/src/rwkv456.cpp",
                     "kernels/cpu/src/gemm_int8.cpp", "kernels/cpu/src/gemv_int8.cpp",
                     "kernels/cpu/src/gemv_q4.cpp",
                     "kernels/cpu/src/gemm_float.cpp", "kernels/cpu/src/quantize.cpp"],
            depends=["kernels/cpu/src/core.h", "kernels/cpu/src/layouts.h"],
            define_macros=[("RWKV_PYTHON_MODULE", "1")],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
            language="c++",
        )
    ],
)
