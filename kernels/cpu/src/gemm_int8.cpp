// Int8 GEMM for prompts: Y[T, N] = X[T, K] @ W^T, X float32, W our int8 format ([N, K] row-major,
// one float32 scale per output row; see engine/models/packed.py).
//
// Why: dequantising a layer's int8 matrices into an fp32 scratch and running an fp32 GEMM keeps a
// float copy of the layer and runs at fp32 FMA speed; an integer dot-product instruction does 4x
// the multiply-adds of an fp32 FMA of the same width (vpdpbusd: 64 per 512-bit instruction).
//
// The math, the same on every instruction set, bit for bit:
//   each token's row of X is quantised to uint8 with its own scale s_t and zero point z_t, mapping
//   the row's range [min(x, 0), max(x, 0)] onto 0..255 (asymmetric: a relu^2 input, all >= 0, uses
//   all 256 levels, where a symmetric int8 would use 128):
//       u[t,k] = clamp(round(x[t,k] / s_t) + z_t, 0, 255),   so x ~= s_t * (u - z_t);
//   then exact int32 sums acc[t,o] = sum_k u[t,k] * W[o,k], and
//       Y[t,o] = float(acc[t,o] - z_t * rowsum(W[o])) * (s_t * scale[o]).
//   |acc| <= 255 * 128 * K must fit an int32: K <= I8_KMAX.
// The decode GEMV (gemv_int8.cpp) quantises with this file's quantiser (quantize_u8_row) and ends in
// the same expression: a token's row gets the same bits from either.
//
// Layout: the weights are repacked per call, one panel of NR output rows at a time, into the order
// the dot-product instruction reads (for each group of 4 k (bytes, VNNI) or 2 k (int16, vpmaddwd),
// the NR outputs side by side: a transpose, done in registers), and their row sums are taken on the
// way, so nothing is stored per matrix. A panel (NR * K bytes: 48 KiB at K = 768) stays in L1/L2
// while every token runs past it: each weight is read from memory once per call, and the repacking
// costs ~1 % of a 512-token call (measured).
//
// Microkernel: MR tokens x NR outputs of int32 accumulators held in registers; per k group, NR/16
// (NR/8) vector loads of the panel, MR broadcasts of one token's 4 (2) quantised inputs, and
// MR * NR/16 dot-product instructions; then the correction, the scales and the store to Y.
//
// Instruction sets (current_isa(), forced lower with RWKV_CPU_ISA):
//   avx512vnni  vpdpbusd, u8 x s8 -> s32, 6 tokens x 64 outputs.
//   avx512      vpmaddwd on int16 (inputs and weights widened), 4 x 64. vpmaddubsw would take
//               u8 x s8 directly, but its int16 pair sums saturate (2 * 255 * 127 > 32767) and
//               7-bit inputs to avoid that doubled the quantisation error (measured); the int16
//               products cannot overflow, so every path gives the same integers.
//   avx2        the same with 256-bit vectors, 6 x 16; with AVX-VNNI (no AVX-512: Alder Lake and
//               later) vpdpbusd on 256-bit vectors instead, 6 x 16 (gemm_int8 2.0-2.4x faster
//               forced to AVX2 on a Sapphire Rapids).
//   scalar      int16 dot products that the compiler vectorises for the baseline CPU, 4 x 16.

#include "core.h"

#include <cfloat>
#include <limits>

