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
// formed in the same order whatever the batch: batched rows are bit-identical to single ones. Prompts
// of Q4G_MIN_T tokens or more run the prompt GEMM below instead (AVX2 and AVX-512).
//
// q5 weights (W_Q5, llama.cpp's q5_0 math): the same with 5-bit values q in -16..15, stored as u = q +
// 16 (5.5 bits a weight). A group is 160 bytes: the 128 above holding the low 4 bits of u, then a
// plane of 32 bytes of bit 4: bit s of byte 128 + 4 i + j is bit 4 of u_i[4 s + j], so plane byte k
// serves byte k of every step, and a step's 32 high bits come out in place from the one 32-byte load
// (AVX2: a shift and a mask a step; AVX-512: one vptestmb per two steps, the plane in both halves).
// (A uint32 of bits a step, expanded by a shuffle and a compare, ran the AVX2 GEMV at half q4's speed
// per weight: compute-bound at 22-24 GB/s where q4 reads 29-39.) Every kernel is one
// template over the bits B (4 or 5): q5 ORs bit 4 into the unpacked nibbles, takes off 16 with twice
// the inputs' correction (-16 * the block's input sum: q4 and q5 share one quantised input), and
// where vpmaddubsw's int16 sums are added up over steps, does it 4 steps at a time (8 steps of u <=
// 31 reach 16 * 31 * 127 = 62992; 4 reach 31496 < 32767).

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
#if RWKV_X86
void quantize_q4_input_avx2(const float* x, long cols, int8_t* q, int32_t* corr, float* s);
#endif

void quantize_q4_input(const float* x, long cols, int8_t* q, int32_t* corr, float* s) {
#if RWKV_X86
    if (current_isa() >= ISA_AVX2) return quantize_q4_input_avx2(x, cols, q, corr, s);
#endif
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

// Bytes of one group of 256 values: 128 of nibbles, and for q5 32 of high bits.
template <int B>
constexpr long q_group_bytes = Q4_GROUP * B / 8;
// The stored values' offset: q + 8 (q4), q + 16 (q5).
template <int B>
constexpr int q_half = 1 << (B - 1);

// Bit 4 of stored value 4 s + j of block i (q5; 0 for q4): bit s of the plane's byte 4 i + j.
template <int B>
inline int32_t q5_high(const uint8_t* wg, int s, int i, int j) {
    if constexpr (B == 4) return 0;
    else return ((wg[128 + 4 * i + j] >> s) & 1) << 4;
}

// Portable: a group's 8 block sums, then the 8 lanes of float accumulators, as the SIMD paths do.
template <int NI, int B>
void gemv_q4_scalar(const uint8_t* W, const uint16_t* bs, long cols, const Q4In& x, int b0, float* y,
                    long ystride, long r0, long r1) {
    const long kp = q4_padded(cols), nblk = kp / 32;
    for (long o = r0; o < r1; o++) {
        const uint8_t* w = W + o * q4_rowbytes(cols, B);
        const uint16_t* ws = bs + o * nblk;
        for (int n = 0; n < NI; n++) {
            const int8_t* xq = x.q + (b0 + n) * x.kp;
            const int32_t* xc = x.corr + (b0 + n) * (x.kp / 16);
            const float* xs = x.s + (b0 + n) * (x.kp / 16);
            float f[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (long g = 0; g < nblk / 8; g++) {
                const uint8_t* wg = w + g * q_group_bytes<B>;
                const int8_t* xg = xq + g * Q4_GROUP;
                for (int i = 0; i < 8; i++) {
                    int32_t d = xc[g * 16 + i] * (q_half<B> / 8);
                    for (int c = 0; c < 4; c++)
                        for (int j = 0; j < 4; j++) {
                            const uint8_t b = wg[32 * c + 4 * i + j];
                            d += (int32_t(b & 15) | q5_high<B>(wg, c, i, j)) * xg[32 * c + 4 * i + j] +
                                 (int32_t(b >> 4) | q5_high<B>(wg, c + 4, i, j)) * xg[32 * (c + 4) + 4 * i + j];
                        }
                    f[i] += float(d) * (half_to_f32(ws[g * 8 + i]) * xs[g * 16 + i]);
                }
            }
            y[n * ystride + o] = ((f[0] + f[4]) + (f[2] + f[6])) + ((f[1] + f[5]) + (f[3] + f[7]));
        }
    }
}

#if RWKV_X86
// q5's bit 4 of step s's 32 stored values as bytes 16 or 0, from the group's plane hp (bit s of byte
// k: step s's byte k). 16-bit shifts: bit 4 of each byte comes from bit s of the same byte.
TGT_AVX2 __attribute__((always_inline)) inline __m256i q5_high_avx2(__m256i hp, int s) {
    const __m256i h = s <= 4 ? _mm256_slli_epi16(hp, 4 - s) : _mm256_srli_epi16(hp, s - 4);
    return _mm256_and_si256(h, _mm256_set1_epi8(16));
}

// Each row's weights are prefetched into L2 Q4_PF bytes ahead, a group's lines a group (the SIMD
// kernels all do): on AVX2 one core alone left to the hardware prefetchers read a 0.4B q4 model at
// ~18 GB/s where int8's read ~27 (the 0.4B q4 step 62.0 -> 74.3 tok/s on one thread, 31.2 -> 32.5 at
// 1.5B on two).
constexpr long Q4_PF = 16384;

// AVX2: a chunk's two steps per 256-bit vector; a group's steps summed in int16 (q4: all 8, <= 16 *
// 15 * 127; q5: 4 at a time, see the top), then to int32 per block, then scaled into the input's
// float accumulator. V (AVX-VNNI): each step a vpdpbusd straight into int32 (two chains of 4 steps),
// the same integers.
#define DEFINE_Q4_AVX2(NAME, TGT, V)                                                                        \
    template <int NI, int B>                                                                                \
    TGT void NAME(const uint8_t* W, const uint16_t* bs, long cols, const Q4In& x, int b0, float* y,        \
                  long ystride, long r0, long r1) {                                                         \
        const long kp = q4_padded(cols), nblk = kp / 32;                                                    \
        constexpr int hs = B == 5 ? 4 : 8; /* steps per int16 sum */                                        \
        const __m256i low4 = _mm256_set1_epi8(0x0f);                                                        \
        [[maybe_unused]] const __m256i ones = _mm256_set1_epi16(1);                                         \
        for (long o = r0; o < r1; o++) {                                                                    \
            const uint8_t* w = W + o * q4_rowbytes(cols, B);                                                \
            const uint16_t* ws = bs + o * nblk;                                                             \
            __m256 f[NI];                                                                                   \
            for (int n = 0; n < NI; n++) f[n] = _mm256_setzero_ps();                                        \
            const char* pf = reinterpret_cast<const char*>(w) + Q4_PF;                                      \
            for (long g = 0; g < nblk / 8; g++) {                                                           \
                const uint8_t* wg = w + g * q_group_bytes<B>;                                               \
                for (int l = 0; l < (q_group_bytes<B> + 63) / 64; l++)                                      \
                    _mm_prefetch(pf + (g * q_group_bytes<B> + 64 * l), _MM_HINT_T1);                        \
                __m256i u[8];                                                                               \
                for (int c = 0; c < 4; c++) {                                                               \
                    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wg + 32 * c));  \
                    u[c] = _mm256_and_si256(raw, low4);                                                     \
                    u[c + 4] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);                           \
                }                                                                                           \
                if constexpr (B == 5) {                                                                     \
                    const __m256i hp = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wg + 128));      \
                    for (int s = 0; s < 8; s++) u[s] = _mm256_or_si256(u[s], q5_high_avx2(hp, s));          \
                }                                                                                           \
                const __m256 wsv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ws + g * 8))); \
                for (int n = 0; n < NI; n++) {                                                              \
                    const int8_t* xg = x.q + (b0 + n) * x.kp + g * Q4_GROUP;                                \
                    const long e = (b0 + n) * (x.kp / 16) + g * 16;                                         \
                    __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.corr + e));           \
                    if constexpr (B == 5) d = _mm256_slli_epi32(d, 1);                                      \
                    if constexpr (V) {                                                                      \
                        __m256i d2 = _mm256_setzero_si256();                                                \
                        for (int s = 0; s < 4; s++) {                                                       \
                            d = dpbusd_avx(d, u[s], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xg + 32 * s))); \
                            d2 = dpbusd_avx(d2, u[s + 4],                                                   \
                                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xg + 32 * (s + 4)))); \
                        }                                                                                   \
                        d = _mm256_add_epi32(d, d2);                                                        \
                    } else {                                                                                \
                        for (int s0 = 0; s0 < 8; s0 += hs) {                                                \
                            __m256i a = _mm256_maddubs_epi16(                                               \
                                u[s0], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xg + 32 * s0))); \
                            for (int s = s0 + 1; s < s0 + hs; s++)                                          \
                                a = _mm256_add_epi16(a, _mm256_maddubs_epi16(u[s], _mm256_loadu_si256(      \
                                                            reinterpret_cast<const __m256i*>(xg + 32 * s)))); \
                            d = _mm256_add_epi32(_mm256_madd_epi16(a, ones), d);                            \
                        }                                                                                   \
                    }                                                                                       \
                    f[n] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(wsv, _mm256_loadu_ps(x.s + e)), f[n]); \
                }                                                                                           \
            }                                                                                               \
            for (int n = 0; n < NI; n++) y[n * ystride + o] = hsum256(f[n]);                                \
        }                                                                                                   \
    }

