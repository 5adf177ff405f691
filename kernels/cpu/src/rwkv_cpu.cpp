// RWKV Desktop's compiled CPU kernels: plain C++ called through ctypes on raw float arrays.
//
// Built for a baseline CPU of its architecture (no -march=native): the hot loops exist in an
// AVX-512, an AVX2+FMA and a portable version, and the fastest one this CPU (and OS) supports is
// picked at run time (AVX-512 with VNNI for int8 where present; AVX2's prompt GEMMs with AVX-VNNI where
// that is); RWKV_CPU_ISA=scalar|avx2|avx512|avx512vnni (or rwkv_cpu_set_isa) forces a lower one,
// RWKV_CPU_AVXVNNI=0 (or rwkv_cpu_set_avx_vnni) keeps AVX2's without AVX-VNNI.
// Threads come from a small persistent pool of our own (spin briefly, then sleep), sized by the
// caller, so that no second OpenMP runtime ever spins beside torch's.
//
// This file: instruction-set choice, the thread pool, the matrix-vector product over rows ("GEMV",
// weights [out, in] in fp32 or bf16) and the library's general C API. gemv_int8.cpp and
// gemv_q4.cpp: the same product for int8 (a float scale per output row) and 4- and 5-bit weights.
// rwkv7.cpp: the WKV-7 recurrence and RWKV-7's fused decode step; rwkv456.cpp: the same for RWKV-4,
// -5 and -6. quantize.cpp: int8, q4 and q5 made at load time. core.h: what they share.

#include "core.h"
#include "layouts.h"

namespace rwkvcpu {

int isa_supported_max() {
#if RWKV_X86
    __builtin_cpu_init();
    // libgcc also checks that the OS saves the wider registers (XCR0) before reporting these.
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("fma"))
        return __builtin_cpu_supports("avx512vnni") ? ISA_AVX512_VNNI : ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ISA_AVX2;
#endif
    return ISA_SCALAR;
}

int isa_from_env(int best) {
    const char* e = std::getenv("RWKV_CPU_ISA");
    if (!e || !*e) return best;
    int want = best;
    if (!std::strcmp(e, "scalar")) want = ISA_SCALAR;
    else if (!std::strcmp(e, "avx2")) want = ISA_AVX2;
    else if (!std::strcmp(e, "avx512")) want = ISA_AVX512;
    else if (!std::strcmp(e, "avx512vnni")) want = ISA_AVX512_VNNI;
    return std::min(want, best);
}

std::atomic<int> g_isa{-1};

int current_isa() {
    int v = g_isa.load(std::memory_order_relaxed);
    if (v < 0) {
        v = isa_from_env(isa_supported_max());
        g_isa.store(v);
    }
    return v;
}

// AVX-VNNI: -1 until first asked, then 0 / 1 (the CPU has it and RWKV_CPU_AVXVNNI is not "0").
std::atomic<int> g_avxvnni{-1};

bool cpu_has_avx_vnni() {
#if RWKV_X86
    __builtin_cpu_init();
    return isa_supported_max() >= ISA_AVX2 && __builtin_cpu_supports("avxvnni");
#else
    return false;
#endif
}

bool avx_vnni(int isa) {
    if (isa != ISA_AVX2) return false;
    int v = g_avxvnni.load(std::memory_order_relaxed);
    if (v < 0) {
        const char* e = std::getenv("RWKV_CPU_AVXVNNI");
        v = cpu_has_avx_vnni() && !(e && !std::strcmp(e, "0"));
        g_avxvnni.store(v);
    }
    return v != 0;
}

std::mutex g_api;  // one top-level call at a time: the pool has one job slot
Pool* g_pool = nullptr;

Pool& pool() {
    if (!g_pool) g_pool = new Pool(1);
    return *g_pool;
}

// ---------------------------------------------------------------------------------------------
// GEMV over a range of rows: y[o] = W[o, :] . x for o in [r0, r1). W is [rows, cols] row-major.

#define DEFINE_SCALAR_GEMV(NAME, T, LOAD)                                                            \
    void NAME(const void* Wv, const float* scale, long cols, const float* x, float* y, long r0,     \
              long r1) {                                                                            \
        const T* W = static_cast<const T*>(Wv);                                                     \
        (void)scale;                                                                                \
        long o = r0;                                                                                \
        for (; o + 4 <= r1; o += 4) {                                                               \
            const T *w0 = W + o * cols, *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;          \
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                                   \
            SIMD_REDUCE(s0, s1, s2, s3)                                                             \
            for (long i = 0; i < cols; i++) {                                                       \
                float xi = x[i];                                                                    \
                s0 += LOAD(w0[i]) * xi;                                                             \
                s1 += LOAD(w1[i]) * xi;                                                             \
                s2 += LOAD(w2[i]) * xi;                                                             \
                s3 += LOAD(w3[i]) * xi;                                                             \
            }                                                                                       \
            y[o] = s0;                                                                              \
            y[o + 1] = s1;                                                                          \
            y[o + 2] = s2;                                                                          \
            y[o + 3] = s3;                                                                          \
        }                                                                                           \
        for (; o < r1; o++) {                                                                       \
            const T* w0 = W + o * cols;                                                             \
            float s0 = 0;                                                                           \
            SIMD_REDUCE(s0)                                                                         \
            for (long i = 0; i < cols; i++) s0 += LOAD(w0[i]) * x[i];                               \
            y[o] = s0;                                                                              \
        }                                                                                           \
    }

