// q4 weights (engine/models/packed.py): blocks of 32 inputs of a row, each a 4-bit signed value
// q in -8..7 with one fp16 scale d per block (w ~= d * q; 4.5 bits a weight, llama.cpp's q4_0 math).
//
// Layout, chosen for the integer dot products below. A row's inputs are padded with zeros to whole
// groups of 8 blocks (Q4_GROUP = 256 values); a group is 128 bytes, 4 chunks of 32, and
//     byte 32 c + 4 i + j  =  (q_i[4 c + j] + 8)  |  (q_i[4 c + 16 + j] + 8) << 4
// for block i (0..7) of the group, c in 0..3, j in 0..3. Read "step s" as the 4 values 4s..4s+3 of
// every block of the group: the low nibbles of chunk c are step c, the high nibbles step c + 4, and
// in each, block i's 4 values sit in the 4 bytes of 32-bit lane i. So one dot-product instruction on
// a step puts each block's partial sum in its own lane, the 8 steps of a group add up in the same
// lanes, and each group ends with one int32 per block: one conversion and one FMA with its 8 scales
// per 256 weights. The scales are fp16 [rows][blocks].
//
// The inputs are quantised per block of 32 to int8 (scale max|x| / 127, llama.cpp's q8_0; an error
// ~100x below the weights' own) and laid out as the steps: byte 32 s + 4 i + j = x_i[4 s + j]. The
// block sums are exact (u8 weights x s8 inputs: AVX-512 VNNI vpdpbusd, else vpmaddubsw, whose
// int16 pair sums cannot saturate: 2 * 15 * 127, and 8 steps of them fit an int16: 16 * 15 * 127 <
// 32767), the +8 of the stored weights is taken off with -8 * the block's input sum, and the block
// scaled by d * x_scale into float accumulators. Decode (one input), batched decode and prompts (up
// to GEMV_MAX_NI inputs sharing each weight load) run one template, so every input's sums are
// formed in the same order whatever the batch: batched rows are bit-identical to single ones.

#include "core.h"

#include <cfloat>
#include <limits>