DEFINE_Q4_AVX2(gemv_q4_avx2, TGT_AVX2, false)
DEFINE_Q4_AVX2(gemv_q4_avxvnni, TGT_AVXVNNI, true)

// AVX-512: two chunks per 512-bit vector (steps c, c + 1 in the low nibbles, c + 4, c + 5 in the
// high), so a block's sums are in two lanes, i and i + 8: its correction starts lane i, its scale
// fills both, and the two meet in the final sum. DOT(acc, u8, s8): acc gains the 4-byte dot
// products in each int32 lane.
//
// Batches (NI > 1) take R = 2 rows at a time, the two sharing each input's loads (its quantised
// values, corrections and scales); every row's sums run in the one-row order, so pairing changes no
// bits. Two rows are two streams a row's bytes apart, which the hardware prefetchers follow badly
// (as for the float and int8 tiles), so each group prefetches the rows' block as one stream, Q4_PF
// bytes ahead, into L2 (q5's 160-byte groups: the lines from the group's first byte on, whole lines
// covering R * 160 bytes; a line straddling two groups is prefetched by both). The compiled 1.5B q4 step against one row at a time (bench_batched_decode.py,
// 9 alternating rounds): 1.06-1.08x at 2 sequences, 1.18-1.24x at 4. One input keeps one row at a
// time (pairs ran it at 0.74-0.80x, 0.89-0.92x with the prefetch; one row with it: 0.99-1.02x).

// q5: bit 4 into the stored values of steps 2 p, 2 p + 1 (vector u), from the group's plane in both
// halves (hp2, q5_plane): bit 2 p of its bytes for the low 32, bit 2 p + 1 for the high 32.
TGT_AVX512 __attribute__((always_inline)) inline __m512i q5_plane(const uint8_t* wg) {
    return _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wg + 128)));
}
TGT_AVX512 __attribute__((always_inline)) inline __m512i q5_add_high(__m512i u, __m512i hp2, int p) {
    const __m512i sel = _mm512_inserti64x4(_mm512_set1_epi8(char(1 << (2 * p))), _mm256_set1_epi8(char(1 << (2 * p + 1))), 1);
    return _mm512_mask_add_epi8(u, _mm512_test_epi8_mask(hp2, sel), u, _mm512_set1_epi8(16));
}

