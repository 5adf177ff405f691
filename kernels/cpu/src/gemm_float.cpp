// Float GEMM for prompts: Y[T, N] = X[T, K] @ W^T, X float32, W float32 or bf16 ([N, K] row-major, as
// the compiled decode step reads it), Y float32.
//
// Why: torch's fp32 matmul on a prompt's shapes (a few to a few hundred tokens against 768..4096
// square-ish matrices, W transposed) reached 31 GFLOP/s at 32 tokens x 768 x 768 on 2 Zen4 cores
// and ~140 on big products; a register-tiled kernel keeps every FMA unit busy from a handful of
// tokens on.
//
// Layout: as the int8 GEMM (gemm_int8.cpp), the weights are repacked per call, one panel of NR
// output rows at a time, into [K][NR] (for each k the NR outputs side by side: the vector the
// microkernel loads), by 16 x 16 (8 x 8) transposes in registers. Nothing is stored per matrix;
// each thread reuses one panel buffer. The panel (NR * K floats: 144 KiB at K = 768) stays in
// L2 while every token of the work item runs past it.
//
// bf16 weights (a bf16 model on a CPU without bf16 GEMMs: otherwise each matrix was expanded into
// an fp32 scratch copy for torch's GEMM) are widened to fp32 as they are packed: bf16 is the top
// half of an fp32, so widening is a 16-bit shift, exact, and the panel, the microkernels and the
// bits of the result are those of fp32 weights holding the same values.
//
// Microkernel: MR tokens x NR outputs of float accumulators in registers, the outer-product form:
// per k, NR/16 (NR/8) vector loads of the panel, MR broadcasts of one token's input (a memory
// operand of the FMA), MR * NR/16 FMAs. The sums run over k in order, one FMA per term, so every
// instruction set gives the same bits as a plain fused loop (the portable path rounds each product
// unless the compiler fuses it).
//
// Instruction sets (current_isa()):
//   avx512 (and avx512vnni)  8 tokens x 48 outputs (24 zmm accumulators + 3 weight vectors).
//   avx2                     6 x 16 (12 ymm accumulators + 2).
//   scalar                   4 x 16, loops the compiler vectorises for the baseline CPU.

#include "core.h"