#define LOAD_F32(v) (v)
#define LOAD_BF16(v) bf16_to_f32(v)

DEFINE_SCALAR_GEMV(gemv_f32_scalar, float, LOAD_F32)
DEFINE_SCALAR_GEMV(gemv_bf16_scalar, uint16_t, LOAD_BF16)

#if RWKV_X86
// fp32 and bf16 weights: a register tile of R rows x NI inputs with ONE accumulator vector per
// (row, input), which sums that output's products across the row in k-step order. A k-step loads R
// weight vectors and NI input vectors for R * NI FMAs (bf16: two each, below): batched decode is
// compute-bound, and this is ~2.5x fewer loads per FMA than the kernel before (one row, four
// accumulators per input: 1.25 loads per FMA). A row's last columns (short of a k-step) go through
// one more k-step on zero-padded vectors, and the tile's R * NI accumulators are reduced together
// (reduce_avx512 / reduce_avx2: every one through the same addition tree wherever it sits). So an
// output's arithmetic does not depend on R or NI: decode (one input, R rows for R independent FMA
// chains) and a batch of any size give the same bits. Input n at x + n * xstride, its output at
// y + n * ystride.
//
// bf16 rows on AVX-512: a k-step loads one vector of 32 weights, whose 32-bit lanes each hold a pair
// (w[2k] in the low half, w[2k + 1] in the high one). The high halves are the odd weights as floats
// already (one AND clears the low bits), the low ones shifted up 16 bits the even weights: 2 ALU
// operations per 32 weights, where widening 16 at a time (zero-extend, shift) took two loads and 4.
// Each accumulator takes a k-step's even products, then its odd ones (two chained FMAs), against an
// input split once per GEMV into the same layout (split_bf16_input: per 32 columns, the 16 even
// elements, then the 16 odd ones; zero-padded to whole k-steps). Measured on one Zen4 core (thread
// CPU time, bf16 matrices far bigger than L3, one input): ~1.02-1.06x the widening kernel's GB/s,
// ~1.1-1.2x with the L1 prefetch below; batched tiles are FMA-bound, the same speed either way.
// What remains is not compute: a loop with one integer add per 64 bytes, same access pattern, read
// no faster.
// AVX2 keeps widening 8 at a time: split 16 at a time, the same GEMV measured no faster (1.0-1.02x).
TGT_AVX2 inline __m256 ldw_f32_avx2(const float* p, int) { return _mm256_loadu_ps(p); }
TGT_AVX2 inline __m256 ldw_bf16_avx2(const uint16_t* p, int) {
    const __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
}
TGT_AVX2 inline __m256 tail8_f32(const float* p, long n) {
    float b[8] = {};
    std::memcpy(b, p, sizeof(float) * n);
    return _mm256_loadu_ps(b);
}
TGT_AVX2 inline __m256 tailw_f32_avx2(const float* p, long n, int) { return tail8_f32(p, n); }
TGT_AVX2 inline __m256 tailw_bf16_avx2(const uint16_t* p, long n, int) {
    uint16_t b[8] = {};
    std::memcpy(b, p, sizeof(uint16_t) * n);
    return ldw_bf16_avx2(b, 0);
}

TGT_AVX512 inline __m512 ldw_f32_avx512(const float* p, int) { return _mm512_loadu_ps(p); }
// h = 0: the even weights (the lanes' low halves shifted up), 1: the odd ones (the high halves).
TGT_AVX512 inline __m512 bf16_half_avx512(__m512i u, int h) {
    return _mm512_castsi512_ps(h ? _mm512_and_si512(u, _mm512_set1_epi32(int(0xFFFF0000u))) : _mm512_slli_epi32(u, 16));
}
TGT_AVX512 inline __m512 ldw_bf16_avx512(const uint16_t* p, int h) { return bf16_half_avx512(_mm512_loadu_si512(p), h); }
TGT_AVX512 inline __m512 tail16_f32(const float* p, long n) {
    return _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), p);
}
TGT_AVX512 inline __m512 tailw_f32_avx512(const float* p, long n, int) { return tail16_f32(p, n); }
TGT_AVX512 inline __m512 tailw_bf16_avx512(const uint16_t* p, long n, int h) {
    return bf16_half_avx512(_mm512_maskz_loadu_epi16(__mmask32((1ull << n) - 1), p), h);
}
TGT_AVX512 inline __m512 tailx_split_avx512(const float* p, long) { return _mm512_loadu_ps(p); }  // padded