#define DEFINE_Q4_AVX512(NAME, TGT, DOT)                                                                    \
    template <int NI, int R, int B>                                                                         \
    TGT inline void NAME##_rows(const uint8_t* W, const uint16_t* bs, long kp, const Q4In& x, int b0,      \
                                float* y, long ystride, long o) {                                          \
        const long nblk = kp / 32, rb = kp * B / 8;                                                         \
        constexpr long GB = q_group_bytes<B>;                                                               \
        const __m512i low4 = _mm512_set1_epi8(0x0f);                                                        \
        __m512 f[R][NI];                                                                                    \
        for (int r = 0; r < R; r++)                                                                         \
            for (int n = 0; n < NI; n++) f[r][n] = _mm512_setzero_ps();                                     \
        const char* pf = reinterpret_cast<const char*>(W + o * rb) + Q4_PF;                                 \
        for (long g = 0; g < nblk / 8; g++) {                                                               \
            for (int l = 0; l < (R * GB + 63) / 64; l++) _mm_prefetch(pf + (g * R * GB + 64 * l), _MM_HINT_T1); \
            __m512i u[R][4];                                                                                \
            __m512 ws16[R];                                                                                 \
            for (int r = 0; r < R; r++) {                                                                   \
                const uint8_t* wg = W + (o + r) * rb + g * GB;                                              \
                const __m512i r0v = _mm512_loadu_si512(wg), r1v = _mm512_loadu_si512(wg + 64);              \
                u[r][0] = _mm512_and_si512(r0v, low4);                                                      \
                u[r][1] = _mm512_and_si512(r1v, low4);                                                      \
                u[r][2] = _mm512_and_si512(_mm512_srli_epi16(r0v, 4), low4);                                \
                u[r][3] = _mm512_and_si512(_mm512_srli_epi16(r1v, 4), low4);                                \
                if constexpr (B == 5) { /* u[r][v]: steps 2 v, 2 v + 1 */                                   \
                    const __m512i hp2 = q5_plane(wg);                                                       \
                    for (int v = 0; v < 4; v++) u[r][v] = q5_add_high(u[r][v], hp2, v);                     \
                }                                                                                           \
                const __m256 w8 =                                                                           \
                    _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bs + (o + r) * nblk + g * 8))); \
                ws16[r] = _mm512_insertf32x8(_mm512_castps256_ps512(w8), w8, 1);                            \
            }                                                                                               \
            for (int n = 0; n < NI; n++) {                                                                  \
                const int8_t* xg = x.q + (b0 + n) * x.kp + g * Q4_GROUP;                                    \
                const long e = (b0 + n) * (x.kp / 16) + g * 16;                                             \
                const __m512i x0 = _mm512_loadu_si512(xg), x1 = _mm512_loadu_si512(xg + 64);                \
                const __m512i x2 = _mm512_loadu_si512(xg + 128), x3 = _mm512_loadu_si512(xg + 192);         \
                __m512i c = _mm512_loadu_si512(x.corr + e);                                                 \
                if constexpr (B == 5) c = _mm512_slli_epi32(c, 1);                                          \
                const __m512 xs = _mm512_loadu_ps(x.s + e);                                                 \
                for (int r = 0; r < R; r++) {                                                               \
                    __m512i a = DOT(c, u[r][0], x0);                                                        \
                    a = DOT(a, u[r][1], x1);                                                                \
                    a = DOT(a, u[r][2], x2);                                                                \
                    a = DOT(a, u[r][3], x3);                                                                \
                    f[r][n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a), _mm512_mul_ps(ws16[r], xs), f[r][n]);  \
                }                                                                                           \
            }                                                                                               \
        }                                                                                                   \
        for (int r = 0; r < R; r++)                                                                         \
            for (int n = 0; n < NI; n++) y[n * ystride + o + r] = hsum512(f[r][n]);                         \
    }                                                                                                       \
    template <int NI, int B>                                                                                \
    TGT void NAME(const uint8_t* W, const uint16_t* bs, long cols, const Q4In& x, int b0, float* y,       \
                  long ystride, long r0, long r1) {                                                         \
        const long kp = q4_padded(cols);                                                                    \
        long o = r0;                                                                                        \
        if (NI > 1)                                                                                         \
            for (; o + 2 <= r1; o += 2) NAME##_rows<NI, 2, B>(W, bs, kp, x, b0, y, ystride, o);             \
        for (; o < r1; o++) NAME##_rows<NI, 1, B>(W, bs, kp, x, b0, y, ystride, o);                         \
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

// ---------------------------------------------------------------------------------------------
// Prompt GEMM (AVX-512 and AVX2, T >= Q4G_MIN_T tokens): tokens in the vector lanes, 16 per vector
// (AVX2: two vectors of 8, see q4g_tile_avx2). The inputs are quantised as for the GEMV
// (quantize_q4_input: the same int8 values q and block scales) and regrouped per 16 tokens as u8
// (q + 128): xt [tile][block e][step s][token n][4 bytes] (64 bytes a step), scales xs [tile][e][16]. A
// panel of Q4G_R weight rows is unpacked to one s8 a value (q: the stored u - 8, or u - 16 for q5; per
// group, the low nibbles where they were, then the high ones: the 4 values of block i, step s at 128
// (s / 4) + 32 (s % 4) + 4 i), with float block scales and, per block, -128 * its value sum (the +128
// of the inputs taken off). Only the unpack (and AVX2's int16 sums, q4g_tile_avx2) knows q4 from q5. Each
// step is one dot-product instruction whose s8 operand is a row's 4 values of the block broadcast from
// memory, against 16 tokens' 4 inputs: a block's exact int32 sum ends in each token's lane (the GEMV's
// integer, from another order of exact integer adds) and is scaled once per block by d * x_scale. Q4G_R
// rows x 2 vectors of tokens share every load. Only the float accumulation over blocks runs in another
// order than the GEMV's, so a prompt row differs from the decode row by float32 roundings of the sum of
// the terms' magnitudes.
#if RWKV_X86
// Q4G_MIN_T: from here on the GEMM beats the batched GEMV (measured forcing AVX2 on Zen 4, the 0.1B
// model's matrices, one thread: about even at 12 tokens, 1.2-1.6x faster at 16).
constexpr int Q4G_R = 4, Q4G_P = 4, Q4G_ROWS = Q4G_R * Q4G_P, Q4G_TT = 16, Q4G_MIN_T = 16;

std::vector<uint8_t> g_q4gx;
std::vector<float> g_q4gs;
struct Q4Panel {
    std::vector<int8_t> w;   // Q4G_R rows of kp values
    std::vector<float> d;    // Q4G_R rows of block scales
    std::vector<int32_t> c;  // Q4G_R rows of block corrections
};
std::vector<Q4Panel> g_q4gp;  // per thread

// A panel row past the matrix's last: zero values, scales and corrections (ngu groups of 8 blocks).
inline void q4g_zero_row(int8_t* u, float* d, int32_t* c, long ngu) {
    std::memset(u, 0, size_t(ngu * Q4_GROUP));
    std::fill(d, d + ngu * 8, 0.0f);
    std::fill(c, c + ngu * 8, 0);
}

// Rows [o0, o0 + Q4G_ROWS) of W (rows past n_rows: zero values and scales) into the panel.
template <int B>
TGT_AVX512 void q4g_unpack(const uint8_t* W, const uint16_t* bs, long kp, long nbu, long o0, long n_rows,
                           Q4Panel& p) {
    const long nblk = kp / 32, ngu = (nbu + 7) / 8;
    constexpr long GB = q_group_bytes<B>;
    const __m512i low4 = _mm512_set1_epi8(0x0f), eight = _mm512_set1_epi8(q_half<B>);
    const __m512i ones8 = _mm512_set1_epi8(1), ones16 = _mm512_set1_epi16(1);
    for (int r = 0; r < Q4G_ROWS; r++) {
        int8_t* u = p.w.data() + r * kp;
        float* d = p.d.data() + r * nblk;
        int32_t* c = p.c.data() + r * nblk;
        if (o0 + r >= n_rows) {
            q4g_zero_row(u, d, c, ngu);
            continue;
        }
        const uint8_t* w = W + (o0 + r) * (kp * B / 8);
        const uint16_t* ws = bs + (o0 + r) * nblk;
        for (long g = 0; g < ngu; g++) {
            const __m512i a = _mm512_loadu_si512(w + g * GB), b = _mm512_loadu_si512(w + g * GB + 64);
            __m512i la = _mm512_and_si512(a, low4), lb = _mm512_and_si512(b, low4);
            __m512i ha = _mm512_and_si512(_mm512_srli_epi16(a, 4), low4);
            __m512i hb = _mm512_and_si512(_mm512_srli_epi16(b, 4), low4);
            if constexpr (B == 5) {  // steps 0-1, 2-3, 4-5, 6-7
                const __m512i h = q5_plane(w + g * GB);
                la = q5_add_high(la, h, 0), lb = q5_add_high(lb, h, 1);
                ha = q5_add_high(ha, h, 2), hb = q5_add_high(hb, h, 3);
            }
            _mm512_storeu_si512(u + g * 256, _mm512_sub_epi8(la, eight));
            _mm512_storeu_si512(u + g * 256 + 64, _mm512_sub_epi8(lb, eight));
            _mm512_storeu_si512(u + g * 256 + 128, _mm512_sub_epi8(ha, eight));
            _mm512_storeu_si512(u + g * 256 + 192, _mm512_sub_epi8(hb, eight));
            // the stored (unsigned) values' sums per 4 bytes (a byte <= 4 * 31): lane i + 8 h of a vector is block i
            const __m512i s4 = _mm512_madd_epi16(
                _mm512_maddubs_epi16(_mm512_add_epi8(_mm512_add_epi8(la, lb), _mm512_add_epi8(ha, hb)), ones8), ones16);
            const __m256i s8 = _mm256_add_epi32(_mm512_castsi512_si256(s4), _mm512_extracti64x4_epi64(s4, 1));
            // sum of (u - 8) (q5: u - 16) over the 32 values, times -128 (the inputs' +128)
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + g * 8),
                                _mm256_mullo_epi32(_mm256_sub_epi32(s8, _mm256_set1_epi32(32 * q_half<B>)),
                                                   _mm256_set1_epi32(-128)));
            _mm256_storeu_ps(d + g * 8, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ws + g * 8))));
        }
    }
}