namespace rwkvcpu {
namespace {

// ---------------------------------------------------------------------------------------------
// Quantisation of X, one token's row at a time.

struct RowQuant {
    float s = 1.0f, inv = 1.0f;  // scale and its reciprocal (x * inv, as every path computes it)
    int32_t z = 0;               // zero point, 0..255
    bool zero = false;           // u = 0 for the whole row (all zeros, or not finite)
};

// From the row's range (lo <= 0 <= hi) and whether every value is finite. A row with an inf or a
// NaN gets a NaN scale, so its outputs are NaN as a float GEMM's would be, not silent garbage.
RowQuant row_quant(float lo, float hi, bool finite) {
    RowQuant q;
    const float s = (hi - lo) / 255.0f;
    if (!finite || !(s <= FLT_MAX)) {
        q.s = std::numeric_limits<float>::quiet_NaN();
        q.zero = true;
    } else if (s < 1e-30f) {  // all zeros (or denormal): 1 / s would overflow
        q.zero = true;
    } else {
        q.s = s;
        q.inv = 1.0f / s;
        q.z = int32_t(std::clamp(std::nearbyint(-lo * q.inv), 0.0f, 255.0f));
    }
    return q;
}

// u for one value; the SIMD versions below compute exactly this (x * inv rounded to nearest even
// by the current rounding mode, as cvtps2dq does), so every path quantises alike.
inline int32_t quant_one(float x, const RowQuant& q) {
    const float f = std::clamp(x * q.inv, -512.0f, 512.0f);  // |x * inv| <= 255 for a finite row
    return std::clamp(int32_t(std::nearbyint(f)) + q.z, 0, 255);
}

// One row x[0, K) into q[0, kp): kp >= K, the tail zero. U: uint8_t, or int16_t for vpmaddwd.
template <class U>
void quant_row_scalar(const float* x, long K, long kp, U* q, float* s_out, int32_t* z_out) {
    float lo = 0.0f, hi = 0.0f;
    bool finite = true;
    for (long k = 0; k < K; k++) {
        const float v = x[k];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        finite = finite && std::fabs(v) <= FLT_MAX;
    }
    const RowQuant rq = row_quant(lo, hi, finite);
    for (long k = 0; k < K; k++) q[k] = rq.zero ? U(0) : U(quant_one(x[k], rq));
    for (long k = K; k < kp; k++) q[k] = U(0);
    *s_out = rq.s;
    *z_out = rq.z;
}

#if RWKV_X86
template <class U>
TGT_AVX2 void quant_row_avx2(const float* x, long K, long kp, U* q, float* s_out, int32_t* z_out) {
    const long kv = K - K % 8;
    __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    const __m256 big = _mm256_set1_ps(FLT_MAX), abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (long k = 0; k < kv; k += 8) {
        const __m256 v = _mm256_loadu_ps(x + k);
        vlo = _mm256_min_ps(v, vlo);  // a NaN in v yields the second operand: ignored here
        vhi = _mm256_max_ps(v, vhi);
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_and_ps(v, abs_mask), big, _CMP_NLE_UQ));
    }
    alignas(32) float l8[8], h8[8];
    _mm256_store_ps(l8, vlo);
    _mm256_store_ps(h8, vhi);
    float lo = 0.0f, hi = 0.0f;
    bool finite = _mm256_movemask_ps(bad) == 0;
    for (int i = 0; i < 8; i++) {
        lo = l8[i] < lo ? l8[i] : lo;
        hi = h8[i] > hi ? h8[i] : hi;
    }
    for (long k = kv; k < K; k++) {
        lo = x[k] < lo ? x[k] : lo;
        hi = x[k] > hi ? x[k] : hi;
        finite = finite && std::fabs(x[k]) <= FLT_MAX;
    }
    const RowQuant rq = row_quant(lo, hi, finite);
    long k = 0;
    if (!rq.zero) {
        const __m256 inv = _mm256_set1_ps(rq.inv);
        const __m256i z = _mm256_set1_epi32(rq.z), u8max = _mm256_set1_epi32(255);
        for (; k < kv; k += 8) {
            __m256i i = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k), inv));
            i = _mm256_max_epi32(_mm256_min_epi32(_mm256_add_epi32(i, z), u8max), _mm256_setzero_si256());
            alignas(32) int32_t t[8];
            _mm256_store_si256(reinterpret_cast<__m256i*>(t), i);
            for (int j = 0; j < 8; j++) q[k + j] = U(t[j]);
        }
        for (; k < K; k++) q[k] = U(quant_one(x[k], rq));
    }
    for (; k < kp; k++) q[k] = U(0);
    *s_out = rq.s;
    *z_out = rq.z;
}

template <class U>
TGT_AVX512 void quant_row_avx512(const float* x, long K, long kp, U* q, float* s_out, int32_t* z_out) {
    __m512 vlo = _mm512_setzero_ps(), vhi = _mm512_setzero_ps();
    __mmask16 bad = 0;
    const __m512 big = _mm512_set1_ps(FLT_MAX);
    for (long k = 0; k < K; k += 16) {
        const __mmask16 m = K - k >= 16 ? __mmask16(0xffff) : __mmask16((1u << (K - k)) - 1);
        const __m512 v = _mm512_maskz_loadu_ps(m, x + k);  // masked-off lanes read as 0: in range
        vlo = _mm512_min_ps(v, vlo);
        vhi = _mm512_max_ps(v, vhi);
        bad |= _mm512_cmp_ps_mask(_mm512_abs_ps(v), big, _CMP_NLE_UQ);
    }
    const RowQuant rq = row_quant(_mm512_reduce_min_ps(vlo), _mm512_reduce_max_ps(vhi), bad == 0);
    const __m512 inv = _mm512_set1_ps(rq.zero ? 0.0f : rq.inv);  // 0: a zero row quantises to z = 0
    const __m512i z = _mm512_set1_epi32(rq.z), u8max = _mm512_set1_epi32(255);
    for (long k = 0; k < K; k += 16) {
        const __mmask16 m = K - k >= 16 ? __mmask16(0xffff) : __mmask16((1u << (K - k)) - 1);
        __m512i i = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), inv));
        i = _mm512_max_epi32(_mm512_min_epi32(_mm512_add_epi32(i, z), u8max), _mm512_setzero_si512());
        if constexpr (sizeof(U) == 1) _mm512_mask_cvtepi32_storeu_epi8(q + k, m, i);
        else _mm512_mask_cvtepi32_storeu_epi16(q + k, m, i);
    }
    for (long k = K; k < kp; k++) q[k] = U(0);
    *s_out = rq.s;
    *z_out = rq.z;
}
#endif