// out[j] = the sum of a[j]'s lanes for j < N, sixteen at a time: lanes i and i + 8 first, then
// i and i + 4, i and i + 2, i and i + 1 (each level adds the halves of two accumulators' partial
// sums in one instruction). Missing accumulators of a last group are zeros, in lanes of their own.
template <int M>
TGT_AVX512 inline void reduce16_avx512(const __m512* a, float* out) {
    const __m512 z = _mm512_setzero_ps();
    __m512 l1[8], l2[4], l3[2];
    PRAGMA(GCC unroll 8)
    for (int p = 0; p < 8; p++) {
        const __m512 u = 2 * p < M ? a[2 * p] : z, v = 2 * p + 1 < M ? a[2 * p + 1] : z;
        l1[p] = 2 * p < M ? _mm512_add_ps(_mm512_shuffle_f32x4(u, v, 0x44), _mm512_shuffle_f32x4(u, v, 0xEE)) : z;
    }
    PRAGMA(GCC unroll 4)
    for (int q = 0; q < 4; q++)  // 128-bit lane j: accumulator 4 q + j
        l2[q] = 4 * q < M ? _mm512_add_ps(_mm512_shuffle_f32x4(l1[2 * q], l1[2 * q + 1], 0x88),
                                          _mm512_shuffle_f32x4(l1[2 * q], l1[2 * q + 1], 0xDD))
                          : z;
    PRAGMA(GCC unroll 2)
    for (int h = 0; h < 2; h++)
        l3[h] = 8 * h < M ? _mm512_add_ps(_mm512_shuffle_ps(l2[2 * h], l2[2 * h + 1], 0x44),
                                          _mm512_shuffle_ps(l2[2 * h], l2[2 * h + 1], 0xEE))
                          : z;
    alignas(64) float t[16];  // lane 4 j + k: accumulator 4 k + j
    _mm512_store_ps(t, _mm512_add_ps(_mm512_shuffle_ps(l3[0], l3[1], 0x88), _mm512_shuffle_ps(l3[0], l3[1], 0xDD)));
    for (int m = 0; m < M; m++) out[m] = t[(m % 4) * 4 + m / 4];
}
template <int N>
TGT_AVX512 inline void reduce_avx512(const __m512* a, float* out) {
    if constexpr (N > 16) {
        reduce16_avx512<16>(a, out);
        reduce_avx512<N - 16>(a + 16, out + 16);
    } else {
        reduce16_avx512<N>(a, out);
    }
}

// The same for 8 lanes, eight at a time: lanes i and i + 4, i and i + 2, i and i + 1.
template <int M>
TGT_AVX2 inline void reduce8_avx2(const __m256* a, float* out) {
    const __m256 z = _mm256_setzero_ps();
    __m256 l1[4], l2[2];
    PRAGMA(GCC unroll 4)
    for (int p = 0; p < 4; p++) {
        const __m256 u = 2 * p < M ? a[2 * p] : z, v = 2 * p + 1 < M ? a[2 * p + 1] : z;
        l1[p] = 2 * p < M ? _mm256_add_ps(_mm256_permute2f128_ps(u, v, 0x20), _mm256_permute2f128_ps(u, v, 0x31))
                          : z;
    }
    PRAGMA(GCC unroll 2)
    for (int q = 0; q < 2; q++)
        l2[q] = 4 * q < M ? _mm256_add_ps(_mm256_shuffle_ps(l1[2 * q], l1[2 * q + 1], 0x44),
                                          _mm256_shuffle_ps(l1[2 * q], l1[2 * q + 1], 0xEE))
                          : z;
    alignas(32) float t[8];  // lane 4 j + k: accumulator 2 k + j
    _mm256_store_ps(t, _mm256_add_ps(_mm256_shuffle_ps(l2[0], l2[1], 0x88), _mm256_shuffle_ps(l2[0], l2[1], 0xDD)));
    for (int m = 0; m < M; m++) out[m] = t[(m % 2) * 4 + m / 2];
}
template <int N>
TGT_AVX2 inline void reduce_avx2(const __m256* a, float* out) {
    if constexpr (N > 8) {
        reduce8_avx2<8>(a, out);
        reduce_avx2<N - 8>(a + 8, out + 8);
    } else {
        reduce8_avx2<N>(a, out);
    }
}

// The R rows of a tile are R streams 3-12 KiB apart, which the hardware prefetchers follow badly
// (measured: 4 rows at once read memory at ~0.7x one row's speed; a batch with them went at a third
// of its compute speed). So a tile asks for the bytes TILE_PREFETCH ahead of its own start, as much
// per k-step as it reads: together one sequential stream, into L2, through a thread's rows.
constexpr long TILE_PREFETCH = 32768;
// One-input bf16 tiles on AVX-512 also ask for the bytes TILE_PREFETCH_L1 ahead, into L1, by the same
// rule: one Zen4 core then streamed 4096 x 1024 and 1024 x 4096 matrices ~1.05-1.1x faster (2 and
// 8 KiB: the same decode speed). fp32 is left as it was, AVX2's bf16 measured ~1.0x with it, and the
// batched tiles are compute-bound.
constexpr long TILE_PREFETCH_L1 = 4096;