// The same panel with 256-bit vectors: a chunk of a group at a time.
template <int B>
TGT_AVX2 void q4g_unpack_avx2(const uint8_t* W, const uint16_t* bs, long kp, long nbu, long o0, long n_rows,
                              Q4Panel& p) {
    const long nblk = kp / 32, ngu = (nbu + 7) / 8;
    constexpr long GB = q_group_bytes<B>;
    const __m256i low4 = _mm256_set1_epi8(0x0f), eight = _mm256_set1_epi8(q_half<B>);
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    for (int r = 0; r < Q4G_ROWS; r++) {
        int8_t* u = p.w.data() + r * kp;
        float* d = p.d.data() + r * nblk;
        int32_t* c = p.c.data() + r * nblk;
        if (o0 + r >= n_rows) {
            q4g_zero_row(u, d, c, ngu);
            continue;
        }
        const uint8_t* w = W + (o0 + r) * (kp * B / 8);
        const uint16_t* ws = bs + (o0 + r) * nblk;
        for (long g = 0; g < ngu; g++) {
            __m256i sum = _mm256_setzero_si256();  // the stored values per byte position: <= 8 * 31
            for (int ch = 0; ch < 4; ch++) {
                const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + g * GB + 32 * ch));
                __m256i lo = _mm256_and_si256(a, low4), hi = _mm256_and_si256(_mm256_srli_epi16(a, 4), low4);
                if constexpr (B == 5) {  // steps ch and ch + 4
                    const __m256i hp = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + g * GB + 128));
                    lo = _mm256_or_si256(lo, q5_high_avx2(hp, ch));
                    hi = _mm256_or_si256(hi, q5_high_avx2(hp, ch + 4));
                }
                __m256i* dst = reinterpret_cast<__m256i*>(u + g * 256 + 32 * ch);
                _mm256_storeu_si256(dst, _mm256_sub_epi8(lo, eight));
                _mm256_storeu_si256(dst + 4, _mm256_sub_epi8(hi, eight));  // 128 bytes on
                sum = _mm256_add_epi8(sum, _mm256_add_epi8(lo, hi));
            }
            const __m256i s8 = _mm256_madd_epi16(_mm256_maddubs_epi16(sum, ones8), ones16);  // lane i: block i
            const __m256i corr = _mm256_mullo_epi32(_mm256_sub_epi32(s8, _mm256_set1_epi32(32 * q_half<B>)),
                                                    _mm256_set1_epi32(-128));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + g * 8), corr);
            _mm256_storeu_ps(d + g * 8, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ws + g * 8))));
        }
    }
}

// acc (16 int32) += the dot products of u8 x (16 x 4) with the 4 s8 of w (broadcast to every lane).
TGT_AVX512VNNI __attribute__((always_inline)) inline __m512i q4g_dot_vnni(__m512i acc, __m512i x, __m512i w) {
#if defined(__GNUC__)
    asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w));
    return acc;
#else
    return _mm512_dpbusd_epi32(acc, x, w);
