// Internals shared by the compiled CPU kernels' source files (one library, one thread pool):
// instruction-set choice, the thread pool, GEMV over many matrices at once, small numeric helpers.
// See rwkv_cpu.cpp for what the library is; rwkv7.cpp and rwkv456.cpp hold the models' decode steps
// (their pointer and size tables are in layouts.h).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#define RWKV_X86 1
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 headers trip these warnings on their own _mm256_undefined_* placeholders.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#define TGT_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TGT_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define TGT_AVX512VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
// AVX2 with AVX-VNNI: vpdpbusd on 256-bit vectors (VEX), in CPUs without AVX-512 (Alder Lake and later).
#define TGT_AVXVNNI __attribute__((target("avxvnni,avx2,fma,f16c")))
#else
#define RWKV_X86 0
#endif

#if defined(_WIN32)
#define API extern "C" __declspec(dllexport)
#else
#define API extern "C" __attribute__((visibility("default")))
#endif

#define PRAGMA(x) _Pragma(#x)
#define SIMD_REDUCE(...) PRAGMA(omp simd reduction(+ : __VA_ARGS__))

namespace rwkvcpu {

enum Isa { ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512 = 2, ISA_AVX512_VNNI = 3 };  // each includes the ones below
enum WType { W_F32 = 0, W_BF16 = 1, W_I8 = 2, W_Q4 = 3, W_Q5 = 4 };  // W_Q4 / W_Q5: blocks of 32 4- / 5-bit values (gemv_q4.cpp)
enum Act { ACT_NONE = 0, ACT_TANH = 1, ACT_SIGMOID = 2, ACT_RELU_SQ = 3, ACT_SILU = 4 };

// NAME_avx512, NAME_avx2 or NAME_scalar (as the DEFINE_* macros name a kernel's versions), the
// one for ``isa``; ``...`` is appended to the name (template arguments).
#if RWKV_X86
#define PICK_BY_ISA(isa, NAME, ...)                                                                 \
    ((isa) >= ISA_AVX512 ? NAME##_avx512 __VA_ARGS__                                                \
                         : (isa) == ISA_AVX2 ? NAME##_avx2 __VA_ARGS__ : NAME##_scalar __VA_ARGS__)
#else
#define PICK_BY_ISA(isa, NAME, ...) ((void)(isa), NAME##_scalar __VA_ARGS__)
#endif

int isa_supported_max();
int current_isa();
// The AVX2 kernels' AVX-VNNI versions (the int8 and q4 / q5 prompt GEMMs and GEMVs): for `isa`
// AVX2 on a CPU with AVX-VNNI, unless turned off (RWKV_CPU_AVXVNNI=0, rwkv_cpu_set_avx_vnni). Same
// bits either way.
bool avx_vnni(int isa);
extern std::atomic<int> g_isa;

inline void cpu_relax() {
#if RWKV_X86
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// ---------------------------------------------------------------------------------------------
// Thread pool: the calling thread is worker 0; n-1 helpers wait for a new generation number.

typedef void (*TaskFn)(void* ctx, int tid, int nth);

class Pool {
  public:
    explicit Pool(int n) : n_(std::max(1, n)) {
        for (int t = 1; t < n_; t++) threads_.emplace_back([this, t] { work(t); });
    }
    ~Pool() {
        stop_.store(true);
        gen_.fetch_add(1);
        {
            std::lock_guard<std::mutex> lk(m_);
            cv_.notify_all();
        }
        for (auto& t : threads_) t.join();
    }
    int size() const { return n_; }

    void run(TaskFn fn, void* ctx) {
        if (n_ == 1) {
            fn(ctx, 0, 1);
            return;
        }
        fn_ = fn;
        ctx_ = ctx;
        pending_.store(n_ - 1, std::memory_order_relaxed);
        gen_.fetch_add(1);  // seq_cst: publishes fn_/ctx_, ordered against sleepers_ below
        if (sleepers_.load() > 0) {
            std::lock_guard<std::mutex> lk(m_);
            cv_.notify_all();
        }
        fn(ctx, 0, n_);
        // Spin briefly, then yield: on an oversubscribed machine the helper we wait for may need
        // this very core to finish.
        for (unsigned spins = 0; pending_.load(std::memory_order_acquire) != 0; spins++) {
            if (spins < 2000) cpu_relax();
            else std::this_thread::yield();
        }
    }

  private:
    void work(int tid) {
        uint64_t seen = 0;
        const auto spin_for = std::chrono::microseconds(150);  // a decode step's gaps are far shorter
        for (;;) {
            uint64_t g;
            auto t0 = std::chrono::steady_clock::now();
            unsigned spins = 0;
            while ((g = gen_.load(std::memory_order_acquire)) == seen) {
                cpu_relax();
                if ((++spins & 127) == 0 && std::chrono::steady_clock::now() - t0 > spin_for) {
                    std::unique_lock<std::mutex> lk(m_);
                    sleepers_.fetch_add(1);
                    cv_.wait(lk, [&] { return gen_.load() != seen; });
                    sleepers_.fetch_sub(1);
                    t0 = std::chrono::steady_clock::now();
                }
            }
            if (stop_.load()) return;
            seen = g;
            fn_(ctx_, tid, n_);
            pending_.fetch_sub(1, std::memory_order_acq_rel);
        }
    }

    int n_;
    std::vector<std::thread> threads_;
    std::atomic<uint64_t> gen_{0};
    std::atomic<int> pending_{0};
    std::atomic<int> sleepers_{0};
    std::atomic<bool> stop_{false};
    TaskFn fn_ = nullptr;
    void* ctx_ = nullptr;
    std::mutex m_;
    std::condition_variable cv_;
};

extern std::mutex g_api;  // one top-level call at a time: the pool has one job slot
extern Pool* g_pool;
Pool& pool();

template <class F>
void parallel(F& f) {  // f(tid, nth) on every pool thread
    pool().run([](void* c, int tid, int nth) { (*static_cast<F*>(c))(tid, nth); }, &f);
}

inline float bf16_to_f32(uint16_t h) {
    uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

inline uint16_t f32_to_bf16(float f) {  // round to nearest even, as torch does
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
}

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

// float -> IEEE fp16, rounding to nearest even as torch's conversion does (subnormals included;
// past 65504 + half a step: infinity; NaN stays NaN).
inline uint16_t f32_to_half(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
    u &= 0x7fffffffu;
    if (u > 0x7f800000u) return sign | 0x7e00u;             // NaN
    if (u >= 0x477ff000u) return sign | 0x7c00u;            // 65520 and up round to infinity
    if (u >= 0x38800000u)                                   // a normal fp16 (from 2^-14): round at bit 13, rebias
        return sign | uint16_t((u + 0xfffu + ((u >> 13) & 1u) - 0x38000000u) >> 13);
    float a;                                                // subnormal: a multiple of 2^-24 (exact scaling,
    std::memcpy(&a, &u, 4);                                 // then rint: nearest even; 2^-14 itself gives 0x400)
    return sign | uint16_t(std::nearbyint(a * 16777216.0f));
}

inline float sigmoidf(float v) { return 1.0f / (1.0f + std::exp(-v)); }

// e^x in float to ~1 ulp: Cody-Waite reduction x = n ln2 + r, Cephes' degree-7 polynomial for e^r,
// 2^n put into the exponent bits. Branch- and call-free so that a loop of it vectorises (libm's
// expf does not); below e^-87.3 (float's smallest normal) it returns 0, above 88 it saturates.
__attribute__((always_inline)) inline float exp_poly(float x) {
    const float xc = std::min(std::max(x, -87.33f), 88.0f);
    const float n = (xc * 1.44269504f + 12582912.0f) - 12582912.0f;  // round to nearest (1.5 * 2^23)
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const uint32_t bits = uint32_t(int32_t(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, 4);
    return x < -87.33f ? 0.0f : p * scale;
}

#if RWKV_X86
// The sum of a vector's lanes.
TGT_AVX2 inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
TGT_AVX512 inline float hsum512(__m512 v) {
    return hsum256(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}

// Transposes of 32-bit values in registers (the prompt GEMMs pack weight panels with them).
// r[i] = row i of a 16 x 16 matrix of 32-bit values -> r[j] = its column j (4 rounds of shuffles).
TGT_AVX512 __attribute__((always_inline)) inline void transpose16(__m512i (&r)[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {  // pairs of rows interleaved: 2 x 2 blocks
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {  // 4 x 4 blocks: r[i + c] = rows i..i+3 of columns c, c+4, c+8, c+12
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int h = 0; h < 16; h += 8)  // 128-bit lanes of 8 rows
        for (int c = 0; c < 4; c++) {
            t[h + c] = _mm512_shuffle_i32x4(r[h + c], r[h + c + 4], 0x88);
            t[h + c + 4] = _mm512_shuffle_i32x4(r[h + c], r[h + c + 4], 0xdd);
        }
    for (int c = 0; c < 8; c++) {  // and of all 16
        r[c] = _mm512_shuffle_i32x4(t[c], t[c + 8], 0x88);
        r[c + 8] = _mm512_shuffle_i32x4(t[c], t[c + 8], 0xdd);
    }
}
// r[i] = row i of an 8 x 8 matrix of 32-bit values -> r[j] = its column j.
TGT_AVX2 __attribute__((always_inline)) inline void transpose8(__m256i (&r)[8]) {
    __m256i t[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        r[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int c = 0; c < 4; c++) {
        t[c] = _mm256_permute2x128_si256(r[c], r[c + 4], 0x20);
        t[c + 4] = _mm256_permute2x128_si256(r[c], r[c + 4], 0x31);
    }
    for (int c = 0; c < 8; c++) r[c] = t[c];
}

// vpdpbusd on 256-bit vectors, AVX-VNNI's VEX form (as dpbusd below, through asm for the same reason;
// %{ %} writes the braces of {vex}, which GCC's asm templates otherwise read as dialect choices).
TGT_AVXVNNI __attribute__((always_inline)) inline __m256i dpbusd_avx(__m256i c, __m256i u8, __m256i s8) {
#if defined(__GNUC__)
    asm("%{vex%} vpdpbusd %2, %1, %0" : "+x"(c) : "x"(u8), "x"(s8));
    return c;
#else
    return _mm256_dpbusd_avx_epi32(c, u8, s8);
#endif
}

// Keeps a vector in a register: GCC otherwise folds an input's load into each of the tile's R
// multiply-adds (the fp32 / bf16 and int8 GEMV tiles).
#if defined(__GNUC__)
#define IN_REGISTER(v) asm("" : "+v"(v))
#else
#define IN_REGISTER(v) (void)0
#endif

// vpdpbusd: each int32 lane of c gains the 4 products of its 4 bytes of u8 (unsigned) and s8
// (signed). Through asm where we can: with the intrinsic, GCC 12 copies every accumulator and
// stores it to the stack on each step of a k loop (its pattern does not tie c to the output).
TGT_AVX512VNNI __attribute__((always_inline)) inline __m512i dpbusd(__m512i c, __m512i u8, __m512i s8) {
#if defined(__GNUC__)
    asm("vpdpbusd %2, %1, %0" : "+v"(c) : "v"(u8), "v"(s8));
    return c;
#else
    return _mm512_dpbusd_epi32(c, u8, s8);
#endif
}
#endif

// In place over n floats, vectorised for the ISA in use: x = e^x, x = 1 / (1 + e^-x).
void vec_exp(float* x, long n);
void vec_sigmoid(float* x, long n);

// ---------------------------------------------------------------------------------------------
// GEMV over a range of rows: y[o] = W[o, :] . x for o in [r0, r1). W is [rows, cols] row-major.

typedef void (*GemvFn)(const void* W, const float* scale, long cols, const float* x, float* y, long r0,
                       long r1);

// NI inputs at once (batched decode), input n at x + n * xstride, output at y + n * ystride.
typedef void (*GemvNFn)(const void* W, const float* scale, long cols, const float* x, long xstride, float* y,
                        long ystride, long r0, long r1);
constexpr int GEMV_MAX_NI = 4;  // q4 / q5 kernels; fp32 / bf16 take up to gemv_n_max inputs, int8 gemv_i8_n_max

GemvFn gemv_fn(int wtype, int isa);
int gemv_n_max(int wtype, int isa);  // fp32 / bf16 register tiles on AVX2 / AVX-512; 0 elsewhere
int gemv_tile_rows(int isa);         // the rows of those tiles (for 2..gemv_n_max inputs)
GemvNFn gemv_n_fn(int wtype, int isa, int ni);  // ni in 1..gemv_n_max; nullptr: none for this path
// bf16 tiles that take their input split into even and odd halves (AVX-512): the k-step in columns
// (0 where bf16 rows take x as it is), and x in that layout, cols_split(cols, step) floats, zero-padded
// (DEFINE_SIMD_TILE in rwkv_cpu.cpp).
long bf16_split_step(int isa);
inline long cols_split(long cols, long step) { return (cols + step - 1) / step * step; }
void split_bf16_input(const float* x, long cols, int isa, float* out);
void apply_act(int act, float* y, long lo, long hi);
extern std::vector<float> g_xsplit[8];  // bf16 tasks' split inputs, per task slot (callers hold g_api)
extern std::vector<int8_t> g_q4q[8];  // the q4 / q5 tasks' quantised inputs, per task slot (callers hold g_api)
extern std::vector<int32_t> g_q4c[8];
extern std::vector<float> g_q4s[8];

struct Mat {
    const void* w = nullptr;
    const float* scale = nullptr;     // int8 only: one float per output row
    const uint16_t* bscale = nullptr; // q4 / q5 only: one fp16 per block of 32 inputs, [rows][q4_blocks(cols)]
    long rows = 0, cols = 0;
    int wtype = W_F32;
};

// q4 and q5 (gemv_q4.cpp): a row of `cols` inputs is padded to q4_padded(cols) (whole groups of 8
// blocks of 32) and kept as q4_padded * bits / 8 bytes (q4_rowbytes); block scales fp16
// [rows][q4_blocks(cols)].
constexpr long Q4_GROUP = 256;
inline long q4_padded(long cols) { return (cols + Q4_GROUP - 1) / Q4_GROUP * Q4_GROUP; }
inline long q4_blocks(long cols) { return q4_padded(cols) / 32; }
inline bool is_q4_type(int wtype) { return wtype == W_Q4 || wtype == W_Q5; }  // blocks of 32, fp16 scales
inline int q4_bits(int wtype) { return wtype == W_Q5 ? 5 : 4; }
inline long q4_rowbytes(long cols, int bits) { return q4_padded(cols) * bits / 8; }

// The inputs of a q4 or q5 GEMV, quantised per block of 32 (quantize_q4_input): input b's int8 values
// at q + b * kp (in the weights' order, see gemv_q4.cpp); per group of 8 blocks, 16 int32 at
// corr + b * kp / 16 (-8 * each block's sum, as q4 weights are stored + 8, then 8 zeros; q5 kernels,
// stored + 16, take twice it) and 16 floats at s + b * kp / 16 (the block scales, twice): the shapes
// of an AVX-512 group's lanes. The same quantised input serves q4 and q5 tasks alike.
struct Q4In {
    const int8_t* q;
    const int32_t* corr;
    const float* s;
    long kp;
};
// y[n * ystride + o] = W[o, :] . x_(b0 + n) for o in [r0, r1), n < NI (1..GEMV_MAX_NI); wtype W_Q4 or W_Q5.
typedef void (*GemvQ4Fn)(const uint8_t* W, const uint16_t* bscale, long cols, const Q4In& x, int b0, float* y,
                         long ystride, long r0, long r1);
GemvQ4Fn gemv_q4_fn(int isa, int ni, int wtype);
void quantize_q4_input(const float* x, long cols, int8_t* q, int32_t* corr, float* s);

// int8 (gemv_int8.cpp; gemm_int8.cpp for prompts): each input quantised to uint8 u with its own
// scale s and zero point z (quantize_u8_row), exact int32 sums, y[o] = float(sum_k (u[k] - z) *
// W[o, k]) * (s * scale[o]). Those sums fit an int32 for cols <= I8_KMAX (255 * 128 * 65536 < 2^31).
constexpr long I8_KMAX = 65536;
// x [K] -> q [kp] (kp >= K, the tail zero), *s, *z: the prompt GEMM's quantiser, q as uint8 or int16.
void quantize_u8_row(int isa, const float* x, long K, long kp, uint8_t* q, float* s, int32_t* z);
void quantize_u8_row(int isa, const float* x, long K, long kp, int16_t* q, float* s, int32_t* z);
// The inputs of an int8 GEMV, quantised: input b's values at q + b * kp (kp = i8_padded(cols), zeros
// past cols), its scale s[b] and zero point z[b]. With AVX512-VNNI or AVX-VNNI q is uint8 u,
// elsewhere int16 u - z.
struct I8In {
    const void* q;
    const float* s;
    const int32_t* z;
    long kp;
};
inline long i8_padded(long cols) { return (cols + 63) / 64 * 64; }
// y[n * ystride + o] = W[o, :] . x_(b0 + n) for o in [r0, r1), n < NI (1..gemv_i8_n_max).
typedef void (*GemvI8Fn)(const int8_t* W, const float* scale, long cols, const I8In& x, int b0, float* y,
                         long ystride, long r0, long r1);
GemvI8Fn gemv_i8_fn(int isa, int ni);
int gemv_i8_n_max(int isa);
long gemv_i8_block_rows(int isa, long cols);  // rows that run every pass of a batch from L1
void quantize_i8_inputs(int isa, const float* x, long xstride, int nb, long cols, std::vector<uint8_t>& q,
                        std::vector<float>& s, std::vector<int32_t>& z, I8In& in);
extern std::vector<uint8_t> g_i8q[8];  // the int8 tasks' quantised inputs, per task slot (callers hold g_api)
extern std::vector<float> g_i8s[8];
extern std::vector<int32_t> g_i8z[8];

// One matrix times nb inputs: input b at x + b * xstride, its output at y + b * ystride.
struct GemvTask {
    Mat m;
    const float* x;
    float* y;
    int act;
    long xstride, ystride;
    I8In i8;            // int8 weights: the inputs quantised to 8 bits
    Q4In q4;            // q4 weights: the inputs quantised per block
};

// Several GEMVs in one parallel region, the work (rows x cols) shared evenly between threads.
//
// Batched decode (nb > 1 inputs per matrix): a weight matrix is read from memory once per step
// whatever nb is. fp32 / bf16 on AVX2 / AVX-512: register tiles of rows x up to gemv_n_max inputs,
// the inputs in as few passes as that allows, each tile's rows running every pass from L1; an
// output's sums do not depend on the tile (rwkv_cpu.cpp, DEFINE_SIMD_TILE). int8 on every ISA
// likewise, in passes of up to gemv_i8_n_max inputs over blocks of gemv_i8_block_rows rows: its
// sums are exact integers, so any tile gives the same bits (gemv_int8.cpp). q4 / q5 and the portable
// fp32 / bf16 path: a thread's rows in blocks of ~16 KiB, each multiplied with every input while it
// sits in L1, up to GEMV_MAX_NI inputs sharing each weight load on SIMD paths; each input's sums
// formed in the order of the one-input kernel (the portable path runs that very kernel, on rows
// grouped the same way: blocks of a multiple of 4 rows from the chunk's first, and chunks that
// depend on the work, not on nb). So a batched step is bit-identical to nb single steps.
struct MultiGemv {
    GemvTask t[8];
    int n = 0;
    int nb = 1;
    int isa = ISA_SCALAR;
    // xstride / ystride 0: the inputs and outputs lie back to back (cols and rows apart)
    void add(const Mat& m, const float* x, float* y, int act = ACT_NONE, long xstride = 0, long ystride = 0) {
        t[n++] = GemvTask{m, x, y, act, xstride ? xstride : m.cols, ystride ? ystride : m.rows, {}, {}};
    }
    // The work is cut into chunks that threads take in turn: on a busy machine a helper thread may
    // be descheduled, and the others then simply do its share.
    mutable std::atomic<long> next{0};
    long total = 0, chunks = 1;
    void operator()(int, int) const {
        for (long c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;)
            process(total * c / chunks, total * (c + 1) / chunks);
    }
    void rows(const GemvTask& g, int b, long r0, long r1) const {
        const long c = g.m.cols;
        if (is_q4_type(g.m.wtype))
            gemv_q4_fn(isa, 1, g.m.wtype)(static_cast<const uint8_t*>(g.m.w), g.m.bscale, c, g.q4, b, g.y + b * g.ystride,
                               g.ystride, r0, r1);
        else if (g.m.wtype == W_I8)
            gemv_i8_fn(isa, 1)(static_cast<const int8_t*>(g.m.w), g.m.scale, c, g.i8, b, g.y + b * g.ystride,
                               g.ystride, r0, r1);
        else
            gemv_fn(g.m.wtype, isa)(g.m.w, g.m.scale, c, g.x + b * g.xstride, g.y + b * g.ystride, r0, r1);
    }
    // inputs b .. b + ni - 1 over rows [r0, r1): one NI-input kernel call where the path has one
    void rows_n(const GemvTask& g, int b, int ni, long r0, long r1) const {
        const long c = g.m.cols;
        if (is_q4_type(g.m.wtype)) {
            gemv_q4_fn(isa, ni, g.m.wtype)(static_cast<const uint8_t*>(g.m.w), g.m.bscale, c, g.q4, b, g.y + b * g.ystride,
                                g.ystride, r0, r1);
            return;
        }
        if (g.m.wtype == W_I8) {
            gemv_i8_fn(isa, ni)(static_cast<const int8_t*>(g.m.w), g.m.scale, c, g.i8, b, g.y + b * g.ystride,
                                g.ystride, r0, r1);
            return;
        }
        if (GemvNFn f = gemv_n_fn(g.m.wtype, isa, ni)) {
            f(g.m.w, g.m.scale, c, g.x + b * g.xstride, g.xstride, g.y + b * g.ystride, g.ystride, r0, r1);
            return;
        }
        for (int n = 0; n < ni; n++) rows(g, b + n, r0, r1);
    }
    void process(long lo, long hi) const {
        long base = 0;
        for (int i = 0; i < n; i++) {
            const GemvTask& g = t[i];
            long c = g.m.cols, cost = g.m.rows * c;
            // rows whose start offset base + o*c falls in [lo, hi)
            long r0 = std::clamp((lo - base + c - 1) / c, 0L, g.m.rows);
            long r1 = std::clamp((hi - base + c - 1) / c, 0L, g.m.rows);
            if (lo <= base) r0 = 0;
            if (r1 > r0) {
                const bool i8 = g.m.wtype == W_I8;
                const int tile_ni = i8 ? gemv_i8_n_max(isa) : gemv_n_max(g.m.wtype, isa);
                if (nb == 1) {
                    rows(g, 0, r0, r1);
                } else if (tile_ni) {
                    // fp32 / bf16 / int8 tiles: the inputs in as few passes as the registers allow, of
                    // even sizes; with more than one, each block's rows run every pass (from L1)
                    const int passes = (nb + tile_ni - 1) / tile_ni;
                    const long rb = passes == 1 ? r1 - r0 : i8 ? gemv_i8_block_rows(isa, c) : gemv_tile_rows(isa);
                    for (long o = r0; o < r1; o += rb)
                        for (int p = 0; p < passes; p++)
                            rows_n(g, nb * p / passes, nb * (p + 1) / passes - nb * p / passes, o,
                                   std::min(r1, o + rb));
                } else {
                    const long rowbytes = is_q4_type(g.m.wtype) ? q4_rowbytes(c, q4_bits(g.m.wtype)) + q4_blocks(c) * 2
                                          : c * (g.m.wtype == W_F32 ? 4 : 2);
                    const long rb = std::max(4L, (16384 / rowbytes) & ~3L);  // ~16 KiB of weights
                    for (long o = r0; o < r1; o += rb)
                        for (int b = 0; b < nb; b += GEMV_MAX_NI)
                            rows_n(g, b, std::min(GEMV_MAX_NI, nb - b), o, std::min(r1, o + rb));
                }
                for (int b = 0; b < nb; b++) apply_act(g.act, g.y + b * g.ystride, r0, r1);
            }
            base += cost;
        }
    }
    // The first task up to i with i's kind of input (its weight type; q4 and q5 share one) and width
    // that reads the same input (input(k): task k's input pointer and stride), so that a converted
    // input is made once and shared; i if none.
    static int input_kind(int wtype) { return wtype == W_Q5 ? W_Q4 : wtype; }
    template <class Input>
    int first_reader(int i, Input input) const {
        int j = 0;
        while (j < i && !(input_kind(t[j].m.wtype) == input_kind(t[i].m.wtype) && t[j].m.cols == t[i].m.cols &&
                          input(j) == input(i)))
            j++;
        return j;
    }
    // q4 and q5 tasks: every input quantised per block of 32 once, shared by tasks that read the same input.
    void quantize_q4_inputs() {
        for (int i = 0; i < n; i++) {
            if (!is_q4_type(t[i].m.wtype)) continue;
            const long c = t[i].m.cols, kp = q4_padded(c);
            const int j = first_reader(i, [&](int k) { return std::make_pair(t[k].x, t[k].xstride); });
            if (j < i) {
                t[i].q4 = t[j].q4;
                continue;
            }
            auto& q = g_q4q[i];
            auto& corr = g_q4c[i];
            auto& s = g_q4s[i];
            if (long(q.size()) < nb * kp) q.resize(nb * kp), corr.resize(nb * kp / 16), s.resize(nb * kp / 16);
            // (the buffers grow to the largest batch, once); a prompt's tokens quantised in parallel
            std::atomic<int> next{0};
            auto job = [&](int, int) {
                for (int b; (b = next.fetch_add(1, std::memory_order_relaxed)) < nb;)
                    quantize_q4_input(t[i].x + b * t[i].xstride, c, q.data() + b * kp, corr.data() + b * kp / 16,
                                      s.data() + b * kp / 16);
            };
            if (nb >= 16) parallel(job);
            else job(0, 1);
            t[i].q4 = Q4In{q.data(), corr.data(), s.data(), kp};
        }
    }
    // bf16 tasks where the tiles want it (AVX-512): every input split once into their layout (x and
    // xstride then point at the copy), shared by tasks that read the same input.
    void split_bf16_inputs() {
        const long step = bf16_split_step(isa);
        if (!step) return;
        const float* from[8];
        long fstride[8];
        for (int i = 0; i < n; i++) {
            from[i] = t[i].x, fstride[i] = t[i].xstride;
            if (t[i].m.wtype != W_BF16) continue;
            const long c = t[i].m.cols, cp = cols_split(c, step);
            const int j = first_reader(i, [&](int k) { return std::make_pair(from[k], fstride[k]); });
            if (j < i) {
                t[i].x = t[j].x, t[i].xstride = t[j].xstride;
                continue;
            }
            auto& buf = g_xsplit[i];
            if (long(buf.size()) < nb * cp) buf.resize(nb * cp);  // grows to the largest batch, once
            for (int b = 0; b < nb; b++) split_bf16_input(from[i] + b * fstride[i], c, isa, buf.data() + b * cp);
            t[i].x = buf.data(), t[i].xstride = cp;
        }
    }
    void run() {
        isa = current_isa();
        quantize_q4_inputs();
        split_bf16_inputs();
        for (int i = 0; i < n; i++) {
            if (t[i].m.wtype != W_I8) continue;
            // an input already quantised for an earlier task (x_v feeds V and v1)
            const int j = first_reader(i, [&](int k) { return std::make_pair(t[k].x, t[k].xstride); });
            if (j < i) t[i].i8 = t[j].i8;
            else quantize_i8_inputs(isa, t[i].x, t[i].xstride, nb, t[i].m.cols, g_i8q[i], g_i8s[i], g_i8z[i], t[i].i8);
        }
        total = 0;
        for (int i = 0; i < n; i++) total += t[i].m.rows * t[i].m.cols;
        const int nth = pool().size();
        chunks = nth == 1 ? 1 : std::max(1L, std::min(8L * nth, total / 16384));
        next.store(0);
        parallel(*this);
    }
};

Mat make_mat(const void* w, const void* scale, long rows, long cols, int wtype);

// y [T, N] = x [T, K] @ W^T, the prompt products without the API lock (callers hold g_api): the float
// GEMM (W fp32 or bf16, gemm_float.cpp), the int8 GEMM (gemm_int8.cpp), q4 / q5 (gemv_q4.cpp: the
// blocked GEMM from Q4G_MIN_T tokens, else the batched GEMV). 0, or -1 for sizes they refuse.
int gemm_float_rows(long T, long K, long N, const float* x, const void* W, int wtype, float* y);
int gemm_i8_rows(long T, long K, long N, const float* x, const int8_t* W, const float* scale, float* y);
int gemm_q_rows(int wtype, long T, long K, long N, const float* x, const uint8_t* W, const uint16_t* bscale,
                float* y);

constexpr float LN_EPS = 1e-5f;
constexpr float GN_EPS = 64e-5f;

void layer_norm(const float* x, const float* w, const float* b, float* out, int C);

// The token-shift states are fp32, or bf16 for bf16 models (the State's dtype follows the precision).
struct Shift {
    void* base;
    int bf16;
    float get(long i) const {
        return bf16 ? bf16_to_f32(static_cast<uint16_t*>(base)[i]) : static_cast<float*>(base)[i];
    }
    void set(long i, float v) const {
        if (bf16) static_cast<uint16_t*>(base)[i] = f32_to_bf16(v);
        else static_cast<float*>(base)[i] = v;
    }
};

}  // namespace rwkvcpu
