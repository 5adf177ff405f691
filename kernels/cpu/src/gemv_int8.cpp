// int8 weights (engine/models/packed.py: [rows, cols] row-major, one float scale per output row)
// times float inputs, one or a batch of them: the decode steps' GEMV (MultiGemv, core.h).
//
// The math is the int8 prompt GEMM's (gemm_int8.cpp), on every instruction set: each input is
// quantised to uint8 u with its own scale s and zero point z by that file's quantiser
// (quantize_u8_row), the products are summed exactly in int32, and
//     y[o] = float(sum_k (u[k] - z) * W[o, k]) * (s * scale[o]),
// the GEMM's final expression. So every instruction set, every batch size and the prompt GEMM give
// the same bits for the same input row. The sums fit an int32 for cols <= I8_KMAX (core.h).
//
// Instruction sets:
//   avx512vnni  vpdpbusd (u8 inputs x s8 weights, 64 multiply-adds an instruction) on a register
//               tile of R rows x NI inputs: a k-step loads R weight vectors and NI input vectors
//               for R * NI instructions, and one more per weight vector against a vector of ones
//               takes the row sums that the zero points need (sum_k u W - z sum_k W).
//   avx2 with AVX-VNNI  vpdpbusd on 256-bit vectors, one row x up to 4 inputs (the row sums too).
//   avx512 / avx2  the inputs as int16 u - z (|u - z| <= 255) and vpmaddwd on the weights widened
//               to int16, one row x up to 4 inputs.
//   scalar      int32 dot products of int16 u - z and the int8 weights, which compilers vectorise.

#include "core.h"