#endif
}
TGT_AVX512 __attribute__((always_inline)) inline __m512i q4g_dot_avx512(__m512i acc, __m512i x, __m512i w) {
    // u8 x s8 pairs: |sum| <= 2 * 255 * 16 (q5; q4: 8), no int16 saturation
    return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(x, w), _mm512_set1_epi16(1)));
}
inline int32_t q4g_load4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// One row r of the panel against M (1 or 2) vectors of tokens: named accumulators (GCC keeps arrays
// of vectors in memory).
#define Q4G_STEP(DOT, r)                                                                                       \
    {                                                                                                       \
        const __m512i wb = _mm512_set1_epi32(q4g_load4(wr##r + so));                                        \
        a##r##0 = DOT(a##r##0, x0, wb);                                                                     \
        if constexpr (M > 1) a##r##1 = DOT(a##r##1, x1, wb);                                                \
    }
#define Q4G_INIT(r)                                                                                         \
    const int8_t* wr##r = p.w.data() + (rp + r) * kp + wo;                                                  \
    __m512i a##r##0 = _mm512_set1_epi32(p.c[size_t((rp + r) * nblk + e)]), a##r##1 = a##r##0;
#define Q4G_SCALE(r)                                                                                        \
    {                                                                                                       \
        const __m512 d = _mm512_set1_ps(p.d[size_t((rp + r) * nblk + e)]);                                         \
        f##r##0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a##r##0), _mm512_mul_ps(d, s0), f##r##0);              \
        if constexpr (M > 1) f##r##1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a##r##1), _mm512_mul_ps(d, s1), f##r##1); \
    }

// A tile's results out[r][n] (rows r < nr of the panel, tokens n < nt) into y [T, N] at token t0,
// output o0, four outputs a store where the panel has all Q4G_R rows; every GEMM tile ends so.
template <int LD>
inline void q4g_store(const float (&out)[Q4G_R][LD], int nt, int nr, float* y, long t0, long N, long o0) {
    for (int n = 0; n < nt; n++) {
        float* yo = y + (t0 + n) * N + o0;
        if (nr == Q4G_R) _mm_storeu_ps(yo, _mm_setr_ps(out[0][n], out[1][n], out[2][n], out[3][n]));
        else
            for (int r = 0; r < nr; r++) yo[r] = out[r][n];
    }
}

// y[(t0 + 16 m + n) * N + o0 + r] for r < nr, tokens t0 .. t0 + nt - 1 (M vectors of 16 from tile t0 / 16)
#define DEFINE_Q4G_TILE(NAME, TGT, DOT)                                                                     \
    template <int M>                                                                                        \
    TGT void NAME(const Q4Panel& p, int rp, long kp, long nbu, long t0, int nt, float* y, long N, long o0, int nr) { \
        const long nblk = kp / 32, tile = t0 / Q4G_TT;                                                      \
        const uint8_t* xt0 = g_q4gx.data() + tile * nblk * 512;                                             \
        const uint8_t* xt1 = xt0 + nblk * 512;                                                              \
        const float* xs0 = g_q4gs.data() + tile * nblk * 16;                                                \
        const float* xs1 = xs0 + nblk * 16;                                                                 \
        __m512 f00 = _mm512_setzero_ps(), f01 = f00, f10 = f00, f11 = f00, f20 = f00, f21 = f00, f30 = f00, \
               f31 = f00;                                                                                   \
        for (long e = 0; e < nbu; e++) {                                                                    \
            const long wo = (e / 8) * 256 + (e % 8) * 4;                                                    \
            Q4G_INIT(0) Q4G_INIT(1) Q4G_INIT(2) Q4G_INIT(3)                                                 \
            for (int s = 0; s < 8; s++) {                                                                   \
                const long so = (s / 4) * 128 + (s % 4) * 32;                                               \
                const __m512i x0 = _mm512_loadu_si512(xt0 + (e * 8 + s) * 64);                             \
                const __m512i x1 = M > 1 ? _mm512_loadu_si512(xt1 + (e * 8 + s) * 64) : x0;                 \
                Q4G_STEP(DOT, 0) Q4G_STEP(DOT, 1) Q4G_STEP(DOT, 2) Q4G_STEP(DOT, 3)                                       \
            }                                                                                               \
            const __m512 s0 = _mm512_loadu_ps(xs0 + e * 16);                                                \
            const __m512 s1 = M > 1 ? _mm512_loadu_ps(xs1 + e * 16) : s0;                                   \
            Q4G_SCALE(0) Q4G_SCALE(1) Q4G_SCALE(2) Q4G_SCALE(3)                                             \
        }                                                                                                   \
        alignas(64) float out[Q4G_R][2 * Q4G_TT];                                                           \
        _mm512_store_ps(out[0], f00), _mm512_store_ps(out[1], f10);                                         \
        _mm512_store_ps(out[2], f20), _mm512_store_ps(out[3], f30);                                         \
        if constexpr (M > 1) {                                                                              \
            _mm512_store_ps(out[0] + Q4G_TT, f01), _mm512_store_ps(out[1] + Q4G_TT, f11);                   \
            _mm512_store_ps(out[2] + Q4G_TT, f21), _mm512_store_ps(out[3] + Q4G_TT, f31);                   \
        }                                                                                                   \
        q4g_store(out, nt, nr, y, t0, N, o0);                                                               \
    }

DEFINE_Q4G_TILE(q4g_tile_avx512, TGT_AVX512, q4g_dot_avx512)
DEFINE_Q4G_TILE(q4g_tile_vnni, TGT_AVX512VNNI, q4g_dot_vnni)

// AVX2 (vpdpbusd only with AVX-VNNI: q4g_tile_avxvnni, below): 8 tokens a vector, the two halves
// of a tile's 64-byte step. Each step is vpmaddubsw (u8 inputs x s8 weights -> int16 sums of
// pairs), added up over the block's 8 steps in int16 (|sum| <= 8 * 2 * 255 * 8 = 32640: no
// saturation), then vpmaddwd with ones to the block's
// int32 per token, plus the row's correction: the AVX-512 tiles' integers, followed by the same
// float operations in the same order, so the AVX2 GEMM's rows equal theirs bit for bit. q5's weights
// reach 16 in magnitude, twice that: their int16 sums take 4 steps (<= 4 * 2 * 255 * 16 = 32640) and
// go to int32 (h) before the next 4.
// a + p in int16 through an empty asm: without it GCC 12 reassociates a block's 8 adds into a tree
// over all its products and spills them to the stack.
TGT_AVX2 __attribute__((always_inline)) inline __m256i q4a_add(__m256i a, __m256i p) {
    a = _mm256_add_epi16(a, p);
#if defined(__GNUC__)
    asm("" : "+x"(a));
#endif
    return a;
}
// Row r of the tile: named accumulators, int16 a (one block) and float f (all blocks), as above.
// V (AVX-VNNI): a is the block's int32 sum itself, one vpdpbusd a step (no int16 sums, no q5 halves).
#define Q4A_INIT(r)                                                                                         \
    const int8_t* wr##r = p.w.data() + (rp + r) * kp + wo;                                                  \
    [[maybe_unused]] __m256i a##r##0 = zero, a##r##1 = zero, h##r##0 = zero, h##r##1 = zero;
#define Q4A_STEP(r)                                                                                         \
    {                                                                                                       \
        const __m256i wb = _mm256_set1_epi32(q4g_load4(wr##r + so));                                        \
        if constexpr (V) {                                                                                  \
            a##r##0 = dpbusd_avx(a##r##0, x0, wb);                                                          \
            if constexpr (M > 1) a##r##1 = dpbusd_avx(a##r##1, x1, wb);                                     \
        } else {                                                                                            \
            a##r##0 = q4a_add(a##r##0, _mm256_maddubs_epi16(x0, wb));                                       \
            if constexpr (M > 1) a##r##1 = q4a_add(a##r##1, _mm256_maddubs_epi16(x1, wb));                  \
        }                                                                                                   \
    }
// q5, after a block's first 4 steps: the int16 sums into int32 h, a restarted.
#define Q4A_HALF(r)                                                                                         \
    {                                                                                                       \
        h##r##0 = _mm256_madd_epi16(a##r##0, ones), a##r##0 = zero;                                         \
        if constexpr (M > 1) h##r##1 = _mm256_madd_epi16(a##r##1, ones), a##r##1 = zero;                    \
    }
// the block's int32 sums: a's, and q5's h
#define Q4A_SUM(a, h)                                                                                       \
    (V ? a : B == 5 ? _mm256_add_epi32(_mm256_madd_epi16(a, ones), h) : _mm256_madd_epi16(a, ones))
#define Q4A_SCALE(r)                                                                                        \
    {                                                                                                       \
        const size_t at = size_t((rp + r) * nblk + e);                                                      \
        const __m256i c = _mm256_set1_epi32(p.c[at]);                                                       \
        const __m256 d = _mm256_set1_ps(p.d[at]);                                                           \
        f##r##0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(Q4A_SUM(a##r##0, h##r##0), c)),       \
                                  _mm256_mul_ps(d, s0), f##r##0);                                           \
        if constexpr (M > 1)                                                                                \
            f##r##1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(Q4A_SUM(a##r##1, h##r##1), c)),   \
                                      _mm256_mul_ps(d, s1), f##r##1);                                       \
    }
#define Q4A_OUT(r)                                                                                          \
    {                                                                                                       \
        _mm256_store_ps(out[r], f##r##0);                                                                   \
        if constexpr (M > 1) _mm256_store_ps(out[r] + 8, f##r##1);                                          \
    }
#define Q4A_ROWS(X) X(0) X(1) X(2) X(3)

// As the AVX-512 tiles: y[(t0 + n) * N + o0 + r] for r < nr, n < nt, M (1 or 2) vectors of 8 tokens
// from the start of tile t0 / 16. V: the AVX-VNNI version (the same integers, so the same bits).
#define DEFINE_Q4G_AVX2(NAME, TGT, V_)                                                                      \
    template <int M, int B>                                                                                 \
    TGT void NAME(const Q4Panel& p, int rp, long kp, long nbu, long t0, int nt, float* y, long N, long o0, \
                  int nr) {                                                                                 \
        constexpr bool V = V_;                                                                              \
        const long nblk = kp / 32, tile = t0 / Q4G_TT;                                                      \
        const uint8_t* xt = g_q4gx.data() + tile * nblk * 512;                                              \
        const float* xs = g_q4gs.data() + tile * nblk * 16;                                                 \
        const __m256i zero = _mm256_setzero_si256();                                                        \
        [[maybe_unused]] const __m256i ones = _mm256_set1_epi16(1);                                         \
        __m256 f00 = _mm256_setzero_ps(), f01 = f00, f10 = f00, f11 = f00, f20 = f00, f21 = f00, f30 = f00, \
               f31 = f00;                                                                                   \
        for (long e = 0; e < nbu; e++) {                                                                    \
            const long wo = (e / 8) * 256 + (e % 8) * 4;                                                    \
            Q4A_ROWS(Q4A_INIT)                                                                              \
            PRAGMA(GCC unroll 8)                                                                            \
            for (int s = 0; s < 8; s++) {                                                                   \
                const long so = (s / 4) * 128 + (s % 4) * 32;                                               \
                const uint8_t* xe = xt + (e * 8 + s) * 64;                                                  \
                const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xe));                \
                const __m256i x1 = M > 1 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xe + 32)) : x0; \
                Q4A_ROWS(Q4A_STEP)                                                                          \
                if constexpr (B == 5 && !V)                                                                 \
                    if (s == 3) {                                                                           \
                        Q4A_ROWS(Q4A_HALF)                                                                  \
                    }                                                                                       \
            }                                                                                               \
            const __m256 s0 = _mm256_loadu_ps(xs + e * 16);                                                 \
            const __m256 s1 = M > 1 ? _mm256_loadu_ps(xs + e * 16 + 8) : s0;                                \
            Q4A_ROWS(Q4A_SCALE)                                                                             \
        }                                                                                                   \
        alignas(32) float out[Q4G_R][Q4G_TT];                                                               \
        Q4A_ROWS(Q4A_OUT)                                                                                   \
        q4g_store(out, nt, nr, y, t0, N, o0);                                                               \
    }

DEFINE_Q4G_AVX2(q4g_tile_avx2, TGT_AVX2, false)
DEFINE_Q4G_AVX2(q4g_tile_avxvnni, TGT_AVXVNNI, true)

// One token's inputs x [cols] into tile layout: token n of the tile at xt (block e, step s at
// xt + 512 e + 64 s + 4 n) and its block scales at xs (+ 16 e + n); past cols, zeros. The very
// values and scales of quantize_q4_input (the same float operations, rounding to nearest even as
// nearbyint does), as u8 q + 128.
TGT_AVX512 void q4g_quantize_token(const float* x, long cols, long nblk, int n, uint8_t* xt, float* xs) {
    const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127), off = _mm512_set1_epi32(128);
    alignas(64) uint8_t q[32];
    for (long e = 0; e < nblk; e++) {
        const long k0 = e * 32, m = std::clamp(cols - k0, 0L, 32L);
        const __mmask16 m0 = __mmask16(m >= 16 ? 0xffff : (1u << m) - 1);
        const __mmask16 m1 = __mmask16(m >= 32 ? 0xffff : m <= 16 ? 0 : (1u << (m - 16)) - 1);
        const __m512 v0 = _mm512_maskz_loadu_ps(m0, x + k0), v1 = _mm512_maskz_loadu_ps(m1, x + k0 + 16);
        const __m512 a0 = _mm512_and_ps(v0, absmask), a1 = _mm512_and_ps(v1, absmask);
        const __m512 flt_max = _mm512_set1_ps(FLT_MAX);
        const bool finite = _mm512_cmp_ps_mask(a0, flt_max, _CMP_LE_OQ) == 0xffff &&
                            _mm512_cmp_ps_mask(a1, flt_max, _CMP_LE_OQ) == 0xffff;
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
        float sc = amax / 127.0f;
        const bool zero = !finite || sc < 1e-30f;
        if (!finite) sc = std::numeric_limits<float>::quiet_NaN();
        else if (zero) sc = 0.0f;
        xs[e * 16 + n] = sc;
        uint8_t* dst = xt + e * 512 + n * 4;
        if (zero) {
            for (int st = 0; st < 8; st++) std::memset(dst + st * 64, 128, 4);
            continue;
        }
        const __m512 inv = _mm512_set1_ps(1.0f / sc);
        const __m512i q0 = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(
                               _mm512_cvtps_epi32(_mm512_mul_ps(v0, inv)), lo), hi), off);
        const __m512i q1 = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(
                               _mm512_cvtps_epi32(_mm512_mul_ps(v1, inv)), lo), hi), off);
        _mm_store_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtepi32_epi8(q0));
        _mm_store_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtepi32_epi8(q1));
        for (int st = 0; st < 8; st++) std::memcpy(dst + st * 64, q + 4 * st, 4);
    }
}

