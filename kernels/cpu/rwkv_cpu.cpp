// RWKV Desktop's compiled CPU kernels: plain C++ called through ctypes on raw float arrays.
//
// Built for a baseline CPU of its architecture (no -march=native): the hot loops exist in an
// AVX-512, an AVX2+FMA and a portable version, and the fastest one this CPU (and OS) supports is
// picked at run time; RWKV_CPU_ISA=scalar|avx2|avx512 (or rwkv_cpu_set_isa) forces a lower one.
// Threads come from a small persistent pool of our own (spin briefly, then sleep), sized by the
// caller, so that no second OpenMP runtime ever spins beside torch's.
//
// What is here: a matrix-vector product over rows ("GEMV", weights [out, in] in fp32, bf16 or int8
// with a float scale per output row), the WKV-7 recurrence (one step and a sequence, parallel over
// heads), and one fused call that decodes one RWKV-7 token through the whole model.

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
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#define RWKV_X86 1
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 headers trip this warning on their own _mm256_undefined_* placeholders.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#define TGT_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TGT_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
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

namespace {

enum Isa { ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };
enum WType { W_F32 = 0, W_BF16 = 1, W_I8 = 2 };
enum Act { ACT_NONE = 0, ACT_TANH = 1, ACT_SIGMOID = 2, ACT_RELU_SQ = 3 };

int isa_supported_max() {
#if RWKV_X86
    __builtin_cpu_init();
    // libgcc also checks that the OS saves the wider registers (XCR0) before reporting these.
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("fma"))
        return ISA_AVX512;
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

std::mutex g_api;  // one top-level call at a time: the pool has one job slot
Pool* g_pool = nullptr;

Pool& pool() {
    if (!g_pool) g_pool = new Pool(1);
    return *g_pool;
}

template <class F>
void parallel(F& f) {  // f(tid, nth) on every pool thread
    pool().run([](void* c, int tid, int nth) { (*static_cast<F*>(c))(tid, nth); }, &f);
}


// ---------------------------------------------------------------------------------------------
// GEMV over a range of rows: y[o] = W[o, :] . x for o in [r0, r1). W is [rows, cols] row-major.

typedef void (*GemvFn)(const void* W, const float* scale, long cols, const float* x, float* y, long r0,
                       long r1);

inline float bf16_to_f32(uint16_t h) {
    uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

#define DEFINE_SCALAR_GEMV(NAME, T, LOAD, SCALE)                                                     \
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
            y[o] = s0 * SCALE(o);                                                                   \
            y[o + 1] = s1 * SCALE(o + 1);                                                           \
            y[o + 2] = s2 * SCALE(o + 2);                                                           \
            y[o + 3] = s3 * SCALE(o + 3);                                                           \
        }                                                                                           \
        for (; o < r1; o++) {                                                                       \
            const T* w0 = W + o * cols;                                                             \
            float s0 = 0;                                                                           \
            SIMD_REDUCE(s0)                                                                         \
            for (long i = 0; i < cols; i++) s0 += LOAD(w0[i]) * x[i];                               \
            y[o] = s0 * SCALE(o);                                                                   \
        }                                                                                           \
    }

#define LOAD_F32(v) (v)
#define LOAD_BF16(v) bf16_to_f32(v)
#define LOAD_I8(v) float(v)
#define SCALE_ONE(o) 1.0f
#define SCALE_ROW(o) scale[o]

DEFINE_SCALAR_GEMV(gemv_f32_scalar, float, LOAD_F32, SCALE_ONE)
DEFINE_SCALAR_GEMV(gemv_bf16_scalar, uint16_t, LOAD_BF16, SCALE_ONE)
DEFINE_SCALAR_GEMV(gemv_i8_scalar, int8_t, LOAD_I8, SCALE_ROW)