// ---------------------------------------------------------------------------------------------
// Weight panels: NR output rows [o0, o0 + rows) repacked for the microkernel, zero beyond the
// matrix (rows < NR at its end, k >= K up to kp), with the rows' int32 sums and float scales.

struct Panel {
    void* w;      // the repacked weights
    int32_t* rs;  // [NR] row sums
    float* sw;    // [NR] row scales
};

// The rows' scales, zero past the matrix's last row (the row sums are taken while packing).
void panel_scales(const float* scale, long rows, int nr, const Panel& p) {
    for (int o = 0; o < nr; o++) p.sw[o] = o < rows ? scale[o] : 0.0f;
}

// The SIMD panels are made of 4-byte units: 4 consecutive k of one output (int8, for vpdpbusd) or
// 2 (widened to int16, for vpmaddwd). The panel is [kp / (k per unit)][NR] units: one unit of
// each of the NR outputs side by side, the vector the microkernel loads. It is a transpose of the
// rows, done 16 x 16 (8 x 8) units at a time in registers: a scalar loop of 4-byte moves took
// ~20 % of a 512-token GEMM and most of a 64-token one.
#if RWKV_X86
// The sum of each 4-byte unit as an int32: its 4 int8, or its 2 int16.
template <bool WIDEN>
TGT_AVX512 __attribute__((always_inline)) inline __m512i unit_sums_avx512(__m512i u) {
    if (WIDEN) return _mm512_madd_epi16(u, _mm512_set1_epi16(1));
    // 4 bytes -> int16 pairs (x 1, exact) -> int32
    const __m512i lo = _mm512_srai_epi16(_mm512_slli_epi16(u, 8), 8), hi = _mm512_srai_epi16(u, 8);
    return _mm512_madd_epi16(_mm512_add_epi16(lo, hi), _mm512_set1_epi16(1));
}

// NR = 64 outputs; WIDEN: 2 k per unit as int16 (vpmaddwd), else 4 k per unit as int8 (vpdpbusd).
template <bool WIDEN>
TGT_AVX512 void pack_avx512(const int8_t* W, const float* scale, long K, long kp, long rows, const Panel& p) {
    constexpr int NR = 64, UB = WIDEN ? 2 : 4;  // UB: bytes of a row per unit
    const long units = kp / UB;
    uint8_t* dst = static_cast<uint8_t*>(p.w);
    panel_scales(scale, rows, NR, p);
    for (int b = 0; b < NR; b += 16) {
        __m512i sums = _mm512_setzero_si512();  // lane i: row b + i
        for (long g = 0; g < units; g += 16) {
            const long left = K - g * UB;  // bytes of each row from unit g on
            __m512i r[16];
            for (int i = 0; i < 16; i++) {
                if (b + i >= rows || left <= 0) {
                    r[i] = _mm512_setzero_si512();
                    continue;
                }
                const int8_t* src = W + (b + i) * K + g * UB;
                if (WIDEN) {
                    const __mmask32 m = left >= 32 ? ~__mmask32(0) : __mmask32((1u << left) - 1);
                    r[i] = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, src));
                } else {
                    const __mmask64 m = left >= 64 ? ~__mmask64(0) : __mmask64((1ull << left) - 1);
                    r[i] = _mm512_maskz_loadu_epi8(m, src);
                }
            }
            transpose16(r);
            const long n = std::min(16L, units - g);
            for (long j = 0; j < n; j++) {
                _mm512_storeu_si512(dst + ((g + j) * NR + b) * 4, r[j]);
                sums = _mm512_add_epi32(sums, unit_sums_avx512<WIDEN>(r[j]));
            }
        }
        _mm512_storeu_si512(p.rs + b, sums);
    }
}