// One block of quantize_q4_input on 256-bit vectors: m <= 32 values at x (past m, zeros), its scale
// sc (0 for an all-zero block, NaN for one with an inf or a NaN: then false, q untouched), else true
// and the 32 values q + OFF as bytes in natural order at q (OFF 0: s8; 128: u8) and their sum (of q).
// The same float operations as the scalar code, rounding to nearest even as nearbyint does.
template <int OFF>
TGT_AVX2 __attribute__((always_inline)) inline bool q4_block_avx2(const float* x, long m, float& sc, uint8_t* q,
                                                                 int32_t& sum) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)), flt_max = _mm256_set1_ps(FLT_MAX);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 v[4];
    bool finite = true;
    __m256 amax8 = _mm256_setzero_ps();
    for (int h = 0; h < 4; h++) {
        const long left = m - 8 * h;
        if (left >= 8) v[h] = _mm256_loadu_ps(x + 8 * h);
        else if (left > 0)
            v[h] = _mm256_maskload_ps(x + 8 * h, _mm256_cmpgt_epi32(_mm256_set1_epi32(int(left)), lane));
        else v[h] = _mm256_setzero_ps();
        const __m256 a = _mm256_and_ps(v[h], absmask);
        finite = finite && _mm256_movemask_ps(_mm256_cmp_ps(a, flt_max, _CMP_LE_OQ)) == 0xff;
        amax8 = _mm256_max_ps(amax8, a);
    }
    __m128 a4 = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
    a4 = _mm_max_ps(a4, _mm_movehl_ps(a4, a4));
    const float amax = _mm_cvtss_f32(_mm_max_ss(a4, _mm_movehdup_ps(a4)));
    sc = amax / 127.0f;
    const bool zero = !finite || sc < 1e-30f;
    if (!finite) sc = std::numeric_limits<float>::quiet_NaN();
    else if (zero) sc = 0.0f;
    if (zero) return false;
    const __m256 inv = _mm256_set1_ps(1.0f / sc);
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127), off = _mm256_set1_epi32(OFF);
    __m256i qi[4], total = _mm256_setzero_si256();
    for (int h = 0; h < 4; h++) {
        const __m256i i = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v[h], inv)), lo), hi);
        total = _mm256_add_epi32(total, i);
        qi[h] = _mm256_add_epi32(i, off);
    }
    // after the two packs, the 4-byte units of values 4 u .. 4 u + 3 lie in the order 0 2 4 6 1 3 5 7
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i b = OFF ? _mm256_packus_epi16(_mm256_packus_epi32(qi[0], qi[1]), _mm256_packus_epi32(qi[2], qi[3]))
                          : _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm256_permutevar8x32_epi32(b, order));
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
    sum = _mm_cvtsi128_si32(_mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1)));
    return true;
}