#if RWKV_X86
// One row at a time, four accumulators across its columns: a thread's rows are one sequential
// stream, which the hardware prefetcher follows best (measured ~2x four interleaved short rows).
#define DEFINE_SIMD_SEQ(NAME, TGT, T, VEC_T, WIDTH, ZERO, LOADX, LOADW, FMA, ADD, HSUM, LOAD1, SCALE)   \
    TGT void NAME(const void* Wv, const float* scale, long cols, const float* x, float* y, long r0, \
                  long r1) {                                                                        \
        const T* W = static_cast<const T*>(Wv);                                                     \
        (void)scale;                                                                                \
        const long cv = cols - cols % WIDTH;                                                        \
        for (long o = r0; o < r1; o++) {                                                            \
            const T* w = W + o * cols;                                                              \
            VEC_T a0 = ZERO, a1 = ZERO, a2 = ZERO, a3 = ZERO;                                       \
            long i = 0;                                                                             \
            for (; i + 4 * WIDTH <= cv; i += 4 * WIDTH) {                                           \
                a0 = FMA(LOADW(w + i), LOADX(x + i), a0);                                           \
                a1 = FMA(LOADW(w + i + WIDTH), LOADX(x + i + WIDTH), a1);                           \
                a2 = FMA(LOADW(w + i + 2 * WIDTH), LOADX(x + i + 2 * WIDTH), a2);                   \
                a3 = FMA(LOADW(w + i + 3 * WIDTH), LOADX(x + i + 3 * WIDTH), a3);                   \
            }                                                                                       \
            for (; i < cv; i += WIDTH) a0 = FMA(LOADW(w + i), LOADX(x + i), a0);                    \
            float s0 = HSUM(ADD(ADD(a0, a1), ADD(a2, a3)));                                         \
            for (; i < cols; i++) s0 += LOAD1(w[i]) * x[i];                                         \
            y[o] = s0 * SCALE(o);                                                                   \
        }                                                                                           \
    }