// The same for AVX2: NR = 16 outputs, 2 k per unit as int16, 8 x 8 transposes.
TGT_AVX2 void pack_avx2(const int8_t* W, const float* scale, long K, long kp, long rows, const Panel& p) {
    constexpr int NR = 16;
    const long units = kp / 2;
    uint8_t* dst = static_cast<uint8_t*>(p.w);
    panel_scales(scale, rows, NR, p);
    const __m256i ones = _mm256_set1_epi16(1);
    for (int b = 0; b < NR; b += 8) {
        __m256i sums = _mm256_setzero_si256();  // lane i: row b + i
        for (long g = 0; g < units; g += 8) {
            const long left = K - g * 2;
            __m256i r[8];
            for (int i = 0; i < 8; i++) {
                int8_t tail[16] = {};
                const int8_t* src = tail;
                if (b + i < rows && left >= 16) {
                    src = W + (b + i) * K + g * 2;
                } else if (b + i < rows && left > 0) {  // AVX2 has no masked byte loads
                    std::memcpy(tail, W + (b + i) * K + g * 2, size_t(left));
                }
                r[i] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
            }
            transpose8(r);
            const long n = std::min(8L, units - g);
            for (long j = 0; j < n; j++) {
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + ((g + j) * NR + b) * 4), r[j]);
                sums = _mm256_add_epi32(sums, _mm256_madd_epi16(r[j], ones));
            }
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(p.rs + b), sums);
    }
}

// AVX-VNNI: NR = 16 outputs, 4 k per unit as int8 (vpdpbusd), 8 x 8 transposes of units.
TGT_AVXVNNI void pack_avxvnni(const int8_t* W, const float* scale, long K, long kp, long rows, const Panel& p) {
    constexpr int NR = 16;
    const long units = kp / 4;
    uint8_t* dst = static_cast<uint8_t*>(p.w);
    panel_scales(scale, rows, NR, p);
    const __m256i ones = _mm256_set1_epi8(1);
    for (int b = 0; b < NR; b += 8) {
        __m256i sums = _mm256_setzero_si256();  // lane i: row b + i
        for (long g = 0; g < units; g += 8) {
            const long left = K - g * 4;
            __m256i r[8];
            for (int i = 0; i < 8; i++) {
                int8_t tail[32] = {};
                const int8_t* src = tail;
                if (b + i < rows && left >= 32) {
                    src = W + (b + i) * K + g * 4;
                } else if (b + i < rows && left > 0) {
                    std::memcpy(tail, W + (b + i) * K + g * 4, size_t(left));
                }
                r[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
            }
            transpose8(r);
            const long n = std::min(8L, units - g);
            for (long j = 0; j < n; j++) {
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + ((g + j) * NR + b) * 4), r[j]);
                sums = dpbusd_avx(sums, ones, r[j]);  // each unit's 4 weights added up
            }
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(p.rs + b), sums);
    }
}
#endif

// For the portable path: the rows widened to int16, zero-padded to kp (int16 x int16 dot products
// are what compilers turn into pmaddwd / smlal without being told the instruction set).
template <int NR>
void pack_rows(const int8_t* W, const float* scale, long K, long kp, long rows, const Panel& p) {
    int16_t* dst = static_cast<int16_t*>(p.w);
    panel_scales(scale, rows, NR, p);
    for (int o = 0; o < NR; o++) {
        const int8_t* src = o < rows ? W + o * K : nullptr;
        const long n = src ? K : 0;
        int32_t sum = 0;
        for (long k = 0; k < n; k++) {
            dst[o * kp + k] = src[k];
            sum += src[k];
        }
        for (long k = n; k < kp; k++) dst[o * kp + k] = 0;
        p.rs[o] = sum;
    }
}

// ---------------------------------------------------------------------------------------------
// Microkernels: MR tokens (rows t0.. of the quantised X) against one panel, written to Y.

struct Tile {
    const void* x;    // quantised X at token t0: rows of kp values, ldx apart
    long ldx, kp;
    const void* w;    // the panel
    const int32_t* rs;
    const float* sw;
    const float* xs;  // token t0's scale, zero point
    const int32_t* xz;
    float* y;         // Y at (t0, o0), rows ldy apart
    long ldy;
    int ncols;        // outputs of the panel inside the matrix (NR, or fewer in the last panel)
};

typedef void (*TileFn)(const Tile&);