namespace rwkvcpu {

std::vector<int8_t> g_q4q[8];
std::vector<int32_t> g_q4c[8];
std::vector<float> g_q4s[8];

// x [cols] -> q [kp] int8 in the steps' order, corr and s [kp / 16] (core.h's Q4In): per block,
// s = max|x| / 127, q = round(x / s), corr = -8 * sum(q); an all-zero block gets s = 0, a block with an inf or a NaN
// s = NaN (so its outputs are NaN, as a float product's would be). Padding (past cols) is zero.
void quantize_q4_input(const float* x, long cols, int8_t* q, int32_t* corr, float* s) {
    const long kp = q4_padded(cols), nblk = kp / 32;
    for (long e = 0; e < nblk; e++) {
        const long k0 = e * 32, n = std::clamp(cols - k0, 0L, 32L);
        int8_t* g = q + (e / 8) * Q4_GROUP + (e % 8) * 4;  // block i of its group: bytes 32 s + 4 i + j
        float amax = 0.0f;
        bool finite = true;
        for (long j = 0; j < n; j++) {
            const float a = std::fabs(x[k0 + j]);
            finite = finite && a <= FLT_MAX;
            amax = a > amax ? a : amax;
        }
        int32_t sum = 0;
        float sc = amax / 127.0f;
        const bool zero = !finite || sc < 1e-30f;  // 1e-30: a denormal's 1 / s would overflow
        if (!finite) sc = std::numeric_limits<float>::quiet_NaN();
        else if (zero) sc = 0.0f;
        const float inv = zero ? 0.0f : 1.0f / sc;
        for (long k = 0; k < 32; k++) {
            const int32_t v = k < n && !zero ? std::clamp(int32_t(std::nearbyint(x[k0 + k] * inv)), -127, 127) : 0;
            g[(k / 4) * 32 + k % 4] = int8_t(v);
            sum += v;
        }
        const long at = (e / 8) * 16 + e % 8;
        s[at] = s[at + 8] = sc;
        corr[at] = -8 * sum;
        corr[at + 8] = 0;
    }
}

namespace {

inline float half_to_f32(uint16_t h) {  // IEEE fp16 -> float, subnormals included
    const uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) {
        const float f = float(m) * 5.9604644775390625e-8f;  // m * 2^-24
        return (h & 0x8000u) ? -f : f;
    }
    const uint32_t u = e == 31 ? sign | 0x7f800000u | (m << 13) : sign | ((e + 112) << 23) | (m << 13);
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Portable: a group's 8 block sums, then the 8 lanes of float accumulators, as the SIMD paths do.
template <int NI>
void gemv_q4_scalar(const uint8_t* W, const uint16_t* bs, long cols, const Q4In& x, int b0, float* y,
                    long ystride, long r0, long r1) {
    const long kp = q4_padded(cols), nblk = kp / 32;
    for (long o = r0; o < r1; o++) {
        const uint8_t* w = W + o * (kp / 2);
        const uint16_t* ws = bs + o * nblk;
        for (int n = 0; n < NI; n++) {
            const int8_t* xq = x.q + (b0 + n) * x.kp;
            const int32_t* xc = x.corr + (b0 + n) * (x.kp / 16);
            const float* xs = x.s + (b0 + n) * (x.kp / 16);
            float f[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (long g = 0; g < nblk / 8; g++) {
                const uint8_t* wg = w + g * (Q4_GROUP / 2);
                const int8_t* xg = xq + g * Q4_GROUP;
                for (int i = 0; i < 8; i++) {
                    int32_t d = xc[g * 16 + i];
                    for (int c = 0; c < 4; c++)
                        for (int j = 0; j < 4; j++) {
                            const uint8_t b = wg[32 * c + 4 * i + j];
                            d += int32_t(b & 15) * xg[32 * c + 4 * i + j] + int32_t(b >> 4) * xg[32 * (c + 4) + 4 * i + j];
                        }
                    f[i] += float(d) * (half_to_f32(ws[g * 8 + i]) * xs[g * 16 + i]);
                }
            }
            y[n * ystride + o] = ((f[0] + f[4]) + (f[2] + f[6])) + ((f[1] + f[5]) + (f[3] + f[7]));
        }
    }
}

#if RWKV_X86
// AVX2: a chunk's two steps per 256-bit vector; a group's 8 steps summed in int16 (they fit), then
// to int32 per block, then scaled into the input's float accumulator.
template <int NI>
TGT_AVX2 void gemv_q4_avx2(const uint8_t* W, const uint16_t* bs, long cols, const Q4In& x, int b0, float* y,
                           long ystride, long r0, long r1) {
    const long kp = q4_padded(cols), nblk = kp / 32;
    const __m256i low4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    for (long o = r0; o < r1; o++) {
        const uint8_t* w = W + o * (kp / 2);
        const uint16_t* ws = bs + o * nblk;
        __m256 f[NI];
        for (int n = 0; n < NI; n++) f[n] = _mm256_setzero_ps();
        for (long g = 0; g < nblk / 8; g++) {
            const uint8_t* wg = w + g * (Q4_GROUP / 2);
            __m256i u[8];
            for (int c = 0; c < 4; c++) {
                const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wg + 32 * c));
                u[c] = _mm256_and_si256(raw, low4);
                u[c + 4] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
            }
            const __m256 wsv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ws + g * 8)));
            for (int n = 0; n < NI; n++) {
                const int8_t* xg = x.q + (b0 + n) * x.kp + g * Q4_GROUP;
                __m256i a = _mm256_maddubs_epi16(u[0], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xg)));
                for (int s = 1; s < 8; s++)
                    a = _mm256_add_epi16(a, _mm256_maddubs_epi16(
                                                u[s], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xg + 32 * s))));
                const long e = (b0 + n) * (x.kp / 16) + g * 16;
                const __m256i d = _mm256_add_epi32(_mm256_madd_epi16(a, ones),
                                                   _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.corr + e)));
                f[n] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(wsv, _mm256_loadu_ps(x.s + e)), f[n]);
            }
        }
        for (int n = 0; n < NI; n++) y[n * ystride + o] = hsum256(f[n]);
    }
}

// AVX-512: two chunks per 512-bit vector (steps c, c + 1 in the low nibbles, c + 4, c + 5 in the
// high), so a block's sums are in two lanes, i and i + 8: its correction starts lane i, its scale
// fills both, and the two meet in the final sum. DOT(acc, u8, s8): acc gains the 4-byte dot
// products in each int32 lane.
#define DEFINE_Q4_AVX512(NAME, TGT, DOT)                                                                    \
    template <int NI>                                                                                       \
    TGT void NAME(const uint8_t* W, const uint16_t* bs, long cols, const Q4In& x, int b0, float* y,       \
                  long ystride, long r0, long r1) {                                                         \
        const long kp = q4_padded(cols), nblk = kp / 32;                                                    \
        const __m512i low4 = _mm512_set1_epi8(0x0f);                                                        \
        for (long o = r0; o < r1; o++) {                                                                    \
            const uint8_t* w = W + o * (kp / 2);                                                            \
            const uint16_t* ws = bs + o * nblk;                                                             \
            __m512 f[NI];                                                                                   \
            for (int n = 0; n < NI; n++) f[n] = _mm512_setzero_ps();                                        \
            for (long g = 0; g < nblk / 8; g++) {                                                           \
                const uint8_t* wg = w + g * (Q4_GROUP / 2);                                                 \
                const __m512i r0v = _mm512_loadu_si512(wg), r1v = _mm512_loadu_si512(wg + 64);              \
                const __m512i u0 = _mm512_and_si512(r0v, low4), u1 = _mm512_and_si512(r1v, low4);           \
                const __m512i u2 = _mm512_and_si512(_mm512_srli_epi16(r0v, 4), low4);                       \
                const __m512i u3 = _mm512_and_si512(_mm512_srli_epi16(r1v, 4), low4);                       \
                const __m256 w8 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ws + g * 8))); \
                const __m512 ws16 = _mm512_insertf32x8(_mm512_castps256_ps512(w8), w8, 1);                  \
                for (int n = 0; n < NI; n++) {                                                              \
                    const int8_t* xg = x.q + (b0 + n) * x.kp + g * Q4_GROUP;                                \
                    const long e = (b0 + n) * (x.kp / 16) + g * 16;                                         \
                    __m512i a = DOT(_mm512_loadu_si512(x.corr + e), u0, _mm512_loadu_si512(xg));            \
                    a = DOT(a, u1, _mm512_loadu_si512(xg + 64));                                            \
                    a = DOT(a, u2, _mm512_loadu_si512(xg + 128));                                           \
                    a = DOT(a, u3, _mm512_loadu_si512(xg + 192));                                           \
                    f[n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a), _mm512_mul_ps(ws16, _mm512_loadu_ps(x.s + e)), f[n]); \
                }                                                                                           \
            }                                                                                               \
            for (int n = 0; n < NI; n++) y[n * ystride + o] = hsum512(f[n]);                                \
        }                                                                                                   \
    }