namespace rwkvcpu {

std::vector<uint8_t> g_i8q[8];
std::vector<float> g_i8s[8];
std::vector<int32_t> g_i8z[8];

// nb inputs, input b at x + b * xstride, into the buffers (grown to the largest batch, once) and `in`.
void quantize_i8_inputs(int isa, const float* x, long xstride, int nb, long cols, std::vector<uint8_t>& q,
                        std::vector<float>& s, std::vector<int32_t>& z, I8In& in) {
    const long kp = i8_padded(cols);
    const bool u8 = isa == ISA_AVX512_VNNI || avx_vnni(isa);
    const size_t bytes = size_t(nb) * size_t(kp) * (u8 ? 1 : 2);
    if (q.size() < bytes) q.resize(bytes);
    if (s.size() < size_t(nb)) s.resize(size_t(nb)), z.resize(size_t(nb));
    // Only a prompt's worth (rwkv_gemv with many rows) in parallel: a decode batch's few µs are not
    // worth a parallel region, whose wait for a descheduled helper on a busy machine is not short.
    std::atomic<int> next{0};
    auto job = [&](int, int) {
        for (int b; (b = next.fetch_add(1, std::memory_order_relaxed)) < nb;) {
            if (u8) {
                quantize_u8_row(isa, x + b * xstride, cols, kp, q.data() + b * kp, &s[size_t(b)], &z[size_t(b)]);
                continue;
            }
            int16_t* d = reinterpret_cast<int16_t*>(q.data()) + b * kp;
            quantize_u8_row(isa, x + b * xstride, cols, kp, d, &s[size_t(b)], &z[size_t(b)]);
            const int16_t zb = int16_t(z[size_t(b)]);
            for (long k = 0; k < cols; k++) d[k] = int16_t(d[k] - zb);  // the tail stays 0
        }
    };
    if (long(nb) * cols >= (1L << 18)) parallel(job);
    else job(0, 1);
    in = I8In{q.data(), s.data(), z.data(), kp};
}

namespace {

// The final expression (as gemm_int8.cpp's store): acc = sum_k (u[k] - z) * W[o, k], exact.
inline float i8_out(int32_t acc, float s, float scale) { return float(acc) * (s * scale); }

// Portable: int16 u - z times the int8 weights. Not SIMD_REDUCE: with it GCC 12 multiplies in int32
// (pmulld); without, it finds pmaddwd (gemm_int8.cpp's tile_scalar says the same).
template <int NI>
void gemv_i8_scalar(const int8_t* W, const float* scale, long cols, const I8In& x, int b0, float* y, long ystride,
                    long r0, long r1) {
    const int16_t* xq = static_cast<const int16_t*>(x.q) + b0 * x.kp;
    for (long o = r0; o < r1; o++) {
        const int8_t* w = W + o * cols;
        for (int n = 0; n < NI; n++) {
            const int16_t* xn = xq + n * x.kp;
            int32_t acc = 0;
            for (long k = 0; k < cols; k++) acc += xn[k] * w[k];
            y[n * ystride + o] = i8_out(acc, x.s[b0 + n], scale[o]);
        }
    }
}

#if RWKV_X86
// ---------------------------------------------------------------------------------------------
// avx512 / avx2 without VNNI: one row at a time, each weight vector widened to int16 once and
// multiplied with up to 4 inputs (vpmaddwd: pairs of int16 products into int32 lanes, exact:
// 2 * 255 * 128 per pair). A row's last cols % WIDTH weights are one more step, zero-padded (the
// inputs are zero past cols too).

TGT_AVX512 inline __m512i ldw32(const int8_t* p) {
    return _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
TGT_AVX512 inline __m512i ldw32_tail(const int8_t* p, long n) {
    return _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(__mmask32((1ull << n) - 1), p));
}
TGT_AVX2 inline __m256i ldw16(const int8_t* p) {
    return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
TGT_AVX2 inline __m256i ldw16_tail(const int8_t* p, long n) {
    int8_t t[16] = {};  // AVX2 has no masked byte loads
    std::memcpy(t, p, size_t(n));
    return ldw16(t);
}
TGT_AVX2 inline int32_t hsum_epi32_avx2(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}
TGT_AVX512 inline int32_t hsum_epi32_avx512(__m512i v) {
    return hsum_epi32_avx2(_mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)));
}

// The weights are prefetched into L2 I8_PREFETCH bytes ahead of where a row is read (one line per 64
// bytes): on AVX2 a core alone left to the hardware prefetchers read ~27 GB/s of int8 (the 0.4B int8
// step 44.7 -> 56.8 tok/s on one thread; level on two, where the bandwidth is the limit). A VNNI
// tile's R rows are R streams cols bytes apart, which the hardware prefetchers follow badly: it
// asks for the bytes I8_PREFETCH ahead of its start, as many per k-step as it reads (R lines), so
// that together the tiles prefetch one sequential stream through a thread's rows (as the fp32
// tiles do, rwkv_cpu.cpp).
constexpr long I8_PREFETCH = 16384;
#define DEFINE_I8_MADD(NAME, TGT, IVEC, WIDTH, ZERO, LOADX, LOADW, TAILW, MADD, ADD, HSUM)                  \
    template <int NI>                                                                                   \
    TGT void NAME(const int8_t* W, const float* scale, long cols, const I8In& x, int b0, float* y,       \
                  long ystride, long r0, long r1) {                                                     \
        const int16_t* xq = static_cast<const int16_t*>(x.q) + b0 * x.kp;                               \
        const long cv = cols - cols % WIDTH;                                                            \
        for (long o = r0; o < r1; o++) {                                                                \
            const int8_t* w = W + o * cols;                                                             \
            const char* pf = reinterpret_cast<const char*>(w) + I8_PREFETCH;                            \
            IVEC a[NI], c[NI];                                                                          \
            for (int n = 0; n < NI; n++) a[n] = c[n] = ZERO;                                            \
            long i = 0;                                                                                 \
            for (; i + 2 * WIDTH <= cv; i += 2 * WIDTH) {                                               \
                if ((i & 63) == 0) _mm_prefetch(pf + i, _MM_HINT_T1);                                   \
                const IVEC w0 = LOADW(w + i), w1 = LOADW(w + i + WIDTH);                                \
                for (int n = 0; n < NI; n++) {                                                          \
                    a[n] = ADD(a[n], MADD(w0, LOADX(xq + n * x.kp + i)));                               \
                    c[n] = ADD(c[n], MADD(w1, LOADX(xq + n * x.kp + i + WIDTH)));                       \
                }                                                                                       \
            }                                                                                           \
            for (; i < cols; i += WIDTH) {                                                              \
                const IVEC w0 = i < cv ? LOADW(w + i) : TAILW(w + i, cols - i);                         \
                for (int n = 0; n < NI; n++) a[n] = ADD(a[n], MADD(w0, LOADX(xq + n * x.kp + i)));      \
            }                                                                                           \
            for (int n = 0; n < NI; n++)                                                                \
                y[n * ystride + o] = i8_out(HSUM(ADD(a[n], c[n])), x.s[b0 + n], scale[o]);              \
        }                                                                                               \
    }

TGT_AVX512 inline __m512i ldx32(const int16_t* p) { return _mm512_loadu_si512(p); }
TGT_AVX2 inline __m256i ldx16(const int16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

DEFINE_I8_MADD(gemv_i8_avx512, TGT_AVX512, __m512i, 32, _mm512_setzero_si512(), ldx32, ldw32, ldw32_tail,
               _mm512_madd_epi16, _mm512_add_epi32, hsum_epi32_avx512)
DEFINE_I8_MADD(gemv_i8_avx2, TGT_AVX2, __m256i, 16, _mm256_setzero_si256(), ldx16, ldw16, ldw16_tail,
               _mm256_madd_epi16, _mm256_add_epi32, hsum_epi32_avx2)

// ---------------------------------------------------------------------------------------------
// AVX2 with AVX-VNNI: the VNNI tiles' math on 256-bit vectors, one row x up to 4 inputs: u8 inputs,
// vpdpbusd on the int8 weights as they lie (no widening), the row's sum by vpdpbusd with ones for
// the zero points; two accumulators a chain (64 bytes a step), as the vpmaddwd version above.
template <int NI>
TGT_AVXVNNI void gemv_i8_avxvnni(const int8_t* W, const float* scale, long cols, const I8In& x, int b0, float* y,
                                 long ystride, long r0, long r1) {
    const uint8_t* xq = static_cast<const uint8_t*>(x.q) + b0 * x.kp;
    const __m256i ones = _mm256_set1_epi8(1), zero = _mm256_setzero_si256();
    const long cv = cols - cols % 64;
    for (long o = r0; o < r1; o++) {
        const int8_t* w = W + o * cols;
        const char* pf = reinterpret_cast<const char*>(w) + I8_PREFETCH;
        __m256i a[NI], c[NI], ra = zero, rc = zero;
        for (int n = 0; n < NI; n++) a[n] = c[n] = zero;
        for (long i = 0; i < cols; i += 64) {
            __m256i w0, w1;
            if (i < cv) {
                w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i));
                w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i + 32));
                _mm_prefetch(pf + i, _MM_HINT_T1);
            } else {  // the last cols % 64: zero weights (the inputs are zero there too)
                int8_t t[64] = {};
                std::memcpy(t, w + i, size_t(cols - i));
                w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t));
                w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 32));
            }
            ra = dpbusd_avx(ra, ones, w0);
            rc = dpbusd_avx(rc, ones, w1);
            for (int n = 0; n < NI; n++) {
                const uint8_t* xn = xq + n * x.kp + i;
                a[n] = dpbusd_avx(a[n], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xn)), w0);
                c[n] = dpbusd_avx(c[n], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xn + 32)), w1);
            }
        }
        const uint32_t rsum = uint32_t(hsum_epi32_avx2(_mm256_add_epi32(ra, rc)));
        for (int n = 0; n < NI; n++)  // unsigned: wraps where z * rowsum alone would pass int32
            y[n * ystride + o] = i8_out(int32_t(uint32_t(hsum_epi32_avx2(_mm256_add_epi32(a[n], c[n]))) -
                                                uint32_t(x.z[b0 + n]) * rsum),
                                        x.s[b0 + n], scale[o]);
    }
}