// NAME_tile<R, NI>: rows w .. w + (R - 1) * cols times NI inputs; a k-step covers H * WIDTH columns,
// H vectors per row (2: AVX-512 bf16, LOADW(p, h) its even or odd half). PF_L1: the L1 prefetch's
// distance for one input, 0 for none. NAME<R, NI>: the GemvNFn over rows [r0, r1), R at a time
// (then two, then one).
#define DEFINE_SIMD_TILE(NAME, TGT, T, VEC_T, WIDTH, H, PF_L1, ZERO, LOADX, LOADW, TAILX, TAILW, FMA, REDUCE) \
    template <int R, int NI>                                                                        \
    TGT inline void NAME##_tile(const T* w, long cols, const float* x, long xstride, float* y, long ystride) { \
        constexpr long STEP = H * WIDTH;                                                            \
        constexpr int LINES = (R * STEP * int(sizeof(T)) + 63) / 64; /* read per k-step */          \
        const char* pf = reinterpret_cast<const char*>(w) + TILE_PREFETCH;                          \
        const char* pf1 = reinterpret_cast<const char*>(w) + PF_L1;                                 \
        VEC_T acc[R * NI];                                                                          \
        PRAGMA(GCC unroll 64)                                                                       \
        for (int j = 0; j < R * NI; j++) acc[j] = ZERO;                                             \
        const long cv = cols - cols % STEP;                                                         \
        for (long i = 0; i < cv; i += STEP) {                                                       \
            PRAGMA(GCC unroll 16)                                                                   \
            for (int l = 0; l < LINES; l++) _mm_prefetch(pf + (i * R * long(sizeof(T)) + 64 * l), _MM_HINT_T1); \
            if (PF_L1 && NI == 1) {                                                                 \
                PRAGMA(GCC unroll 16)                                                               \
                for (int l = 0; l < LINES; l++)                                                     \
                    _mm_prefetch(pf1 + (i * R * long(sizeof(T)) + 64 * l), _MM_HINT_T0);            \
            }                                                                                       \
            PRAGMA(GCC unroll 2)                                                                    \
            for (int h = 0; h < H; h++) {                                                           \
                VEC_T wv[R];                                                                        \
                PRAGMA(GCC unroll 16)                                                               \
                for (int r = 0; r < R; r++) wv[r] = LOADW(w + r * cols + i, h);                     \
                PRAGMA(GCC unroll 16)                                                               \
                for (int n = 0; n < NI; n++) {                                                      \
                    VEC_T xv = LOADX(x + n * xstride + i + h * WIDTH);                              \
                    IN_REGISTER(xv);                                                                \
                    PRAGMA(GCC unroll 16)                                                           \
                    for (int r = 0; r < R; r++) acc[r * NI + n] = FMA(wv[r], xv, acc[r * NI + n]);  \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
        if (cv < cols) {                                                                            \
            for (int h = 0; h < H; h++) {                                                           \
                VEC_T wv[R];                                                                        \
                for (int r = 0; r < R; r++) wv[r] = TAILW(w + r * cols + cv, cols - cv, h);         \
                for (int n = 0; n < NI; n++) {                                                      \
                    const VEC_T xv = TAILX(x + n * xstride + cv + h * WIDTH, cols - cv);            \
                    for (int r = 0; r < R; r++) acc[r * NI + n] = FMA(wv[r], xv, acc[r * NI + n]);  \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
        float s[R * NI];                                                                            \
        REDUCE<R * NI>(acc, s);                                                                     \
        for (int r = 0; r < R; r++)                                                                 \
            for (int n = 0; n < NI; n++) y[n * ystride + r] = s[r * NI + n];                        \
    }                                                                                               \
    template <int R, int NI>                                                                        \
    TGT void NAME(const void* Wv, const float*, long cols, const float* x, long xstride, float* y,  \
                  long ystride, long r0, long r1) {                                                 \
        const T* W = static_cast<const T*>(Wv);                                                     \
        long o = r0;                                                                                \
        for (; o + R <= r1; o += R) NAME##_tile<R, NI>(W + o * cols, cols, x, xstride, y + o, ystride); \
        if (R > 2 && o + 2 <= r1) {                                                                 \
            NAME##_tile<2, NI>(W + o * cols, cols, x, xstride, y + o, ystride);                     \
            o += 2;                                                                                 \
        }                                                                                           \
        for (; o < r1; o++) NAME##_tile<1, NI>(W + o * cols, cols, x, xstride, y + o, ystride);     \
    }

// fp32 (and AVX2 bf16) tails read only the tail's own columns of x; AVX-512 bf16's x is zero-padded.
DEFINE_SIMD_TILE(gemvt_f32_avx2, TGT_AVX2, float, __m256, 8, 1, 0, _mm256_setzero_ps(), _mm256_loadu_ps, ldw_f32_avx2,
                 tail8_f32, tailw_f32_avx2, _mm256_fmadd_ps, reduce_avx2)
DEFINE_SIMD_TILE(gemvt_bf16_avx2, TGT_AVX2, uint16_t, __m256, 8, 1, 0, _mm256_setzero_ps(), _mm256_loadu_ps,
                 ldw_bf16_avx2, tail8_f32, tailw_bf16_avx2, _mm256_fmadd_ps, reduce_avx2)
DEFINE_SIMD_TILE(gemvt_f32_avx512, TGT_AVX512, float, __m512, 16, 1, 0, _mm512_setzero_ps(), _mm512_loadu_ps,
                 ldw_f32_avx512, tail16_f32, tailw_f32_avx512, _mm512_fmadd_ps, reduce_avx512)
DEFINE_SIMD_TILE(gemvt_bf16_avx512, TGT_AVX512, uint16_t, __m512, 16, 2, TILE_PREFETCH_L1, _mm512_setzero_ps(), _mm512_loadu_ps,
                 ldw_bf16_avx512, tailx_split_avx512, tailw_bf16_avx512, _mm512_fmadd_ps, reduce_avx512)
#endif

// fp32 / bf16 tiles (DEFINE_SIMD_TILE). One input (decode: memory-bound) takes 1 row, prefetched as
// one stream: on a Sapphire Rapids VM 1.07-1.14x 2 rows (fp32 decode at 0.1B-1.5B, 1.03-1.10x bf16;
// 2 rows had been level with 1 on Zen 4, before the prefetch). A batch takes TILE_R rows x up to
// TILE_NI inputs, as many as the registers hold: R * NI accumulators, R weight vectors and one input vector, of 32 zmm (4 x 6) or
// 16 ymm (3 x 4). Measured on the 0.1B model's decode step: 4 x 6 as fast as 4 x 4 or 3 x 8 in L1
// and faster than 4 x 4 from memory at 6 inputs; 3 x 4 ~1.1x 3 x 3, 2 x 5 or 2 x 6 on AVX2.
#if RWKV_X86
constexpr int TILE_R1 = 1, TILE_R_AVX512 = 4, TILE_NI_AVX512 = 6, TILE_R_AVX2 = 3, TILE_NI_AVX2 = 4;
#define TILES_AVX512(NAME)                                                                          \
    {NAME<TILE_R1, 1>, NAME<TILE_R_AVX512, 2>, NAME<TILE_R_AVX512, 3>, NAME<TILE_R_AVX512, 4>,      \
     NAME<TILE_R_AVX512, 5>, NAME<TILE_R_AVX512, 6>}
#define TILES_AVX2(NAME) {NAME<TILE_R1, 1>, NAME<TILE_R_AVX2, 2>, NAME<TILE_R_AVX2, 3>, NAME<TILE_R_AVX2, 4>}
static_assert(TILE_NI_AVX512 == 6 && TILE_NI_AVX2 == 4, "the tables below list the tiles one by one");
#endif

int gemv_n_max(int wtype, int isa) {
#if RWKV_X86
    if (wtype == W_F32 || wtype == W_BF16) return isa >= ISA_AVX512 ? TILE_NI_AVX512 : isa == ISA_AVX2 ? TILE_NI_AVX2 : 0;
#endif
    (void)wtype, (void)isa;
    return 0;
}

int gemv_tile_rows(int isa) {
#if RWKV_X86
    return isa >= ISA_AVX512 ? TILE_R_AVX512 : TILE_R_AVX2;
#else
    (void)isa;
    return 4;
#endif
}

GemvNFn gemv_n_fn(int wtype, int isa, int ni) {
#if RWKV_X86
    static const GemvNFn f32_512[] = TILES_AVX512(gemvt_f32_avx512), bf16_512[] = TILES_AVX512(gemvt_bf16_avx512);
    static const GemvNFn f32_256[] = TILES_AVX2(gemvt_f32_avx2), bf16_256[] = TILES_AVX2(gemvt_bf16_avx2);
    if (ni >= 1 && ni <= gemv_n_max(wtype, isa)) {
        if (isa >= ISA_AVX512) return (wtype == W_F32 ? f32_512 : bf16_512)[ni - 1];
        return (wtype == W_F32 ? f32_256 : bf16_256)[ni - 1];
    }
#endif
    (void)wtype, (void)isa, (void)ni;
    return nullptr;
}

std::vector<float> g_xsplit[8];

long bf16_split_step(int isa) {
#if RWKV_X86
    return isa >= ISA_AVX512 ? 32 : 0;
#else
    (void)isa;
    return 0;
#endif
}

#if RWKV_X86
// Whole k-steps: even elements to the first half, odd ones to the second. The buffer is usually out
// of L1/L2 (the weights streamed through since), and its stores' misses would be taken one at a time:
// every line is asked for first, together.
TGT_AVX512 static long split_avx512(const float* x, long cols, float* out) {
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
    for (long b = 0; b < cols; b += 16) _mm_prefetch(reinterpret_cast<const char*>(out + b), _MM_HINT_T0);
    long b = 0;
    for (; b + 32 <= cols; b += 32) {
        const __m512 lo = _mm512_loadu_ps(x + b), hi = _mm512_loadu_ps(x + b + 16);
        _mm512_storeu_ps(out + b, _mm512_permutex2var_ps(lo, ev, hi));
        _mm512_storeu_ps(out + b + 16, _mm512_permutex2var_ps(lo, od, hi));
    }
    return b;
}
#endif

void split_bf16_input(const float* x, long cols, int isa, float* out) {
    const long step = bf16_split_step(isa), half = step / 2;
    long b = 0;
#if RWKV_X86
    if (isa >= ISA_AVX512) b = split_avx512(x, cols, out);
#endif
    for (; b < cols; b += step)  // the last, partial k-step, zero-padded
        for (long k = 0; k < half; k++) {
            out[b + k] = b + 2 * k < cols ? x[b + 2 * k] : 0.0f;
            out[b + half + k] = b + 2 * k + 1 < cols ? x[b + 2 * k + 1] : 0.0f;
        }
}

#if RWKV_X86
// One input: the tile kernels' NI = 1 (the batched kernels' arithmetic, see DEFINE_SIMD_TILE).
#define DEFINE_TILE_GEMV(NAME, TGT, TILED)                                                          \
    TGT void NAME(const void* W, const float* scale, long cols, const float* x, float* y, long r0, long r1) { \
        TILED<TILE_R1, 1>(W, scale, cols, x, cols, y, r1, r0, r1);                                  \
    }
DEFINE_TILE_GEMV(gemv_f32_avx2, TGT_AVX2, gemvt_f32_avx2)
DEFINE_TILE_GEMV(gemv_bf16_avx2, TGT_AVX2, gemvt_bf16_avx2)
DEFINE_TILE_GEMV(gemv_f32_avx512, TGT_AVX512, gemvt_f32_avx512)
DEFINE_TILE_GEMV(gemv_bf16_avx512, TGT_AVX512, gemvt_bf16_avx512)
#endif

GemvFn gemv_fn(int wtype, int isa) {  // W_F32 or W_BF16 (int8: gemv_i8_fn, gemv_int8.cpp)
    static const GemvFn scalar[2] = {gemv_f32_scalar, gemv_bf16_scalar};
#if RWKV_X86
    static const GemvFn avx2[2] = {gemv_f32_avx2, gemv_bf16_avx2};
    static const GemvFn avx512[2] = {gemv_f32_avx512, gemv_bf16_avx512};
    if (isa >= ISA_AVX512) return avx512[wtype];
    if (isa == ISA_AVX2) return avx2[wtype];
#endif
    (void)isa;
    return scalar[wtype];
}

#define DEFINE_VEC_MATH(SUFFIX, TGT)                                                              \
    TGT void vec_exp_##SUFFIX(float* x, long n) {                                                 \
        PRAGMA(omp simd)                                                                        \
        for (long i = 0; i < n; i++) x[i] = exp_poly(x[i]);                                     \
    }                                                                                           \
    TGT void vec_sigmoid_##SUFFIX(float* x, long n) {                                             \
        PRAGMA(omp simd)                                                                        \
        for (long i = 0; i < n; i++) x[i] = 1.0f / (1.0f + exp_poly(-x[i]));                    \
    }

DEFINE_VEC_MATH(scalar, )

#if RWKV_X86
// exp_poly on vectors, written out: GCC does not vectorise the loops above (it keeps exp_poly's
// clamps as branches), which left these at ~5 ns a value, a third of a 512-token prompt's work
// between the products. Both ISAs take the same steps in the same order (tails by masked loads), so
// they give the same bits; NaN stays NaN (the max/min operands ordered so that it passes through).
#define DEFINE_VEC_EXP(SUFFIX, TGT, V, P)                                                            \
    TGT __attribute__((always_inline)) inline V exp_##SUFFIX(V x) {                              \
        const V xc = P##_min_ps(P##_set1_ps(88.0f), P##_max_ps(P##_set1_ps(-87.33f), x));           \
        const V magic = P##_set1_ps(12582912.0f);                                                 \
        const V n = P##_sub_ps(P##_fmadd_ps(xc, P##_set1_ps(1.44269504f), magic), magic);         \
        V r = P##_fnmadd_ps(n, P##_set1_ps(0.693359375f), xc);                                    \
        r = P##_fnmadd_ps(n, P##_set1_ps(-2.12194440e-4f), r);                                    \
        V p = P##_set1_ps(1.9875691500e-4f);                                                      \
        p = P##_fmadd_ps(p, r, P##_set1_ps(1.3981999507e-3f));                                    \
        p = P##_fmadd_ps(p, r, P##_set1_ps(8.3334519073e-3f));                                    \
        p = P##_fmadd_ps(p, r, P##_set1_ps(4.1665795894e-2f));                                    \
        p = P##_fmadd_ps(p, r, P##_set1_ps(1.6666665459e-1f));                                    \
        p = P##_fmadd_ps(p, r, P##_set1_ps(5.0000001201e-1f));                                    \
        p = P##_add_ps(P##_fmadd_ps(P##_mul_ps(p, r), r, r), P##_set1_ps(1.0f));                  \
        const V scale = P##_castsi_ps(P##_slli_epi32(                                             \
            P##_add_epi32(P##_cvttps_epi32(n), P##_set1_epi32(127)), 23));                        \
        return EXP_ZERO_BELOW_##SUFFIX(P##_mul_ps(p, scale), x);                                  \
    }

#define EXP_ZERO_BELOW_avx2(y, x) _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-87.33f), _CMP_LT_OQ), y)
#define EXP_ZERO_BELOW_avx512(y, x) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33f), _CMP_NLT_UQ), y)
#define _mm256_castsi_ps _mm256_castsi256_ps
#define _mm512_castsi_ps _mm512_castsi512_ps
DEFINE_VEC_EXP(avx2, TGT_AVX2, __m256, _mm256)
DEFINE_VEC_EXP(avx512, TGT_AVX512, __m512, _mm512)
#undef _mm256_castsi_ps
#undef _mm512_castsi_ps

// x[i] = F(x[i]) over n floats, a vector at a time, the tail by masked loads and stores.
template <__m256 (*F)(__m256)>
TGT_AVX2 void map_avx2(float* x, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, F(_mm256_loadu_ps(x + i)));
    if (i < n) {
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n - i)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        _mm256_maskstore_ps(x + i, m, F(_mm256_maskload_ps(x + i, m)));
    }
}
template <__m512 (*F)(__m512)>
TGT_AVX512 void map_avx512(float* x, long n) {
    for (long i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, m, F(_mm512_maskz_loadu_ps(m, x + i)));
    }
}
TGT_AVX2 __attribute__((always_inline)) inline __m256 sigmoid_avx2(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}
TGT_AVX512 __attribute__((always_inline)) inline __m512 sigmoid_avx512(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}
TGT_AVX2 void vec_exp_avx2(float* x, long n) { map_avx2<exp_avx2>(x, n); }
TGT_AVX2 void vec_sigmoid_avx2(float* x, long n) { map_avx2<sigmoid_avx2>(x, n); }
TGT_AVX512 void vec_exp_avx512(float* x, long n) { map_avx512<exp_avx512>(x, n); }
TGT_AVX512 void vec_sigmoid_avx512(float* x, long n) { map_avx512<sigmoid_avx512>(x, n); }