// The same as q4g_quantize_token with 256-bit vectors (AVX2 has no masked byte stores: the 32 values
// packed to bytes in a register, then put in their steps).
TGT_AVX2 void q4g_quantize_token_avx2(const float* x, long cols, long nblk, int n, uint8_t* xt, float* xs) {
    alignas(32) uint8_t q[32];
    for (long e = 0; e < nblk; e++) {
        const long k0 = e * 32;
        int32_t sum;
        uint8_t* dst = xt + e * 512 + n * 4;
        if (q4_block_avx2<128>(x + k0, std::clamp(cols - k0, 0L, 32L), xs[e * 16 + n], q, sum))
            for (int st = 0; st < 8; st++) std::memcpy(dst + st * 64, q + 4 * st, 4);
        else
            for (int st = 0; st < 8; st++) std::memset(dst + st * 64, 128, 4);
    }
}

// Every token quantised (as for the GEMV) into 16-token tiles; the last tile's missing tokens are
// zeros (scale 0).
void q4g_quantize(int isa, long T, long K, const float* x) {
    const long kp = q4_padded(K), nblk = kp / 32, tiles = (T + Q4G_TT - 1) / Q4G_TT;
    if (long(g_q4gx.size()) < tiles * nblk * 512) g_q4gx.resize(size_t(tiles * nblk * 512));
    if (long(g_q4gs.size()) < tiles * nblk * 16) g_q4gs.resize(size_t(tiles * nblk * 16));
    std::atomic<long> next{0};
    auto job = [&](int, int) {
        // a tile a work item: tokens of one tile share cache lines
        for (long tile; (tile = next.fetch_add(1, std::memory_order_relaxed)) < tiles;)
            for (long t = tile * Q4G_TT; t < (tile + 1) * Q4G_TT; t++)
                (isa >= ISA_AVX512 ? q4g_quantize_token : q4g_quantize_token_avx2)(
                    t < T ? x + t * K : x, t < T ? K : 0, nblk, int(t % Q4G_TT), g_q4gx.data() + tile * nblk * 512,
                    g_q4gs.data() + tile * nblk * 16);
    };
    if (tiles > 1) parallel(job);
    else job(0, 1);  // one tile: not worth waking the pool (a helper may be descheduled)
}