// ---------------------------------------------------------------------------------------------
// avx512vnni: a register tile of R rows x NI inputs, one int32 accumulator vector per (row, input)
// and one per row for its sum (vpdpbusd of ones and the weights, shared by the NI inputs).

// out[j] = the sum of a[j]'s lanes for j < M <= 16, together: lanes i and i + 8 first, then i and
// i + 4, i and i + 2, i and i + 1, each level adding the halves of two accumulators' partial sums
// in one instruction (15 additions for 16 accumulators, not 4 each).
#define SHUF_PS(u, v, imm) _mm512_castps_si512(_mm512_shuffle_ps(_mm512_castsi512_ps(u), _mm512_castsi512_ps(v), imm))
template <int M>
TGT_AVX512 __attribute__((always_inline)) inline void reduce16_epi32(const __m512i* a, int32_t* out) {
    const __m512i z = _mm512_setzero_si512();
    __m512i l1[8], l2[4], l3[2];
    PRAGMA(GCC unroll 8)
    for (int p = 0; p < 8; p++) {
        const __m512i u = 2 * p < M ? a[2 * p] : z, v = 2 * p + 1 < M ? a[2 * p + 1] : z;
        l1[p] = 2 * p < M ? _mm512_add_epi32(_mm512_shuffle_i32x4(u, v, 0x44), _mm512_shuffle_i32x4(u, v, 0xEE)) : z;
    }
    PRAGMA(GCC unroll 4)
    for (int q = 0; q < 4; q++)  // 128-bit lane j: accumulator 4 q + j
        l2[q] = 4 * q < M ? _mm512_add_epi32(_mm512_shuffle_i32x4(l1[2 * q], l1[2 * q + 1], 0x88),
                                             _mm512_shuffle_i32x4(l1[2 * q], l1[2 * q + 1], 0xDD))
                          : z;
    PRAGMA(GCC unroll 2)
    for (int h = 0; h < 2; h++)
        l3[h] = 8 * h < M ? _mm512_add_epi32(SHUF_PS(l2[2 * h], l2[2 * h + 1], 0x44),
                                             SHUF_PS(l2[2 * h], l2[2 * h + 1], 0xEE))
                          : z;
    alignas(64) int32_t t[16];  // lane 4 j + k: accumulator 4 k + j
    _mm512_store_si512(t, _mm512_add_epi32(SHUF_PS(l3[0], l3[1], 0x88), SHUF_PS(l3[0], l3[1], 0xDD)));
    for (int m = 0; m < M; m++) out[m] = t[(m % 4) * 4 + m / 4];
}
template <int N>
TGT_AVX512 __attribute__((always_inline)) inline void reduce_epi32(const __m512i* a, int32_t* out) {
    if constexpr (N > 16) {
        reduce16_epi32<16>(a, out);
        reduce_epi32<N - 16>(a + 16, out + 16);
    } else {
        reduce16_epi32<N>(a, out);
    }
}