TGT_AVX2 inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
TGT_AVX2 inline __m256 load8_f32(const float* p) { return _mm256_loadu_ps(p); }
TGT_AVX2 inline __m256 load8_bf16(const uint16_t* p) {
    __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
}
TGT_AVX2 inline __m256 load8_i8(const int8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

TGT_AVX512 inline float hsum512(__m512 v) {
    return hsum256(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}
TGT_AVX512 inline __m512 load16_f32(const float* p) { return _mm512_loadu_ps(p); }
TGT_AVX512 inline __m512 load16_bf16(const uint16_t* p) {
    __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}
TGT_AVX512 inline __m512 load16_i8(const int8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

DEFINE_SIMD_SEQ(gemv_f32_avx2, TGT_AVX2, float, __m256, 8, _mm256_setzero_ps(), _mm256_loadu_ps, load8_f32,
                _mm256_fmadd_ps, _mm256_add_ps, hsum256, LOAD_F32, SCALE_ONE)
DEFINE_SIMD_SEQ(gemv_bf16_avx2, TGT_AVX2, uint16_t, __m256, 8, _mm256_setzero_ps(), _mm256_loadu_ps, load8_bf16,
                _mm256_fmadd_ps, _mm256_add_ps, hsum256, LOAD_BF16, SCALE_ONE)
DEFINE_SIMD_SEQ(gemv_i8_avx2, TGT_AVX2, int8_t, __m256, 8, _mm256_setzero_ps(), _mm256_loadu_ps, load8_i8,
                _mm256_fmadd_ps, _mm256_add_ps, hsum256, LOAD_I8, SCALE_ROW)
DEFINE_SIMD_SEQ(gemv_f32_avx512, TGT_AVX512, float, __m512, 16, _mm512_setzero_ps(), _mm512_loadu_ps, load16_f32,
                _mm512_fmadd_ps, _mm512_add_ps, hsum512, LOAD_F32, SCALE_ONE)
DEFINE_SIMD_SEQ(gemv_bf16_avx512, TGT_AVX512, uint16_t, __m512, 16, _mm512_setzero_ps(), _mm512_loadu_ps,
                load16_bf16, _mm512_fmadd_ps, _mm512_add_ps, hsum512, LOAD_BF16, SCALE_ONE)
DEFINE_SIMD_SEQ(gemv_i8_avx512, TGT_AVX512, int8_t, __m512, 16, _mm512_setzero_ps(), _mm512_loadu_ps, load16_i8,
                _mm512_fmadd_ps, _mm512_add_ps, hsum512, LOAD_I8, SCALE_ROW)
#endif

// int8 weights with SIMD: the float conversion of every weight made these kernels compute-bound
// (measured ~2x the time that their bytes take). Instead the input vector is quantised once per
// call to int16 (scale max|x| / 32767, a relative error ~1e-5, far below int8's) and rows are
// multiplied with vpmaddwd: int8 -> int16 -> pairwise int32 products. int32 sums are flushed to
// float every I16_BLOCK columns so they cannot overflow (127 * 32767 * 2 * 2048/16 < 2^31).
typedef void (*GemvQFn)(const int8_t* W, const float* scale, long cols, const int16_t* xq, float xs, float* y,
                        long r0, long r1);
constexpr long I16_BLOCK = 2048;

#if RWKV_X86
// One row at a time: within a thread's rows the weights are one sequential stream.
#define DEFINE_I8Q_GEMV(NAME, TGT, IVEC, WIDTH, ZERO, LOADX, LOADW, MADD, ADD, TOF, FVEC, FZERO, FADD, HSUM)    \
    TGT void NAME(const int8_t* W, const float* scale, long cols, const int16_t* xq, float xs, float* y,    \
                  long r0, long r1) {                                                                      \
        const long cv = cols - cols % WIDTH;                                                                \
        for (long o = r0; o < r1; o++) {                                                                    \
            const int8_t* w = W + o * cols;                                                                 \
            FVEC f = FZERO;                                                                                 \
            for (long b = 0; b < cv; b += I16_BLOCK) {                                                      \
                const long e = std::min(cv, b + I16_BLOCK);                                                 \
                IVEC a0 = ZERO, a1 = ZERO, a2 = ZERO, a3 = ZERO;                                            \
                long i = b;                                                                                 \
                for (; i + 4 * WIDTH <= e; i += 4 * WIDTH) {                                                \
                    a0 = ADD(a0, MADD(LOADW(w + i), LOADX(xq + i)));                                        \
                    a1 = ADD(a1, MADD(LOADW(w + i + WIDTH), LOADX(xq + i + WIDTH)));                        \
                    a2 = ADD(a2, MADD(LOADW(w + i + 2 * WIDTH), LOADX(xq + i + 2 * WIDTH)));                \
                    a3 = ADD(a3, MADD(LOADW(w + i + 3 * WIDTH), LOADX(xq + i + 3 * WIDTH)));                \
                }                                                                                           \
                for (; i < e; i += WIDTH) a0 = ADD(a0, MADD(LOADW(w + i), LOADX(xq + i)));                  \
                f = FADD(f, TOF(ADD(ADD(a0, a1), ADD(a2, a3))));                                            \
            }                                                                                               \
            long t = 0;                                                                                     \
            for (long i = cv; i < cols; i++) t += long(w[i]) * xq[i];                                       \
            y[o] = (HSUM(f) + float(t)) * xs * scale[o];                                                    \
        }                                                                                                   \
    }

TGT_AVX2 inline __m256i ldx16_avx2(const int16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
TGT_AVX2 inline __m256i ldw16_avx2(const int8_t* p) {
    return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
TGT_AVX512 inline __m512i ldx32_avx512(const int16_t* p) { return _mm512_loadu_si512(p); }
TGT_AVX512 inline __m512i ldw32_avx512(const int8_t* p) {
    return _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

DEFINE_I8Q_GEMV(gemv_i8q_avx2, TGT_AVX2, __m256i, 16, _mm256_setzero_si256(), ldx16_avx2, ldw16_avx2,
                _mm256_madd_epi16, _mm256_add_epi32, _mm256_cvtepi32_ps, __m256, _mm256_setzero_ps(), _mm256_add_ps,
                hsum256)
DEFINE_I8Q_GEMV(gemv_i8q_avx512, TGT_AVX512, __m512i, 32, _mm512_setzero_si512(), ldx32_avx512, ldw32_avx512,
                _mm512_madd_epi16, _mm512_add_epi32, _mm512_cvtepi32_ps, __m512, _mm512_setzero_ps(), _mm512_add_ps,
                hsum512)
#endif

GemvQFn gemv_q_fn(int isa) {
#if RWKV_X86
    if (isa == ISA_AVX512) return gemv_i8q_avx512;
    if (isa == ISA_AVX2) return gemv_i8q_avx2;
#endif
    (void)isa;
    return nullptr;  // the portable path converts every weight to float instead
}

float quantize_i16(const float* x, long n, int16_t* q) {
    float m = 0;
    for (long i = 0; i < n; i++) m = std::max(m, std::fabs(x[i]));
    const float s = m > 0 ? m / 32767.0f : 1.0f, inv = 1.0f / s;
    for (long i = 0; i < n; i++) q[i] = int16_t(std::lrint(x[i] * inv));
    return s;
}

std::vector<int16_t> g_xq[8];  // per task slot; grows once, reused (callers hold g_api)

GemvFn gemv_fn(int wtype, int isa) {
    static const GemvFn scalar[3] = {gemv_f32_scalar, gemv_bf16_scalar, gemv_i8_scalar};
#if RWKV_X86
    static const GemvFn avx2[3] = {gemv_f32_avx2, gemv_bf16_avx2, gemv_i8_avx2};
    static const GemvFn avx512[3] = {gemv_f32_avx512, gemv_bf16_avx512, gemv_i8_avx512};
    if (isa == ISA_AVX512) return avx512[wtype];
    if (isa == ISA_AVX2) return avx2[wtype];
#endif
    (void)isa;
    return scalar[wtype];
}

inline float sigmoidf(float v) { return 1.0f / (1.0f + std::exp(-v)); }

void apply_act(int act, float* y, long lo, long hi) {
    switch (act) {
        case ACT_TANH:
            for (long i = lo; i < hi; i++) y[i] = std::tanh(y[i]);
            break;
        case ACT_SIGMOID:
            for (long i = lo; i < hi; i++) y[i] = sigmoidf(y[i]);
            break;
        case ACT_RELU_SQ:
            for (long i = lo; i < hi; i++) {
                float v = y[i] > 0 ? y[i] : 0.0f;
                y[i] = v * v;
            }
            break;
        default:
            break;
    }
}

struct Mat {
    const void* w = nullptr;
    const float* scale = nullptr;  // int8 only: one float per output row
    long rows = 0, cols = 0;
    int wtype = W_F32;
};

struct GemvTask {
    Mat m;
    const float* x;
    float* y;
    int act;
    const int16_t* xq;  // int8 weights on SIMD paths: x quantised to int16, scale xs
    float xs;
};

// Several GEMVs in one parallel region, the work (rows x cols) shared evenly between threads.
struct MultiGemv {
    GemvTask t[8];
    int n = 0;
    int isa = ISA_SCALAR;
    void add(const Mat& m, const float* x, float* y, int act = ACT_NONE) {
        t[n++] = GemvTask{m, x, y, act, nullptr, 0.0f};
    }
    // The work is cut into chunks that threads take in turn: on a busy machine a helper thread may
    // be descheduled, and the others then simply do its share.
    mutable std::atomic<long> next{0};
    long total = 0, chunks = 1;
    void operator()(int, int) const {
        for (long c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;)
            process(total * c / chunks, total * (c + 1) / chunks);
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
                if (g.xq)
                    gemv_q_fn(isa)(static_cast<const int8_t*>(g.m.w), g.m.scale, c, g.xq, g.xs, g.y, r0, r1);
                else
                    gemv_fn(g.m.wtype, isa)(g.m.w, g.m.scale, c, g.x, g.y, r0, r1);
                apply_act(g.act, g.y, r0, r1);
            }
            base += cost;
        }
    }
    void run() {
        isa = current_isa();
        if (gemv_q_fn(isa)) {
            for (int i = 0; i < n; i++) {
                if (t[i].m.wtype != W_I8) continue;
                int j = 0;  // an input already quantised for an earlier task (x_v feeds V and v1)
                while (j < i && !(t[j].xq && t[j].x == t[i].x && t[j].m.cols == t[i].m.cols)) j++;
                if (j < i) {
                    t[i].xq = t[j].xq;
                    t[i].xs = t[j].xs;
                    continue;
                }
                auto& buf = g_xq[i];
                if (long(buf.size()) < t[i].m.cols) buf.resize(t[i].m.cols);
                t[i].xs = quantize_i16(t[i].x, t[i].m.cols, buf.data());
                t[i].xq = buf.data();
            }
        }
        total = 0;
        for (int i = 0; i < n; i++) total += t[i].m.rows * t[i].m.cols;
        const int nth = pool().size();
        chunks = nth == 1 ? 1 : std::max(1L, std::min(8L * nth, total / 16384));
        next.store(0);
        parallel(*this);
    }
};

// ---------------------------------------------------------------------------------------------
// WKV-7, one head, one token. S is [value i, key j]:
//   S = S diag(w) + (S a) b^T + v k^T;   y = S r

#define DEFINE_WKV7_HEAD(NAME, TGT)                                                                  \
    TGT void NAME(int N, const float* r, const float* w, const float* k, const float* v,            \
                  const float* a, const float* b, float* S, float* y) {                             \
        for (int i = 0; i < N; i++) {                                                               \
            float* s = S + (long)i * N;                                                             \
            float sa = 0;                                                                           \
            SIMD_REDUCE(sa)                                                                         \
            for (int j = 0; j < N; j++) sa += s[j] * a[j];                                          \
            const float vi = v[i];                                                                  \
            float yi = 0;                                                                           \
            SIMD_REDUCE(yi)                                                                         \
            for (int j = 0; j < N; j++) {                                                           \
                float t = s[j] * w[j] + sa * b[j] + vi * k[j];                                      \
                s[j] = t;                                                                           \
                yi += t * r[j];                                                                     \
            }                                                                                       \
            y[i] = yi;                                                                              \
        }                                                                                           \
    }

typedef void (*Wkv7HeadFn)(int, const float*, const float*, const float*, const float*, const float*,
                           const float*, float*, float*);

DEFINE_WKV7_HEAD(wkv7_head_scalar, )
#if RWKV_X86
DEFINE_WKV7_HEAD(wkv7_head_avx2, TGT_AVX2)
DEFINE_WKV7_HEAD(wkv7_head_avx512, TGT_AVX512)
#endif

Wkv7HeadFn wkv7_head_fn(int isa) {
#if RWKV_X86
    if (isa == ISA_AVX512) return wkv7_head_avx512;
    if (isa == ISA_AVX2) return wkv7_head_avx2;
#endif
    (void)isa;
    return wkv7_head_scalar;
}

// ---------------------------------------------------------------------------------------------
// The fused RWKV-7 decode step.

constexpr float DECAY_SCALE = 0.606531f;  // e^-0.5 truncated as the reference does
constexpr float LN_EPS = 1e-5f;
constexpr float GN_EPS = 64e-5f;

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

// Pointers per layer, in the order kernels/cpu.py passes them.
enum LayerPtr {
    P_LN1_W, P_LN1_B, P_LN2_W, P_LN2_B, P_MIX, P_W0, P_W1, P_W2, P_A0, P_A1, P_A2, P_V0, P_V1, P_V2,
    P_G1, P_G2, P_K_K, P_K_A, P_R_K, P_R, P_R_S, P_K, P_K_S, P_V, P_V_S, P_O, P_O_S, P_LNX_W, P_LNX_B,
    P_FFN_MIX, P_FK, P_FK_S, P_FV, P_FV_S, P_W1_S, P_W2_S, P_A1_S, P_A2_S, P_V1_S, P_V2_S, P_G1_S, P_G2_S,
    P_LAYER_COUNT
};
enum GlobalPtr { G_EMB, G_LNOUT_W, G_LNOUT_B, G_HEAD, G_HEAD_S, G_COUNT };
enum Dim {
    D_L, D_C, D_H, D_N, D_F, D_V, D_W, D_A, D_VL, D_G, D_WTYPE, D_EMB_TYPE, D_SHIFT_TYPE, D_LORA_TYPE, D_COUNT
};

struct Layer {
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b, *mix, *w0, *a0, *v0, *k_k, *k_a, *r_k, *lnx_w, *lnx_b,
        *ffn_mix;
    Mat w1, w2, a1, a2, v1, v2, g1, g2, R, K, V, O, fK, fV;
};

struct Rwkv7 {
    int L, C, H, N, F, V, Dw, Da, Dv, Dg, wtype, emb_type, shift_type, lora_type;  // shift: the x_prev states
    const void* emb;
    const float *lnout_w, *lnout_b;
    Mat head;
    std::vector<Layer> layers;
    // scratch, allocated once
    std::vector<float> x, xx, xmix, r, k, v, wh, ah, vh, gh, wl, al, vl, g, y, vfirst, out, fk;
};

struct HeadsJob {  // everything between the LoRAs and the output projection, per head
    Rwkv7* m;
    const Layer* ly;
    int layer;
    float* S;
    int isa;
    mutable std::atomic<int> next{0};
    void operator()(int, int) const {
        const int N = m->N;
        float aa[1024], bb[1024], ww[1024];  // N <= 1024
        for (int h; (h = next.fetch_add(1, std::memory_order_relaxed)) < m->H;) run_head(h, N, aa, bb, ww);
    }
    void run_head(int h, int N, float* aa, float* bb, float* ww) const {
        Rwkv7& M = *m;
        const long o = long(h) * N;
        float *r = M.r.data() + o, *k = M.k.data() + o, *v = M.v.data() + o, *y = M.y.data() + o;
        float nrm = 0;
        for (int j = 0; j < N; j++) {
            float kk = k[j] * ly->k_k[o + j];
            aa[j] = kk;
            nrm += kk * kk;
        }
        const float inv = 1.0f / std::max(std::sqrt(nrm), 1e-12f);
        for (int j = 0; j < N; j++) {
            const long c = o + j;
            const float kk = aa[j] * inv;
            const float a = sigmoidf(ly->a0[c] + M.al[c]);
            aa[j] = -kk;
            bb[j] = kk * a;
            k[j] = k[j] * (1.0f + (a - 1.0f) * ly->k_a[c]);
            if (layer == 0) M.vfirst[c] = v[j];
            else v[j] += (M.vfirst[c] - v[j]) * sigmoidf(ly->v0[c] + M.vl[c]);
            ww[j] = std::exp(-DECAY_SCALE * sigmoidf(ly->w0[c] + M.wl[c]));
        }
        wkv7_head_fn(isa)(N, r, ww, k, v, aa, bb, S + long(h) * N * N, y);
        double dmean = 0, var = 0;
        float bonus = 0;
        for (int j = 0; j < N; j++) dmean += y[j];
        dmean /= N;
        for (int j = 0; j < N; j++) var += (y[j] - dmean) * (y[j] - dmean);
        const float ginv = float(1.0 / std::sqrt(var / N + GN_EPS)), mean = float(dmean);
        for (int j = 0; j < N; j++) bonus += r[j] * k[j] * ly->r_k[o + j];
        for (int j = 0; j < N; j++) {
            const long c = o + j;
            y[j] = ((y[j] - mean) * ginv * ly->lnx_w[c] + ly->lnx_b[c] + bonus * v[j]) * M.g[c];
        }
    }
};

inline uint16_t f32_to_bf16(float f) {  // round to nearest even, as torch does
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
}

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

void decode_step(Rwkv7& M, int token, void* att_prev_v, float* wkv, void* ffn_prev_v, float* logits) {
    const Shift att_prev{att_prev_v, M.shift_type == W_BF16}, ffn_prev{ffn_prev_v, M.shift_type == W_BF16};
    const int C = M.C, isa = current_isa();
    float* x = M.x.data();
    if (M.emb_type == W_BF16) {
        const uint16_t* e = static_cast<const uint16_t*>(M.emb) + long(token) * C;
        for (int i = 0; i < C; i++) x[i] = bf16_to_f32(e[i]);
    } else {
        std::memcpy(x, static_cast<const float*>(M.emb) + long(token) * C, sizeof(float) * C);
    }
    float *xx = M.xx.data(), *xm = M.xmix.data();
    float *xr = xm, *xw = xm + C, *xk = xm + 2 * C, *xv = xm + 3 * C, *xa = xm + 4 * C, *xg = xm + 5 * C;
    for (int l = 0; l < M.L; l++) {
        const Layer& ly = M.layers[l];
        layer_norm(x, ly.ln1_w, ly.ln1_b, xx, C);
        long base = long(l) * C;
        for (int c = 0; c < C; c++) {
            const float d = att_prev.get(base + c) - xx[c];
            for (int m = 0; m < 6; m++) xm[m * C + c] = xx[c] + d * ly.mix[m * C + c];
            att_prev.set(base + c, xx[c]);
        }
        MultiGemv g1;
        g1.add(ly.R, xr, M.r.data());
        g1.add(ly.K, xk, M.k.data());
        g1.add(ly.V, xv, M.v.data());
        g1.add(ly.w1, xw, M.wh.data(), ACT_TANH);
        g1.add(ly.a1, xa, M.ah.data());
        g1.add(ly.g1, xg, M.gh.data(), ACT_SIGMOID);
        if (l > 0) g1.add(ly.v1, xv, M.vh.data());
        g1.run();
        MultiGemv g2;
        g2.add(ly.w2, M.wh.data(), M.wl.data());
        g2.add(ly.a2, M.ah.data(), M.al.data());
        g2.add(ly.g2, M.gh.data(), M.g.data());
        if (l > 0) g2.add(ly.v2, M.vh.data(), M.vl.data());
        g2.run();
        HeadsJob hj{&M, &ly, l, wkv + long(l) * M.H * M.N * M.N, isa, {0}};
        parallel(hj);
        MultiGemv go;
        go.add(ly.O, M.y.data(), M.out.data());
        go.run();
        for (int c = 0; c < C; c++) x[c] += M.out[c];

        layer_norm(x, ly.ln2_w, ly.ln2_b, xx, C);
        for (int c = 0; c < C; c++) {
            xk[c] = xx[c] + (ffn_prev.get(base + c) - xx[c]) * ly.ffn_mix[c];
            ffn_prev.set(base + c, xx[c]);
        }
        MultiGemv gk;
        gk.add(ly.fK, xk, M.fk.data(), ACT_RELU_SQ);
        gk.run();
        MultiGemv gv;
        gv.add(ly.fV, M.fk.data(), M.out.data());
        gv.run();
        for (int c = 0; c < C; c++) x[c] += M.out[c];
    }
    layer_norm(x, M.lnout_w, M.lnout_b, xx, C);
    MultiGemv gh;
    gh.add(M.head, xx, logits);
    gh.run();
}

Mat make_mat(const void* w, const void* scale, long rows, long cols, int wtype) {
    Mat m;
    m.w = w;
    m.scale = static_cast<const float*>(scale);
    m.rows = rows;
    m.cols = cols;
    m.wtype = wtype;
    return m;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// C API (ctypes). Every array is contiguous; every float is fp32 unless a wtype says otherwise.

API int rwkv_cpu_abi_version() { return 3; }

API int rwkv_cpu_isa_max() { return isa_supported_max(); }

API int rwkv_cpu_get_isa() { return current_isa(); }

// Force an instruction set (clamped to what the CPU supports); returns the one now in use.
API int rwkv_cpu_set_isa(int isa) {
    std::lock_guard<std::mutex> lk(g_api);
    int v = std::clamp(isa, 0, isa_supported_max());
    g_isa.store(v);
    return v;
}

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

API void rwkv_gemv(const void* W, int wtype, const float* scale, long rows, long cols, const float* x,
                   float* y) {
    std::lock_guard<std::mutex> lk(g_api);
    MultiGemv g;
    g.add(make_mat(W, scale, rows, cols, wtype), x, y);
    g.run();
}

// T tokens of WKV-7 on [T, H, N] inputs; state [H, N, N] updated in place; y [T, H, N].
// Parallel over heads: each thread runs its heads through all T tokens with no barrier.
API void rwkv_wkv7_seq(int T, int H, int N, const float* r, const float* w, const float* k,
                       const float* v, const float* a, const float* b, float* state, float* y) {
    std::lock_guard<std::mutex> lk(g_api);
    const int isa = current_isa();
    std::atomic<int> next{0};
    auto job = [&](int, int) {
        Wkv7HeadFn f = wkv7_head_fn(isa);
        for (long h; (h = next.fetch_add(1)) < H;) {
            for (int t = 0; t < T; t++) {
                const long o = long(t) * H * N + h * N;
                f(N, r + o, w + o, k + o, v + o, a + o, b + o, state + h * N * N, y + o);
            }
        }
    };
    parallel(job);
}

// dims: D_COUNT values (see enum Dim); ptrs: L * P_LAYER_COUNT layer pointers, then G_COUNT.
// Matrices are [out, in]. Returns nullptr if the counts do not match this library's.
API void* rwkv7_create(const int64_t* dims, int ndims, const void* const* ptrs, int nptrs) {
    if (ndims != D_COUNT) return nullptr;
    auto* M = new Rwkv7();
    M->L = int(dims[D_L]);
    M->C = int(dims[D_C]);
    M->H = int(dims[D_H]);
    M->N = int(dims[D_N]);
    M->F = int(dims[D_F]);
    M->V = int(dims[D_V]);
    M->Dw = int(dims[D_W]);
    M->Da = int(dims[D_A]);
    M->Dv = int(dims[D_VL]);
    M->Dg = int(dims[D_G]);
    M->wtype = int(dims[D_WTYPE]);
    M->emb_type = int(dims[D_EMB_TYPE]);
    M->shift_type = int(dims[D_SHIFT_TYPE]);
    M->lora_type = int(dims[D_LORA_TYPE]);
    if (nptrs != M->L * P_LAYER_COUNT + G_COUNT || M->N > 1024 || M->C != M->H * M->N) {
        delete M;
        return nullptr;
    }
    const int C = M->C, F = M->F, wt = M->wtype;
    auto f = [&](const void* p) { return static_cast<const float*>(p); };
    for (int l = 0; l < M->L; l++) {
        const void* const* p = ptrs + long(l) * P_LAYER_COUNT;
        Layer ly;
        ly.ln1_w = f(p[P_LN1_W]);
        ly.ln1_b = f(p[P_LN1_B]);
        ly.ln2_w = f(p[P_LN2_W]);
        ly.ln2_b = f(p[P_LN2_B]);
        ly.mix = f(p[P_MIX]);
        ly.w0 = f(p[P_W0]);
        ly.a0 = f(p[P_A0]);
        ly.v0 = f(p[P_V0]);
        ly.k_k = f(p[P_K_K]);
        ly.k_a = f(p[P_K_A]);
        ly.r_k = f(p[P_R_K]);
        ly.lnx_w = f(p[P_LNX_W]);
        ly.lnx_b = f(p[P_LNX_B]);
        ly.ffn_mix = f(p[P_FFN_MIX]);
        const int lt = M->lora_type;
        ly.w1 = make_mat(p[P_W1], p[P_W1_S], M->Dw, C, lt);
        ly.w2 = make_mat(p[P_W2], p[P_W2_S], C, M->Dw, lt);
        ly.a1 = make_mat(p[P_A1], p[P_A1_S], M->Da, C, lt);
        ly.a2 = make_mat(p[P_A2], p[P_A2_S], C, M->Da, lt);
        ly.v1 = make_mat(p[P_V1], p[P_V1_S], M->Dv, C, lt);
        ly.v2 = make_mat(p[P_V2], p[P_V2_S], C, M->Dv, lt);
        ly.g1 = make_mat(p[P_G1], p[P_G1_S], M->Dg, C, lt);
        ly.g2 = make_mat(p[P_G2], p[P_G2_S], C, M->Dg, lt);
        ly.R = make_mat(p[P_R], p[P_R_S], C, C, wt);
        ly.K = make_mat(p[P_K], p[P_K_S], C, C, wt);
        ly.V = make_mat(p[P_V], p[P_V_S], C, C, wt);
        ly.O = make_mat(p[P_O], p[P_O_S], C, C, wt);
        ly.fK = make_mat(p[P_FK], p[P_FK_S], F, C, wt);
        ly.fV = make_mat(p[P_FV], p[P_FV_S], C, F, wt);
        M->layers.push_back(ly);
    }
    const void* const* g = ptrs + long(M->L) * P_LAYER_COUNT;
    M->emb = g[G_EMB];
    M->lnout_w = f(g[G_LNOUT_W]);
    M->lnout_b = f(g[G_LNOUT_B]);
    M->head = make_mat(g[G_HEAD], g[G_HEAD_S], M->V, C, wt);
    for (auto* v : {&M->x, &M->xx, &M->r, &M->k, &M->v, &M->wl, &M->al, &M->vl, &M->g, &M->y, &M->vfirst,
                    &M->out})
        v->assign(C, 0.0f);
    M->xmix.assign(6L * C, 0.0f);
    M->wh.assign(M->Dw, 0.0f);
    M->ah.assign(M->Da, 0.0f);
    M->vh.assign(std::max(M->Dv, 1), 0.0f);
    M->gh.assign(M->Dg, 0.0f);
    M->fk.assign(F, 0.0f);
    return M;
}

API void rwkv7_destroy(void* m) { delete static_cast<Rwkv7*>(m); }

// One token through the whole model: state (att_prev [L,C], wkv [L,H,N,N], ffn_prev [L,C]) updated
// in place, logits [V] written. Allocates nothing.
API void rwkv7_decode(void* m, int token, void* att_prev, float* wkv, void* ffn_prev, float* logits) {
    std::lock_guard<std::mutex> lk(g_api);
    decode_step(*static_cast<Rwkv7*>(m), token, att_prev, wkv, ffn_prev, logits);
}

// setuptools builds this file as an extension module; the module itself is empty (ctypes loads it).
#if __has_include(<Python.h>) && defined(RWKV_PYTHON_MODULE)
#include <Python.h>
static struct PyModuleDef rwkv_cpu_module = {PyModuleDef_HEAD_INIT, "_rwkv_cpu",
                                             "RWKV Desktop CPU kernels (loaded with ctypes).", -1, nullptr};
PyMODINIT_FUNC PyInit__rwkv_cpu(void) { return PyModule_Create(&rwkv_cpu_module); }
#endif