template <int B>
void q4g_gemm(int isa, long T, long K, long N, const float* x, const uint8_t* W, const uint16_t* bs, float* y) {
    const long kp = q4_padded(K), nblk = kp / 32, nbu = (K + 31) / 32;
    q4g_quantize(isa, T, K, x);
    const int nth = pool().size();
    if (long(g_q4gp.size()) < nth) g_q4gp.resize(size_t(nth));
    // Items: (chunk of tokens, panel of rows), chunk-major: a chunk's inputs (~256 KiB) stay in
    // cache while the threads run every panel against them.
    const long step = isa >= ISA_AVX512 ? 2 * Q4G_TT : Q4G_TT;
    const long ctok = std::max(step, (262144 / kp) / step * step);
    const long chunks = (T + ctok - 1) / ctok, groups = (N + Q4G_ROWS - 1) / Q4G_ROWS;
    std::atomic<long> next{0};
    auto job = [&](int tid, int) {
        Q4Panel& p = g_q4gp[size_t(tid)];
        if (long(p.w.size()) < Q4G_ROWS * kp) p.w.resize(size_t(Q4G_ROWS * kp));
        if (long(p.d.size()) < Q4G_ROWS * nblk) p.d.resize(size_t(Q4G_ROWS * nblk)), p.c.resize(size_t(Q4G_ROWS * nblk));
        for (long i; (i = next.fetch_add(1, std::memory_order_relaxed)) < chunks * groups;) {
            const long c = i / groups, o0 = (i % groups) * Q4G_ROWS;
            if (isa >= ISA_AVX512) q4g_unpack<B>(W, bs, kp, nbu, o0, N, p);
            else q4g_unpack_avx2<B>(W, bs, kp, nbu, o0, N, p);
            const long t1 = std::min(T, (c + 1) * ctok);
            for (long t = c * ctok; t < t1; t += step) {
                const int nt = int(std::min(step, t1 - t));
                if (isa == ISA_AVX2) {
                    const bool v = avx_vnni(isa);
                    for (int rp = 0; rp < Q4G_ROWS && o0 + rp < N; rp += Q4G_R) {
                        const int nr = int(std::min<long>(Q4G_R, N - o0 - rp));
                        const int m = nt > Q4G_TT / 2 ? 2 : 1;
                        auto tile = v ? (m == 2 ? q4g_tile_avxvnni<2, B> : q4g_tile_avxvnni<1, B>)
                                      : (m == 2 ? q4g_tile_avx2<2, B> : q4g_tile_avx2<1, B>);
                        tile(p, rp, kp, nbu, t, nt, y, N, o0 + rp, nr);
                    }
                    continue;
                }
                for (int rp = 0; rp < Q4G_ROWS && o0 + rp < N; rp += Q4G_R) {
                    const int nr = int(std::min<long>(Q4G_R, N - o0 - rp));
                    if (isa == ISA_AVX512_VNNI) {
                        if (nt > Q4G_TT) q4g_tile_vnni<2>(p, rp, kp, nbu, t, nt, y, N, o0 + rp, nr);
                        else q4g_tile_vnni<1>(p, rp, kp, nbu, t, nt, y, N, o0 + rp, nr);
                    } else {
                        if (nt > Q4G_TT) q4g_tile_avx512<2>(p, rp, kp, nbu, t, nt, y, N, o0 + rp, nr);
                        else q4g_tile_avx512<1>(p, rp, kp, nbu, t, nt, y, N, o0 + rp, nr);
                    }
                }
            }
        }
    };
    parallel(job);
}
#endif

#define PICK_Q4(NAME, ni) ((ni) == 1 ? NAME<1, B> : (ni) == 2 ? NAME<2, B> : (ni) == 3 ? NAME<3, B> : NAME<4, B>)

template <int B>
GemvQ4Fn gemv_q_fn(int isa, int ni) {
#if RWKV_X86
    if (isa == ISA_AVX512_VNNI) return PICK_Q4(gemv_q4_vnni, ni);
    if (isa == ISA_AVX512) return PICK_Q4(gemv_q4_avx512, ni);
    if (isa == ISA_AVX2) return avx_vnni(isa) ? PICK_Q4(gemv_q4_avxvnni, ni) : PICK_Q4(gemv_q4_avx2, ni);
#endif
    (void)isa;
    return PICK_Q4(gemv_q4_scalar, ni);
}

}  // namespace

#if RWKV_X86
// quantize_q4_input on AVX2 and above: the same values, scales and corrections, a block a call of
// q4_block_avx2 (the scalar loop above, ~2.4 ns a value, was ~2 % of a 1.5B q4 decode step).
TGT_AVX2 void quantize_q4_input_avx2(const float* x, long cols, int8_t* q, int32_t* corr, float* s) {
    const long nblk = q4_padded(cols) / 32;
    alignas(32) uint8_t v[32];
    for (long e = 0; e < nblk; e++) {
        const long k0 = e * 32, at = (e / 8) * 16 + e % 8;
        int8_t* g = q + (e / 8) * Q4_GROUP + (e % 8) * 4;  // block i of its group: bytes 32 s + 4 i + j
        int32_t sum = 0;
        if (q4_block_avx2<0>(x + k0, std::clamp(cols - k0, 0L, 32L), s[at], v, sum))
            for (int st = 0; st < 8; st++) std::memcpy(g + 32 * st, v + 4 * st, 4);
        else
            for (int st = 0; st < 8; st++) std::memset(g + 32 * st, 0, 4);
        s[at + 8] = s[at];
        corr[at] = -8 * sum;
        corr[at + 8] = 0;
    }
}
#endif

GemvQ4Fn gemv_q4_fn(int isa, int ni, int wtype) {
    return wtype == W_Q5 ? gemv_q_fn<5>(isa, ni) : gemv_q_fn<4>(isa, ni);
}

}  // namespace rwkvcpu

using namespace rwkvcpu;

namespace rwkvcpu {

int gemm_q_rows(int wtype, long T, long K, long N, const float* x, const uint8_t* W, const uint16_t* bscale,
                float* y) {
    if (T < 0 || K <= 0 || N < 0 || T > std::numeric_limits<int>::max()) return -1;
    if (T == 0 || N == 0) return 0;
#if RWKV_X86
    const int isa = current_isa();
    if (T >= Q4G_MIN_T && isa >= ISA_AVX2) {
        (wtype == W_Q5 ? q4g_gemm<5> : q4g_gemm<4>)(isa, T, K, N, x, W, bscale, y);
        return 0;
    }
#endif
    MultiGemv g;
    g.nb = int(T);
    g.add(make_mat(W, bscale, N, K, wtype), x, y, ACT_NONE, K, N);
    g.run();
    return 0;
}

}  // namespace rwkvcpu

namespace {
int gemm_q(int wtype, long T, long K, long N, const float* x, const uint8_t* W, const uint16_t* bscale, float* y) {
    std::lock_guard<std::mutex> lk(g_api);
    return gemm_q_rows(wtype, T, K, N, x, W, bscale, y);
}
}  // namespace

// y [T, N] = x [T, K] @ W^T for W q4 (nibbles [N, q4_padded(K) / 2], block scales fp16 [N, q4_blocks(K)]):
// from Q4G_MIN_T tokens on AVX2 / AVX-512 the prompt GEMM (the same bits on either), else the batched
// GEMV, up to GEMV_MAX_NI tokens sharing each weight load. Returns 0, or -1 for a bad size.
API int rwkv_gemm_q4(long T, long K, long N, const float* x, const uint8_t* W, const uint16_t* bscale, float* y) {
    return gemm_q(W_Q4, T, K, N, x, W, bscale, y);
}

// The same for W q5 ([N, 5 q4_padded(K) / 8] bytes, the same block scales).
API int rwkv_gemm_q5(long T, long K, long N, const float* x, const uint8_t* W, const uint16_t* bscale, float* y) {
    return gemm_q(W_Q5, T, K, N, x, W, bscale, y);
}

// The quantisation the q4 and q5 products apply to x [T, K], in natural order: q [T, q4_padded(K)] int8,
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