template <int R, int NI>
TGT_AVX512VNNI inline void tile_vnni(const int8_t* w, long cols, const uint8_t* x, long kp, const float* xs,
                                     const int32_t* xz, const float* scale, float* y, long ystride) {
    const char* pf = reinterpret_cast<const char*>(w) + I8_PREFETCH;
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i acc[R * NI + R];  // (row r, input n) at r * NI + n, then the R row sums
    PRAGMA(GCC unroll 64)
    for (int j = 0; j < R * NI + R; j++) acc[j] = _mm512_setzero_si512();
    const long cv = cols - cols % 64;
    for (long i = 0; i < cols; i += 64) {
        __m512i wv[R];
        if (i < cv) {
            PRAGMA(GCC unroll 16)
            for (int r = 0; r < R; r++) wv[r] = _mm512_loadu_si512(w + r * cols + i);
            PRAGMA(GCC unroll 16)
            for (int r = 0; r < R; r++) _mm_prefetch(pf + (i * R + 64 * r), _MM_HINT_T1);
        } else {  // the last cols % 64: zero weights (the inputs are zero there too)
            const __mmask64 m = (~0ull) >> (64 - (cols - cv));
            for (int r = 0; r < R; r++) wv[r] = _mm512_maskz_loadu_epi8(m, w + r * cols + i);
        }
        PRAGMA(GCC unroll 16)
        for (int r = 0; r < R; r++) acc[R * NI + r] = dpbusd(acc[R * NI + r], ones, wv[r]);
        PRAGMA(GCC unroll 16)
        for (int n = 0; n < NI; n++) {
            __m512i xv = _mm512_loadu_si512(x + n * kp + i);
            IN_REGISTER(xv);
            PRAGMA(GCC unroll 16)
            for (int r = 0; r < R; r++) acc[r * NI + n] = dpbusd(acc[r * NI + n], xv, wv[r]);
        }
    }
    int32_t t[R * NI + R];
    reduce_epi32<R * NI + R>(acc, t);
    for (int r = 0; r < R; r++)
        for (int n = 0; n < NI; n++)  // unsigned: wraps where z * rowsum alone would pass int32
            y[n * ystride + r] = i8_out(int32_t(uint32_t(t[r * NI + n]) - uint32_t(xz[n]) * uint32_t(t[R * NI + r])),
                                        xs[n], scale[r]);
}