inline int32_t load_i32(const void* p) {  // 4 bytes of X: one broadcast operand
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// Not SIMD_REDUCE: with it GCC 12 multiplies in int32 (pmulld); without, it finds pmaddwd.
template <int MR>
void tile_scalar(const Tile& a) {
    const int16_t* x = static_cast<const int16_t*>(a.x);
    const int16_t* wp = static_cast<const int16_t*>(a.w);
    for (int o = 0; o < a.ncols; o++) {
        const int16_t* w = wp + o * a.kp;
        for (int m = 0; m < MR; m++) {
            const int16_t* xm = x + m * a.ldx;
            int32_t acc = 0;
            for (long k = 0; k < a.kp; k++) acc += xm[k] * w[k];
            a.y[m * a.ldy + o] = float(acc - a.xz[m] * a.rs[o]) * (a.xs[m] * a.sw[o]);
        }
    }
}

#if RWKV_X86
// One token's row of the tile: correction, scales, store (masked where the panel passes the matrix).
// The accumulators come by value: an array whose address escapes is kept in memory (GCC 12).
TGT_AVX512 __attribute__((always_inline)) inline void store_row_avx512(__m512i a0, __m512i a1, __m512i a2,
                                                                        __m512i a3, const Tile& a, int m) {
    const __m512i acc[4] = {a0, a1, a2, a3};
    const __m512i z = _mm512_set1_epi32(a.xz[m]);
    const __m512 s = _mm512_set1_ps(a.xs[m]);
    float* y = a.y + m * a.ldy;
    PRAGMA(GCC unroll 4)
    for (int j = 0; j < 4; j++) {
        const __m512i rs = _mm512_loadu_si512(a.rs + 16 * j);
        const __m512i r = _mm512_sub_epi32(acc[j], _mm512_mullo_epi32(z, rs));
        const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(r), _mm512_mul_ps(s, _mm512_loadu_ps(a.sw + 16 * j)));
        const int n = std::clamp(a.ncols - 16 * j, 0, 16);
        if (n == 16) _mm512_storeu_ps(y + 16 * j, v);
        else if (n > 0) _mm512_mask_storeu_ps(y + 16 * j, __mmask16((1u << n) - 1), v);
    }
}

// The accumulators are named variables, c<row><vector>, written out by these macros for rows 0..5:
// GCC 12 keeps a 2-D array of vectors in memory and stores it on every step of the k loop.
#define FOR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define ZERO4(m) [[maybe_unused]] __m512i c##m##0 = zero, c##m##1 = zero, c##m##2 = zero, c##m##3 = zero;
#define STORE4(m)                                                                                  \
    if constexpr (m < MR) store_row_avx512(c##m##0, c##m##1, c##m##2, c##m##3, a, m);

#define DPBUSD4(m)                                                                                 \
    if constexpr (m < MR) {                                                                        \
        const __m512i b = _mm512_set1_epi32(load_i32(x + m * a.ldx + k));                          \
        c##m##0 = dpbusd(c##m##0, b, w0);                                                          \
        c##m##1 = dpbusd(c##m##1, b, w1);                                                          \
        c##m##2 = dpbusd(c##m##2, b, w2);                                                          \
        c##m##3 = dpbusd(c##m##3, b, w3);                                                          \
    }

template <int MR>
TGT_AVX512VNNI void tile_vnni(const Tile& a) {
    const uint8_t* x = static_cast<const uint8_t*>(a.x);
    const int8_t* w = static_cast<const int8_t*>(a.w);
    const __m512i zero = _mm512_setzero_si512();
    FOR_ROWS(ZERO4)
    for (long k = 0; k < a.kp; k += 4, w += 256) {
        const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 64);
        const __m512i w2 = _mm512_loadu_si512(w + 128), w3 = _mm512_loadu_si512(w + 192);
        FOR_ROWS(DPBUSD4)
    }
    FOR_ROWS(STORE4)
}

// vpmaddwd: each int32 lane gains 2 products of the token's 2 inputs and one output's 2 weights (int16).
#define MADD4(m)                                                                                   \
    if constexpr (m < MR) {                                                                        \
        const __m512i b = _mm512_set1_epi32(load_i32(x + m * a.ldx + k));                          \
        c##m##0 = _mm512_add_epi32(c##m##0, _mm512_madd_epi16(b, w0));                             \
        c##m##1 = _mm512_add_epi32(c##m##1, _mm512_madd_epi16(b, w1));                             \
        c##m##2 = _mm512_add_epi32(c##m##2, _mm512_madd_epi16(b, w2));                             \
        c##m##3 = _mm512_add_epi32(c##m##3, _mm512_madd_epi16(b, w3));                             \
    }