// The other activations on vectors (the scalar loops below kept their branches: relu_sq alone was
// ~1.5 % of a 1.5B decode step on mispredicted signs). relu_sq: max(x, 0) squared (NaN -> 0, as the
// scalar x > 0 ? x : 0); silu: x * sigmoid(x); tanh: below 0.625 in magnitude an odd polynomial
// (Cephes' tanhf coefficients, relative error ~1e-7), above it 1 - 2 / (exp(2|x|) + 1) with x's sign
// (exp's clamp at 88 gives exactly 1 far out; NaN passes through).
#define DEFINE_VEC_ACTS(SUFFIX, TGT, V, P, ABS, SIGN, SELECT_LT)                                    \
    TGT __attribute__((always_inline)) inline V relu_sq_##SUFFIX(V x) {                          \
        const V v = P##_max_ps(x, P##_setzero_ps());                                             \
        return P##_mul_ps(v, v);                                                                 \
    }                                                                                            \
    TGT __attribute__((always_inline)) inline V silu_##SUFFIX(V x) { return P##_mul_ps(x, sigmoid_##SUFFIX(x)); } \
    TGT __attribute__((always_inline)) inline V tanh_##SUFFIX(V x) {                             \
        const V a = ABS(x), z = P##_mul_ps(x, x), one = P##_set1_ps(1.0f);                       \
        V p = P##_fmadd_ps(P##_set1_ps(-5.70498872745e-3f), z, P##_set1_ps(2.06390887954e-2f));  \
        p = P##_fmadd_ps(p, z, P##_set1_ps(-5.37397155531e-2f));                                 \
        p = P##_fmadd_ps(p, z, P##_set1_ps(1.33314422036e-1f));                                  \
        p = P##_fmadd_ps(p, z, P##_set1_ps(-3.33332819422e-1f));                                 \
        const V small = P##_fmadd_ps(P##_mul_ps(p, z), x, x);                                    \
        const V e = exp_##SUFFIX(P##_add_ps(a, a));                                              \
        const V big = P##_sub_ps(one, P##_div_ps(P##_set1_ps(2.0f), P##_add_ps(e, one)));        \
        return SELECT_LT(a, P##_set1_ps(0.625f), small, P##_or_ps(big, SIGN(x)));                \
    }                                                                                            \
    TGT void apply_act_##SUFFIX(int act, float* y, long n) {                                     \
        switch (act) {                                                                           \
            case ACT_TANH: map_##SUFFIX<tanh_##SUFFIX>(y, n); break;                             \
            case ACT_SIGMOID: map_##SUFFIX<sigmoid_##SUFFIX>(y, n); break;                       \
            case ACT_SILU: map_##SUFFIX<silu_##SUFFIX>(y, n); break;                             \
            case ACT_RELU_SQ: map_##SUFFIX<relu_sq_##SUFFIX>(y, n); break;                       \
            default: break;                                                                      \
        }                                                                                        \
    }