template <int R, int NI>
TGT_AVX512VNNI void gemv_i8_vnni(const int8_t* W, const float* scale, long cols, const I8In& x, int b0, float* y,
                                 long ystride, long r0, long r1) {
    const uint8_t* xq = static_cast<const uint8_t*>(x.q) + b0 * x.kp;
    const float* xs = x.s + b0;
    const int32_t* xz = x.z + b0;
    long o = r0;
    for (; o + R <= r1; o += R) tile_vnni<R, NI>(W + o * cols, cols, xq, x.kp, xs, xz, scale + o, y + o, ystride);
    if constexpr (R > 2) {
        if (o + 2 <= r1) {
            tile_vnni<2, NI>(W + o * cols, cols, xq, x.kp, xs, xz, scale + o, y + o, ystride);
            o += 2;
        }
    }
    for (; o < r1; o++) tile_vnni<1, NI>(W + o * cols, cols, xq, x.kp, xs, xz, scale + o, y + o, ystride);
}
#endif

// Tile shapes (avx512vnni): one input (decode, memory-bound) VNNI_R1 rows (one stream: the 1.5B int8
// step 1.08x 2 rows on a Sapphire Rapids VM, 0.4B / 0.1B level); a batch VNNI_R rows x up to VNNI_NI
// inputs: R * NI + R accumulators, R weight vectors, an input vector and the ones, of 32 zmm.
constexpr int VNNI_R1 = 1, VNNI_R = 3, VNNI_NI = 8;
constexpr int MADD_NI = 4;  // avx512 / avx2 / scalar

#define PICK4(NAME, ni) ((ni) == 1 ? NAME<1> : (ni) == 2 ? NAME<2> : (ni) == 3 ? NAME<3> : NAME<4>)

}  // namespace

int gemv_i8_n_max(int isa) { return isa == ISA_AVX512_VNNI ? VNNI_NI : MADD_NI; }

long gemv_i8_block_rows(int isa, long cols) {
    const long r = isa == ISA_AVX512_VNNI ? VNNI_R : 1;
    return std::max(r, 8192 / std::max(cols, 1L) / r * r);  // ~8 KiB of weights
}

GemvI8Fn gemv_i8_fn(int isa, int ni) {
#if RWKV_X86
    static const GemvI8Fn vnni[] = {gemv_i8_vnni<VNNI_R1, 1>, gemv_i8_vnni<VNNI_R, 2>, gemv_i8_vnni<VNNI_R, 3>,
                                    gemv_i8_vnni<VNNI_R, 4>,  gemv_i8_vnni<VNNI_R, 5>, gemv_i8_vnni<VNNI_R, 6>,
                                    gemv_i8_vnni<VNNI_R, 7>,  gemv_i8_vnni<VNNI_R, 8>};
    static_assert(sizeof(vnni) / sizeof(vnni[0]) == VNNI_NI, "one kernel per input count");
    if (isa == ISA_AVX512_VNNI) return vnni[std::clamp(ni, 1, VNNI_NI) - 1];
    if (isa == ISA_AVX512) return PICK4(gemv_i8_avx512, ni);
    if (isa == ISA_AVX2) return avx_vnni(isa) ? PICK4(gemv_i8_avxvnni, ni) : PICK4(gemv_i8_avx2, ni);
#endif
    (void)isa;
    return PICK4(gemv_i8_scalar, ni);
}

}  // namespace rwkvcpu