namespace rwkvcpu {
namespace {

struct FTile {
    const float* x;  // token t0's inputs, rows ldx apart
    long ldx, K;
    const float* w;  // the panel, [K][NR]
    float* y;        // Y at (t0, o0), rows ldy apart
    long ldy;
    int ncols;       // outputs of the panel inside the matrix (NR, or fewer in the last panel)
    const char* pf;  // weights to prefetch into L2 while multiplying, pfn cache lines per k, up to pf_end
    const char* pf_end;
    int pfn;
};

// The prefetches of one k step (see FGemm::multiply).
__attribute__((always_inline)) inline void prefetch_step(const char*& pf, const FTile& a) {
    if (pf < a.pf_end) {
        for (int j = 0; j < a.pfn; j++) __builtin_prefetch(pf + 64 * j, 0, 2);
        pf += 64 * a.pfn;
    }
}

typedef void (*FTileFn)(const FTile&);
typedef void (*FPackFn)(const void* W, long K, long rows, float* dst);  // W: float or bf16 (uint16_t)

inline float widen(float v) { return v; }
inline float widen(uint16_t v) { return bf16_to_f32(v); }

// ---------------------------------------------------------------------------------------------
// Portable: NR = 16.

template <typename WT>
void pack_scalar(const void* Wv, long K, long rows, float* dst) {
    constexpr int NR = 16;
    const WT* W = static_cast<const WT*>(Wv);
    for (long k = 0; k < K; k++)
        for (int o = 0; o < NR; o++) dst[k * NR + o] = o < rows ? widen(W[o * K + k]) : 0.0f;
}

template <int MR>
void ftile_scalar(const FTile& a) {
    constexpr int NR = 16;
    float acc[MR][NR] = {};
    for (long k = 0; k < a.K; k++) {
        const float* w = a.w + k * NR;
        for (int m = 0; m < MR; m++) {
            const float xv = a.x[m * a.ldx + k];
            PRAGMA(omp simd)
            for (int o = 0; o < NR; o++) acc[m][o] += xv * w[o];
        }
    }
    for (int m = 0; m < MR; m++)
        for (int o = 0; o < a.ncols; o++) a.y[m * a.ldy + o] = acc[m][o];
}

#if RWKV_X86
// ---------------------------------------------------------------------------------------------
// AVX-512: NR = 48, MR = 8.

// The shared 32-bit transposes (core.h), on float vectors.
TGT_AVX512 __attribute__((always_inline)) inline void ftranspose16(__m512 (&f)[16]) {
    __m512i r[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_castps_si512(f[i]);
    transpose16(r);
    for (int i = 0; i < 16; i++) f[i] = _mm512_castsi512_ps(r[i]);
}

// 16 weights of a row as floats, the lanes outside m zero (and not read).
TGT_AVX512 __attribute__((always_inline)) inline __m512 load16(const float* p, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, p);
}
TGT_AVX512 __attribute__((always_inline)) inline __m512 load16(const uint16_t* p, __mmask16 m) {
    const __m512i u = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}

template <typename WT>
TGT_AVX512 void pack_avx512(const void* Wv, long K, long rows, float* dst) {
    constexpr int NR = 48;
    const WT* W = static_cast<const WT*>(Wv);
    for (int b = 0; b < NR; b += 16)
        for (long g = 0; g < K; g += 16) {
            const long left = K - g;
            const __mmask16 m = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = b + i < rows ? load16(W + (b + i) * K + g, m) : _mm512_setzero_ps();
            ftranspose16(r);
            const long n = std::min(16L, left);
            for (long j = 0; j < n; j++) _mm512_storeu_ps(dst + (g + j) * NR + b, r[j]);
        }
}

TGT_AVX512 __attribute__((always_inline)) inline void fstore_row_avx512(__m512 a0, __m512 a1, __m512 a2,
                                                                         const FTile& a, int m) {
    const __m512 acc[3] = {a0, a1, a2};
    float* y = a.y + m * a.ldy;
    PRAGMA(GCC unroll 3)
    for (int j = 0; j < 3; j++) {
        const int n = std::clamp(a.ncols - 16 * j, 0, 16);
        if (n == 16) _mm512_storeu_ps(y + 16 * j, acc[j]);
        else if (n > 0) _mm512_mask_storeu_ps(y + 16 * j, __mmask16((1u << n) - 1), acc[j]);
    }
}

// Accumulators as named variables c<row><vector> (GCC keeps an array of vectors in memory).
#define FOR_ROWS8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define FZERO3(m) [[maybe_unused]] __m512 c##m##0 = zero, c##m##1 = zero, c##m##2 = zero;
#define FSTORE3(m)                                                                                 \
    if constexpr (m < MR) fstore_row_avx512(c##m##0, c##m##1, c##m##2, a, m);
#define FFMA3(m)                                                                                   \
    if constexpr (m < MR) {                                                                        \
        const __m512 b = _mm512_set1_ps(x[m * ldx + k]);                                           \
        c##m##0 = _mm512_fmadd_ps(b, w0, c##m##0);                                                 \
        c##m##1 = _mm512_fmadd_ps(b, w1, c##m##1);                                                 \
        c##m##2 = _mm512_fmadd_ps(b, w2, c##m##2);                                                 \
    }

template <int MR>
TGT_AVX512 void ftile_avx512(const FTile& a) {
    const float* x = a.x;
    const float* w = a.w;
    const long ldx = a.ldx;
    const char* pf = a.pf;
    const __m512 zero = _mm512_setzero_ps();
    FOR_ROWS8(FZERO3)
    for (long k = 0; k < a.K; k++, w += 48) {
        prefetch_step(pf, a);
        const __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16), w2 = _mm512_loadu_ps(w + 32);
        FOR_ROWS8(FFMA3)
    }
    FOR_ROWS8(FSTORE3)
}

// ---------------------------------------------------------------------------------------------
// AVX2: NR = 16, MR = 6.

TGT_AVX2 __attribute__((always_inline)) inline void ftranspose8(__m256 (&f)[8]) {
    __m256i r[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_castps_si256(f[i]);
    transpose8(r);
    for (int i = 0; i < 8; i++) f[i] = _mm256_castsi256_ps(r[i]);
}

// 8 weights of a row as floats: n of them (1..8) read, the rest zero; m the lanes below n.
TGT_AVX2 __attribute__((always_inline)) inline __m256 load8(const float* p, long n, __m256i m) {
    return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}
TGT_AVX2 __attribute__((always_inline)) inline __m256 load8(const uint16_t* p, long n, __m256i) {
    __m128i h;
    if (n >= 8) {
        h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    } else {  // AVX2 has no 16-bit masked load
        alignas(16) uint16_t tail[8] = {};
        std::memcpy(tail, p, size_t(n) * sizeof(uint16_t));
        h = _mm_load_si128(reinterpret_cast<const __m128i*>(tail));
    }
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

template <typename WT>
TGT_AVX2 void pack_avx2(const void* Wv, long K, long rows, float* dst) {
    constexpr int NR = 16;
    const WT* W = static_cast<const WT*>(Wv);
    for (int b = 0; b < NR; b += 8)
        for (long g = 0; g < K; g += 8) {
            const long left = K - g;
            const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(std::min(8L, left))), lane);
            __m256 r[8];
            for (int i = 0; i < 8; i++) r[i] = b + i < rows ? load8(W + (b + i) * K + g, left, m) : _mm256_setzero_ps();
            ftranspose8(r);
            const long n = std::min(8L, left);
            for (long j = 0; j < n; j++) _mm256_storeu_ps(dst + (g + j) * NR + b, r[j]);
        }
}

TGT_AVX2 __attribute__((always_inline)) inline void fstore_row_avx2(__m256 a0, __m256 a1, const FTile& a, int m) {
    const __m256 acc[2] = {a0, a1};
    float* y = a.y + m * a.ldy;
    for (int j = 0; j < 2; j++) {
        const int n = std::clamp(a.ncols - 8 * j, 0, 8);
        if (n == 8) {
            _mm256_storeu_ps(y + 8 * j, acc[j]);
        } else if (n > 0) {
            const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            _mm256_maskstore_ps(y + 8 * j, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane), acc[j]);
        }
    }
}

#define FOR_ROWS6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define FZERO2(m) [[maybe_unused]] __m256 c##m##0 = zero, c##m##1 = zero;
#define FSTORE2(m)                                                                                 \
    if constexpr (m < MR) fstore_row_avx2(c##m##0, c##m##1, a, m);
#define FFMA2(m)                                                                                   \
    if constexpr (m < MR) {                                                                        \
        const __m256 b = _mm256_broadcast_ss(x + m * ldx + k);                                     \
        c##m##0 = _mm256_fmadd_ps(b, w0, c##m##0);                                                 \
        c##m##1 = _mm256_fmadd_ps(b, w1, c##m##1);                                                 \
    }

template <int MR>
TGT_AVX2 void ftile_avx2(const FTile& a) {
    const float* x = a.x;
    const float* w = a.w;
    const long ldx = a.ldx;
    const char* pf = a.pf;
    const __m256 zero = _mm256_setzero_ps();
    FOR_ROWS6(FZERO2)
    // The sizes in locals and the prefetching steps apart: GCC otherwise reloads a.K and a.pf_end
    // from memory on every step (~8 % of this loop's time on Zen 4).
    const long K = a.K;
    const char* const pf_end = a.pf_end;
    const int pfn = a.pfn;
    long k = 0;
    for (; k < K && pf < pf_end; k++, w += 16) {
        for (int j = 0; j < pfn; j++) __builtin_prefetch(pf + 64 * j, 0, 2);
        pf += 64 * pfn;
        const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8);
        FOR_ROWS6(FFMA2)
    }
    for (; k < K; k++, w += 16) {
        const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8);
        FOR_ROWS6(FFMA2)
    }
    FOR_ROWS6(FSTORE2)
}
#endif