template <int MR>
TGT_AVX512 void tile_avx512(const Tile& a) {
    const int16_t* x = static_cast<const int16_t*>(a.x);
    const int16_t* w = static_cast<const int16_t*>(a.w);
    const __m512i zero = _mm512_setzero_si512();
    FOR_ROWS(ZERO4)
    for (long k = 0; k < a.kp; k += 2, w += 128) {
        const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 32);
        const __m512i w2 = _mm512_loadu_si512(w + 64), w3 = _mm512_loadu_si512(w + 96);
        FOR_ROWS(MADD4)
    }
    FOR_ROWS(STORE4)
}

TGT_AVX2 __attribute__((always_inline)) inline void store_row_avx2(__m256i a0, __m256i a1, const Tile& a, int m) {
    const __m256i acc[2] = {a0, a1};
    const __m256i z = _mm256_set1_epi32(a.xz[m]);
    const __m256 s = _mm256_set1_ps(a.xs[m]);
    float* y = a.y + m * a.ldy;
    for (int j = 0; j < 2; j++) {
        const __m256i rs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.rs + 8 * j));
        const __m256i r = _mm256_sub_epi32(acc[j], _mm256_mullo_epi32(z, rs));
        const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(r), _mm256_mul_ps(s, _mm256_loadu_ps(a.sw + 8 * j)));
        const int n = std::clamp(a.ncols - 8 * j, 0, 8);
        if (n == 8) {
            _mm256_storeu_ps(y + 8 * j, v);
        } else if (n > 0) {
            const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            _mm256_maskstore_ps(y + 8 * j, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane), v);
        }
    }
}

#define ZERO2(m) [[maybe_unused]] __m256i c##m##0 = zero, c##m##1 = zero;
#define STORE2(m)                                                                                  \
    if constexpr (m < MR) store_row_avx2(c##m##0, c##m##1, a, m);
#define MADD2(m)                                                                                   \
    if constexpr (m < MR) {                                                                        \
        const __m256i b = _mm256_set1_epi32(load_i32(x + m * a.ldx + k));                          \
        c##m##0 = _mm256_add_epi32(c##m##0, _mm256_madd_epi16(b, w0));                             \
        c##m##1 = _mm256_add_epi32(c##m##1, _mm256_madd_epi16(b, w1));                             \
    }

// AVX-VNNI: vpdpbusd on the token's 4 u8 inputs and one output's 4 weights per lane: the same int32
// sums as vpmaddwd's, in one instruction a step instead of one per 2 k (and no widening).
#define DPBUSD2(m)                                                                                 \
    if constexpr (m < MR) {                                                                        \
        const __m256i b = _mm256_set1_epi32(load_i32(x + m * a.ldx + k));                          \
        c##m##0 = dpbusd_avx(c##m##0, b, w0);                                                      \
        c##m##1 = dpbusd_avx(c##m##1, b, w1);                                                      \
    }

template <int MR>
TGT_AVXVNNI void tile_avxvnni(const Tile& a) {
    const uint8_t* x = static_cast<const uint8_t*>(a.x);
    const int8_t* w = static_cast<const int8_t*>(a.w);
    const __m256i zero = _mm256_setzero_si256();
    FOR_ROWS(ZERO2)
    for (long k = 0; k < a.kp; k += 4, w += 64) {
        const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
        const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32));
        FOR_ROWS(DPBUSD2)
    }
    FOR_ROWS(STORE2)
}

template <int MR>
TGT_AVX2 void tile_avx2(const Tile& a) {
    const int16_t* x = static_cast<const int16_t*>(a.x);
    const int16_t* w = static_cast<const int16_t*>(a.w);
    const __m256i zero = _mm256_setzero_si256();
    FOR_ROWS(ZERO2)
    for (long k = 0; k < a.kp; k += 2, w += 32) {
        const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
        const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16));
        FOR_ROWS(MADD2)
    }
    FOR_ROWS(STORE2)
}
#endif

// ---------------------------------------------------------------------------------------------
// One instruction set's pieces, and the driver that runs any of them.

constexpr int MR_MAX = 6;

struct Kernels {
    int nr, mr;         // panel width (outputs), tile height (tokens)
    int xsize, psize;   // bytes per quantised input, per repacked weight
    void (*quant_row)(const float* x, long K, long kp, void* q, float* s, int32_t* z);
    void (*pack)(const int8_t* W, const float* scale, long K, long kp, long rows, const Panel& p);
    TileFn tile[MR_MAX + 1];  // tile[m]: m tokens, 1 <= m <= mr
};