#define ABS_avx2(x) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x)
#define SIGN_avx2(x) _mm256_and_ps(_mm256_set1_ps(-0.0f), x)
#define SELECT_LT_avx2(a, b, lt, ge) _mm256_blendv_ps(ge, lt, _mm256_cmp_ps(a, b, _CMP_LT_OQ))
#define ABS_avx512(x) _mm512_andnot_ps(_mm512_set1_ps(-0.0f), x)
#define SIGN_avx512(x) _mm512_and_ps(_mm512_set1_ps(-0.0f), x)
#define SELECT_LT_avx512(a, b, lt, ge) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), ge, lt)
DEFINE_VEC_ACTS(avx2, TGT_AVX2, __m256, _mm256, ABS_avx2, SIGN_avx2, SELECT_LT_avx2)
DEFINE_VEC_ACTS(avx512, TGT_AVX512, __m512, _mm512, ABS_avx512, SIGN_avx512, SELECT_LT_avx512)
#endif

void vec_exp(float* x, long n) { PICK_BY_ISA(current_isa(), vec_exp)(x, n); }

void vec_sigmoid(float* x, long n) { PICK_BY_ISA(current_isa(), vec_sigmoid)(x, n); }

namespace {
void apply_act_scalar(int act, float* y, long n) {
    switch (act) {
        case ACT_TANH:
            for (long i = 0; i < n; i++) y[i] = std::tanh(y[i]);
            break;
        case ACT_SIGMOID:
            vec_sigmoid_scalar(y, n);
            break;
        case ACT_SILU:
            for (long i = 0; i < n; i++) y[i] = y[i] * sigmoidf(y[i]);
            break;
        case ACT_RELU_SQ:
            for (long i = 0; i < n; i++) {
                float v = y[i] > 0 ? y[i] : 0.0f;
                y[i] = v * v;
            }
            break;
        default:
            break;
    }
}
}  // namespace