TGT_AVX512 inline __m512i dot_u8s8_avx512(__m512i acc, __m512i u, __m512i s) {
    return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)));
}
TGT_AVX512VNNI inline __m512i dot_u8s8_vnni(__m512i acc, __m512i u, __m512i s) {
    return _mm512_dpbusd_epi32(acc, u, s);
}

DEFINE_Q4_AVX512(gemv_q4_avx512, TGT_AVX512, dot_u8s8_avx512)
DEFINE_Q4_AVX512(gemv_q4_vnni, TGT_AVX512VNNI, dot_u8s8_vnni)
#endif

#define PICK_Q4(NAME, ni) ((ni) == 1 ? NAME<1> : (ni) == 2 ? NAME<2> : (ni) == 3 ? NAME<3> : NAME<4>)

}  // namespace

GemvQ4Fn gemv_q4_fn(int isa, int ni) {
#if RWKV_X86
    if (isa == ISA_AVX512_VNNI) return PICK_Q4(gemv_q4_vnni, ni);
    if (isa == ISA_AVX512) return PICK_Q4(gemv_q4_avx512, ni);
    if (isa == ISA_AVX2) return PICK_Q4(gemv_q4_avx2, ni);
#endif
    (void)isa;
    return PICK_Q4(gemv_q4_scalar, ni);
}

}  // namespace rwkvcpu

using namespace rwkvcpu;

// y [T, N] = x [T, K] @ W^T for W q4 (nibbles [N, q4_padded(K) / 2], block scales fp16 [N, q4_blocks(K)]):
// the batched GEMV, up to GEMV_MAX_NI tokens sharing each weight load. Returns 0, or -1 for a bad size.
API int rwkv_gemm_q4(long T, long K, long N, const float* x, const uint8_t* W, const uint16_t* bscale, float* y) {
    if (T < 0 || K <= 0 || N < 0 || T > std::numeric_limits<int>::max()) return -1;
    if (T == 0 || N == 0) return 0;
    std::lock_guard<std::mutex> lk(g_api);
    MultiGemv g;
    g.nb = int(T);
    g.add(make_mat(W, bscale, N, K, W_Q4), x, y, ACT_NONE, K, N);
    g.run();
    return 0;
}

// The quantisation the q4 products apply to x [T, K], in natural order: q [T, q4_padded(K)] int8,
// s [T, q4_blocks(K)] (x ~= q * s per block of 32). For tests.
API void rwkv_quantize_q4_input(long T, long K, const float* x, int8_t* q, float* s) {
    const long kp = q4_padded(K), nblk = kp / 32;
    std::vector<int8_t> steps(static_cast<size_t>(kp));
    std::vector<int32_t> corr(static_cast<size_t>(kp / 16));
    std::vector<float> sc(static_cast<size_t>(kp / 16));
    for (long t = 0; t < T; t++) {
        quantize_q4_input(x + t * K, K, steps.data(), corr.data(), sc.data());
        for (long e = 0; e < nblk; e++) s[t * nblk + e] = sc[size_t((e / 8) * 16 + e % 8)];
        for (long k = 0; k < kp; k++) {  // value k of block e: byte 32 s + 4 i + j of its group
            const long e = k / 32, i = e % 8, v = k % 32;
            q[t * kp + k] = steps[size_t((e / 8) * Q4_GROUP + 32 * (v / 4) + 4 * i + v % 4)];
        }
    }
}