template <class U, void (*F)(const float*, long, long, U*, float*, int32_t*)>
void quant_erased(const float* x, long K, long kp, void* q, float* s, int32_t* z) {
    F(x, K, kp, static_cast<U*>(q), s, z);
}

const Kernels& kernels_for(int isa) {
    static const Kernels scalar = {16, 4, 2, 2, quant_erased<int16_t, quant_row_scalar<int16_t>>, pack_rows<16>,
                                   {nullptr, tile_scalar<1>, tile_scalar<2>, tile_scalar<3>, tile_scalar<4>}};
#if RWKV_X86
    static const Kernels avx2 = {16, 6, 2, 2, quant_erased<int16_t, quant_row_avx2<int16_t>>, pack_avx2,
                                 {nullptr, tile_avx2<1>, tile_avx2<2>, tile_avx2<3>, tile_avx2<4>, tile_avx2<5>,
                                  tile_avx2<6>}};
    static const Kernels avx512 = {64, 4, 2, 2, quant_erased<int16_t, quant_row_avx512<int16_t>>, pack_avx512<true>,
                                   {nullptr, tile_avx512<1>, tile_avx512<2>, tile_avx512<3>, tile_avx512<4>}};
    static const Kernels vnni = {64, 6, 1, 1, quant_erased<uint8_t, quant_row_avx512<uint8_t>>, pack_avx512<false>,
                                 {nullptr, tile_vnni<1>, tile_vnni<2>, tile_vnni<3>, tile_vnni<4>, tile_vnni<5>,
                                  tile_vnni<6>}};
    static const Kernels avxvnni = {16, 6, 1, 1, quant_erased<uint8_t, quant_row_avx2<uint8_t>>, pack_avxvnni,
                                    {nullptr, tile_avxvnni<1>, tile_avxvnni<2>, tile_avxvnni<3>, tile_avxvnni<4>,
                                     tile_avxvnni<5>, tile_avxvnni<6>}};
    if (isa == ISA_AVX512_VNNI) return vnni;
    if (isa == ISA_AVX512) return avx512;
    if (isa == ISA_AVX2) return avx_vnni(isa) ? avxvnni : avx2;
#endif
    (void)isa;
    return scalar;
}

// Buffers that grow once and are reused (callers hold g_api): the quantised X and each thread's panel.
std::vector<uint8_t> g_xq;
std::vector<float> g_xs;
std::vector<int32_t> g_xz;
std::vector<std::vector<uint8_t>> g_panels;

inline uint8_t* align64(uint8_t* p) { return p + (-reinterpret_cast<uintptr_t>(p) & 63); }

Panel panel_buffer(int tid, const Kernels& kn, long kp) {
    const size_t wbytes = (size_t(kn.nr) * kp * kn.psize + 63) & ~size_t(63);
    auto& buf = g_panels[tid];
    if (buf.size() < wbytes + 8 * size_t(kn.nr) + 64) buf.resize(wbytes + 8 * size_t(kn.nr) + 64);
    uint8_t* base = align64(buf.data());
    return Panel{base, reinterpret_cast<int32_t*>(base + wbytes), reinterpret_cast<float*>(base + wbytes + 4 * kn.nr)};
}

struct Gemm {
    long T, K, N, kp;
    const float* x;
    const int8_t* W;
    const float* scale;
    float* y;
    const Kernels* kn;
    long panels, tchunks;  // work items: (panel, chunk of tokens), panel-major
    mutable std::atomic<long> next{0};

    // Work items are taken in turn (a descheduled helper's share goes to the others); a thread
    // repacks only when its next item is another panel.
    void multiply(int tid) const {
        const Kernels& k = *kn;
        const Panel p = panel_buffer(tid, k, kp);
        long packed = -1;
        for (long i; (i = next.fetch_add(1, std::memory_order_relaxed)) < panels * tchunks;) {
            const long pi = i / tchunks, c = i % tchunks, o0 = pi * k.nr;
            if (pi != packed) {
                k.pack(W + o0 * K, scale + o0, K, kp, std::min<long>(k.nr, N - o0), p);
                packed = pi;
            }
            const long t0 = token_bound(c), t1 = token_bound(c + 1);
            Tile a{nullptr, kp, kp, p.w, p.rs, p.sw, nullptr, nullptr, nullptr, N, int(std::min<long>(k.nr, N - o0))};
            for (long t = t0; t < t1; t += k.mr) {
                const int m = int(std::min<long>(k.mr, t1 - t));
                a.x = g_xq.data() + t * kp * k.xsize;
                a.xs = g_xs.data() + t;
                a.xz = g_xz.data() + t;
                a.y = y + t * N + o0;
                k.tile[m](a);
            }
        }
    }
    long token_bound(long c) const {  // chunk edges on whole tiles
        return c == tchunks ? T : (T * c / tchunks) / kn->mr * kn->mr;
    }
};