void apply_act(int act, float* y, long lo, long hi) { PICK_BY_ISA(current_isa(), apply_act)(act, y + lo, hi - lo); }


// Norms accumulate in double: a group with a small variance amplifies rounding (GroupNorm
// over 64 values of a near-constant y), and the torch path they are compared with is careful too.
void layer_norm(const float* x, const float* w, const float* b, float* out, int C) {
    double mean = 0;
    for (int i = 0; i < C; i++) mean += x[i];
    mean /= C;
    double var = 0;
    for (int i = 0; i < C; i++) {
        double d = x[i] - mean;
        var += d * d;
    }
    const float inv = float(1.0 / std::sqrt(var / C + LN_EPS)), m = float(mean);
    for (int i = 0; i < C; i++) out[i] = (x[i] - m) * inv * w[i] + b[i];
}


Mat make_mat(const void* w, const void* scale, long rows, long cols, int wtype) {
    Mat m;
    m.w = w;
    if (is_q4_type(wtype)) m.bscale = static_cast<const uint16_t*>(scale);
    else m.scale = static_cast<const float*>(scale);
    m.rows = rows;
    m.cols = cols;
    m.wtype = wtype;
    return m;
}

}  // namespace rwkvcpu

using namespace rwkvcpu;

// ---------------------------------------------------------------------------------------------
// C API (ctypes). Every array is contiguous; every float is fp32 unless a wtype says otherwise.