// ---------------------------------------------------------------------------------------------
// The driver.

constexpr int FMR_MAX = 8;

// Products of fewer multiply-adds run on the calling thread. A RWKV-7 LoRA at 32 tokens (32 x 768
// x 32..128) took 4-12x longer through the pool than alone: its ~50 us of work waited for a helper
// to wake, or to be scheduled at all beside other processes; in the model at 0.1B its LoRAs went from
// 29 to 8 ms of a 32-token prompt. 4M multiply-adds is ~120 us on one Zen4 core.
constexpr long FINLINE_MACS = 1L << 22;

struct FKernels {
    int nr, mr;  // panel width (outputs), tile height (tokens)
    FPackFn pack[2];            // pack[wtype]: W_F32, W_BF16
    FTileFn tile[FMR_MAX + 1];  // tile[m]: m tokens, 1 <= m <= mr
};

const FKernels& fkernels_for(int isa) {
    static const FKernels scalar = {16, 4, {pack_scalar<float>, pack_scalar<uint16_t>},
                                    {nullptr, ftile_scalar<1>, ftile_scalar<2>, ftile_scalar<3>, ftile_scalar<4>}};
#if RWKV_X86
    static const FKernels avx2 = {16, 6, {pack_avx2<float>, pack_avx2<uint16_t>},
                                  {nullptr, ftile_avx2<1>, ftile_avx2<2>, ftile_avx2<3>, ftile_avx2<4>,
                                   ftile_avx2<5>, ftile_avx2<6>}};
    static const FKernels avx512 = {48, 8, {pack_avx512<float>, pack_avx512<uint16_t>},
                                    {nullptr, ftile_avx512<1>, ftile_avx512<2>, ftile_avx512<3>, ftile_avx512<4>,
                                     ftile_avx512<5>, ftile_avx512<6>, ftile_avx512<7>, ftile_avx512<8>}};
    if (isa >= ISA_AVX512) return avx512;
    if (isa == ISA_AVX2) return avx2;
#endif
    (void)isa;
    return scalar;
}

std::vector<std::vector<float>> g_fpanels;  // each thread's panel, grown once and reused (callers hold g_api)