void quantize_x(const Kernels& kn, long T, long K, long kp, const float* x) {
    if (g_xq.size() < size_t(T * kp * kn.xsize)) g_xq.resize(size_t(T * kp * kn.xsize));
    if (g_xs.size() < size_t(T)) g_xs.resize(size_t(T)), g_xz.resize(size_t(T));
    std::atomic<long> next{0};
    const long rows_per = std::max(1L, 16384 / std::max(K, 1L));  // ~16k values per item
    auto job = [&](int, int) {
        for (long t0; (t0 = next.fetch_add(rows_per, std::memory_order_relaxed)) < T;)
            for (long t = t0; t < std::min(T, t0 + rows_per); t++)
                kn.quant_row(x + t * K, K, kp, g_xq.data() + t * kp * kn.xsize, &g_xs[t], &g_xz[t]);
    };
    parallel(job);
}

}  // namespace

// The rows' quantiser for other files (core.h): the current instruction set's, which all round alike.
void quantize_u8_row(int isa, const float* x, long K, long kp, uint8_t* q, float* s, int32_t* z) {
#if RWKV_X86
    if (isa >= ISA_AVX512) return quant_row_avx512<uint8_t>(x, K, kp, q, s, z);
    if (isa == ISA_AVX2) return quant_row_avx2<uint8_t>(x, K, kp, q, s, z);
#endif
    (void)isa;
    quant_row_scalar<uint8_t>(x, K, kp, q, s, z);
}
void quantize_u8_row(int isa, const float* x, long K, long kp, int16_t* q, float* s, int32_t* z) {
#if RWKV_X86
    if (isa >= ISA_AVX512) return quant_row_avx512<int16_t>(x, K, kp, q, s, z);
    if (isa == ISA_AVX2) return quant_row_avx2<int16_t>(x, K, kp, q, s, z);
#endif
    (void)isa;
    quant_row_scalar<int16_t>(x, K, kp, q, s, z);
}

}  // namespace rwkvcpu

using namespace rwkvcpu;

namespace rwkvcpu {

int gemm_i8_rows(long T, long K, long N, const float* x, const int8_t* W, const float* scale, float* y) {
    if (T < 0 || K < 0 || N < 0 || K > I8_KMAX) return -1;
    if (T == 0 || N == 0) return 0;
    const Kernels& kn = kernels_for(current_isa());
    const long kp = (K + 3) / 4 * 4;
    quantize_x(kn, T, K, kp, x);
    Gemm g{T, K, N, kp, x, W, scale, y, &kn, (N + kn.nr - 1) / kn.nr, 1};
    const int nth = pool().size();
    // Enough items for every thread to stay busy: split tokens too when panels are few.
    const long tiles = (T + kn.mr - 1) / kn.mr;
    g.tchunks = std::clamp((4L * nth + g.panels - 1) / g.panels, 1L, tiles);
    if (g_panels.size() < size_t(nth)) g_panels.resize(size_t(nth));
    auto job = [&](int tid, int) { g.multiply(tid); };
    parallel(job);
    return 0;
}

}  // namespace rwkvcpu

// y [T, N] = x [T, K] @ W^T for W int8 [N, K] with scale [N] (see the top of this file); every array
// contiguous. Returns 0, or -1 when K is over I8_KMAX (int32 sums could overflow) or a size is negative.
API int rwkv_gemm_i8(long T, long K, long N, const float* x, const int8_t* W, const float* scale, float* y) {
    std::lock_guard<std::mutex> lk(g_api);
    return gemm_i8_rows(T, K, N, x, W, scale, y);
}

// The quantisation rwkv_gemm_i8 applies to x [T, K]: q [T, K] uint8, scale [T], zero point [T].
API void rwkv_quantize_u8(long T, long K, const float* x, uint8_t* q, float* scale, int32_t* zero) {
    std::lock_guard<std::mutex> lk(g_api);
    const int isa = current_isa();
    for (long t = 0; t < T; t++) quantize_u8_row(isa, x + t * K, K, K, q + t * K, scale + t, zero + t);
}