API int rwkv_cpu_abi_version() { return 16; }

// The decode steps' layouts (layouts.h) as comma-separated names, for ``table`` "rwkv7.layer",
// "rwkv7.dims", "rwkv456.layer", "rwkv456.dims" or "global"; null for any other. Python orders the
// tensors and sizes it hands over by these, so the order is written down once, here.
API const char* rwkv_cpu_table(const char* table) {
    static const struct {
        const char *name, *names;
    } tables[] = {{"rwkv7.layer", RWKV7_LAYER_PTRS(LAYOUT_NAME)},
                  {"rwkv7.dims", RWKV7_DIMS(LAYOUT_NAME)},
                  {"rwkv456.layer", RWKV456_LAYER_PTRS(LAYOUT_NAME)},
                  {"rwkv456.dims", RWKV456_DIMS(LAYOUT_NAME)},
                  {"global", GLOBAL_PTRS(LAYOUT_NAME)}};
    for (const auto& t : tables)
        if (std::strcmp(t.name, table) == 0) return t.names;
    return nullptr;
}

API int rwkv_cpu_isa_max() { return isa_supported_max(); }

API int rwkv_cpu_get_isa() { return current_isa(); }

// Force an instruction set (clamped to what the CPU supports); returns the one now in use.
API int rwkv_cpu_set_isa(int isa) {
    std::lock_guard<std::mutex> lk(g_api);
    int v = std::clamp(isa, 0, isa_supported_max());
    g_isa.store(v);
    return v;
}

// Whether the AVX2 kernels use AVX-VNNI where the CPU has it (on: 1, off: 0); returns the state now
// (0 on a CPU without it). The instruction set itself is rwkv_cpu_set_isa's.
API int rwkv_cpu_set_avx_vnni(int on) {
    std::lock_guard<std::mutex> lk(g_api);
    g_avxvnni.store(on && cpu_has_avx_vnni());
    return g_avxvnni.load();
}

API int rwkv_cpu_get_avx_vnni() { return avx_vnni(ISA_AVX2); }

API int rwkv_cpu_get_threads() {
    std::lock_guard<std::mutex> lk(g_api);
    return pool().size();
}

API void rwkv_cpu_set_threads(int n) {
    std::lock_guard<std::mutex> lk(g_api);
    n = std::max(1, n);
    if (g_pool && g_pool->size() == n) return;
    delete g_pool;
    g_pool = new Pool(n);
}

// y[i] = act(y[i]) for i < n, act an Act (core.h), on the selected instruction set: what the decode
// steps and the prefill apply to a product's output.
API void rwkv_act(int act, float* y, long n) {
    if (n <= 0) return;
    std::lock_guard<std::mutex> lk(g_api);
    apply_act(act, y, 0, n);
}

// y [nb, rows] = x [nb, cols] @ W^T: one batched GEMV, the weights read once for all nb inputs (each
// output row bit-identical to nb = 1's). scale: int8's float per row, or q4's / q5's fp16 per block (as
// make_mat takes it).
API void rwkv_gemv(const void* W, int wtype, const void* scale, long rows, long cols, int nb, const float* x,
                   float* y) {
    if (nb <= 0) return;
    std::lock_guard<std::mutex> lk(g_api);
    MultiGemv g;
    g.nb = nb;
    g.add(make_mat(W, scale, rows, cols, wtype), x, y);
    g.run();
}

// setuptools builds this file as an extension module; the module itself is empty (ctypes loads it).
#if __has_include(<Python.h>) && defined(RWKV_PYTHON_MODULE)
#include <Python.h>
static struct PyModuleDef rwkv_cpu_module = {PyModuleDef_HEAD_INIT, "_rwkv_cpu",
                                             "RWKV Desktop CPU kernels (loaded with ctypes).", -1, nullptr};
PyMODINIT_FUNC PyInit__rwkv_cpu(void) { return PyModule_Create(&rwkv_cpu_module); }
#endif