float* fpanel_buffer(int tid, const FKernels& kn, long K) {
    auto& buf = g_fpanels[tid];
    const size_t n = size_t(kn.nr) * size_t(K) + 16;
    if (buf.size() < n) buf.resize(n);
    return buf.data() + ((-reinterpret_cast<uintptr_t>(buf.data()) & 63) / sizeof(float));
}

struct FGemm {
    long T, K, N;
    const float* x;
    const char* W;  // float or bf16 values, wsize bytes each
    long wsize;
    FPackFn pack;
    float* y;
    const FKernels* kn;
    long panels, tchunks;  // work items: (panel, chunk of tokens), panel-major
    mutable std::atomic<long> next{0};

    // Work items are taken in turn (a descheduled helper's share goes to the others); a thread
    // repacks only when its next item is another panel.
    //
    // Reading a panel's rows from memory took as long as multiplying 8..16 tokens by it (~25 % of a
    // 32-token product), so while a thread multiplies it prefetches into L2 the panel it will likely
    // pack next (items go round the threads in turn: its next is i + nth), spread over the k steps.
    void multiply(int tid, int nth) const {
        const FKernels& k = *kn;
        float* p = fpanel_buffer(tid, k, K);
        long packed = -1;
        const long items = panels * tchunks;
        for (long i; (i = next.fetch_add(1, std::memory_order_relaxed)) < items;) {
            const long pi = i / tchunks, c = i % tchunks, o0 = pi * k.nr;
            const long rows = std::min<long>(k.nr, N - o0);
            if (pi != packed) {
                pack(W + o0 * K * wsize, K, rows, p);
                packed = pi;
            }
            const long t0 = token_bound(c), t1 = token_bound(c + 1);
            if (t0 == t1) continue;  // chunk edges round down to whole tiles: a chunk may be empty
            FTile a{nullptr, K, K, p, nullptr, N, int(rows), nullptr, nullptr, 0};
            const long nxt = (i + nth) / tchunks;
            if (i + nth < items && nxt != pi) {
                const long o1 = nxt * k.nr, r1 = std::min<long>(k.nr, N - o1);
                const long lines = (r1 * K * wsize + 63) / 64, steps = (t1 - t0 + k.mr - 1) / k.mr * K;
                a.pf = W + o1 * K * wsize;
                a.pf_end = a.pf + lines * 64;
                a.pfn = int((lines + steps - 1) / steps);
            }
            for (long t = t0; t < t1; t += k.mr) {
                a.x = x + t * K;
                a.y = y + t * N + o0;
                k.tile[std::min<long>(k.mr, t1 - t)](a);
                a.pf += std::min<long>(a.pf_end - a.pf, long(a.pfn) * 64 * K);
            }
        }
    }
    long token_bound(long c) const {  // chunk edges on whole tiles
        return c == tchunks ? T : (T * c / tchunks) / kn->mr * kn->mr;
    }
};

}  // namespace
}  // namespace rwkvcpu

using namespace rwkvcpu;

namespace rwkvcpu {

int gemm_float_rows(long T, long K, long N, const float* x, const void* W, int wtype, float* y) {
    if (T < 0 || K < 0 || N < 0 || (wtype != W_F32 && wtype != W_BF16)) return -1;
    if (T == 0 || N == 0) return 0;
    if (K == 0) {
        std::fill(y, y + T * N, 0.0f);
        return 0;
    }
    const FKernels& kn = fkernels_for(current_isa());
    FGemm g{T, K, N, x, static_cast<const char*>(W), wtype == W_BF16 ? 2L : 4L, kn.pack[wtype], y, &kn,
            (N + kn.nr - 1) / kn.nr, 1};
    const int nth = pool().size();
    // Enough items for every thread to stay busy: split tokens too when panels are few.
    const long tiles = (T + kn.mr - 1) / kn.mr;
    g.tchunks = std::clamp((4L * nth + g.panels - 1) / g.panels, 1L, tiles);
    if (g_fpanels.size() < size_t(nth)) g_fpanels.resize(size_t(nth));
    if (T * K * N < FINLINE_MACS) {  // on this thread: not worth waking the pool (a helper may be descheduled)
        g.tchunks = 1;
        g.multiply(0, 1);
        return 0;
    }
    auto job = [&](int tid, int nth) { g.multiply(tid, nth); };
    parallel(job);
    return 0;
}

}  // namespace rwkvcpu

// y [T, N] = x [T, K] @ W^T for W [N, K] float32 (wtype W_F32) or bf16 (W_BF16); every array
// contiguous. Returns 0, or -1 for a negative size or another wtype.
API int rwkv_gemm_float(long T, long K, long N, const float* x, const void* W, int wtype, float* y) {
    std::lock_guard<std::mutex> lk(g_api);
    return gemm_float_rows(T, K, N, x, W, wtype, y);
}
