// RWKV-7: the WKV-7 recurrence (one step, a sequence parallel over heads) and the fused decode
// step that runs one token through the whole model in one call.

#include "core.h"
#include "layouts.h"

namespace rwkvcpu {
namespace {

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

Wkv7HeadFn wkv7_head_fn(int isa) { return PICK_BY_ISA(isa, wkv7_head); }


// ---------------------------------------------------------------------------------------------
// WKV-7, one head, T tokens, on the state transposed (St[key j, value i]): then S a and S r are
// sums of St's rows scaled by a_j and r_j, vector operations across values with no horizontal
// reduction per row (the per-row form above spends about half its time in those). ``stride`` is
// the distance between two tokens' inputs.

// NN > 0: the head size fixed at compile time (64, RWKV-7's), so that the sums over keys (sa, y)
// and v stay in registers across the key loop; NN = 0 reads it from N.
#define DEFINE_WKV7_SEQ_T(NAME, TGT)                                                                 \
    template <int NN>                                                                               \
    TGT void NAME(int T, long stride, int N, const float* r, const float* w, const float* k,        \
                  const float* v, const float* a, const float* b, float* St, float* y) {            \
        if (NN) N = NN;                                                                             \
        float sa[NN ? NN : 1024], yy[NN ? NN : 1024], vv[NN ? NN : 1024];                           \
        for (int t = 0; t < T; t++) {                                                               \
            const long o = long(t) * stride;                                                        \
            const float *rt = r + o, *wt = w + o, *kt = k + o, *at = a + o, *bt = b + o;            \
            for (int i = 0; i < N; i++) {                                                           \
                sa[i] = yy[i] = 0.0f;                                                               \
                vv[i] = v[o + i];                                                                   \
            }                                                                                       \
            for (int j = 0; j < N; j++) {                                                           \
                const float* s = St + (long)j * N;                                                  \
                const float aj = at[j];                                                             \
                PRAGMA(omp simd)                                                                    \
                for (int i = 0; i < N; i++) sa[i] += s[i] * aj;                                     \
            }                                                                                       \
            for (int j = 0; j < N; j++) {                                                           \
                float* s = St + (long)j * N;                                                        \
                const float wj = wt[j], bj = bt[j], kj = kt[j], rj = rt[j];                         \
                PRAGMA(omp simd)                                                                    \
                for (int i = 0; i < N; i++) {                                                       \
                    const float x = s[i] * wj + sa[i] * bj + vv[i] * kj;                            \
                    s[i] = x;                                                                       \
                    yy[i] += x * rj;                                                                \
                }                                                                                   \
            }                                                                                       \
            for (int i = 0; i < N; i++) y[o + i] = yy[i];                                           \
        }                                                                                           \
    }

typedef void (*Wkv7SeqFn)(int, long, int, const float*, const float*, const float*, const float*, const float*,
                          const float*, float*, float*);

DEFINE_WKV7_SEQ_T(wkv7_seq_scalar, )
#if RWKV_X86
DEFINE_WKV7_SEQ_T(wkv7_seq_avx2, TGT_AVX2)
DEFINE_WKV7_SEQ_T(wkv7_seq_avx512, TGT_AVX512)
#endif

Wkv7SeqFn wkv7_seq_fn(int isa, int N) {  // N <= 1024
    return N == 64 ? PICK_BY_ISA(isa, wkv7_seq, <64>) : PICK_BY_ISA(isa, wkv7_seq, <0>);
}

void transpose(const float* src, float* dst, int N) {
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) dst[(long)j * N + i] = src[(long)i * N + j];
}

// One head's T tokens (inputs `stride` apart) on its state S [value, key], advanced in place through
// the transposed copy St (N * N floats) that the sequence kernel runs on.
void wkv7_seq_head(Wkv7SeqFn f, int T, long stride, int N, const float* r, const float* w, const float* k,
                   const float* v, const float* a, const float* b, float* S, float* St, float* y) {
    transpose(S, St, N);
    f(T, stride, N, r, w, k, v, a, b, St, y);
    transpose(St, S, N);
}

// ---------------------------------------------------------------------------------------------
// The fused RWKV-7 decode step.

constexpr float DECAY_SCALE = 0.606531f;  // e^-0.5 truncated as the reference does

// Pointers per layer, then global ones, and the dimensions: in layouts.h's order (RWKV7_*).
enum LayerPtr { RWKV7_LAYER_PTRS(LAYOUT_ENUM) P_LAYER_COUNT };
enum GlobalPtr { GLOBAL_PTRS(LAYOUT_ENUM) G_COUNT };
enum Dim { RWKV7_DIMS(LAYOUT_ENUM) D_COUNT };

struct Layer {
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b, *mix, *w0, *a0, *v0, *k_k, *k_a, *r_k, *lnx_w, *lnx_b,
        *ffn_mix;
    Mat w1, w2, a1, a2, v1, v2, g1, g2, R, K, V, O, fK, fV;
};

struct Rwkv7 {
    int L, C, H, N, F, V, Dw, Da, Dv, Dg, wtype, emb_type, shift_type, lora_type, head_type;  // shift: the x_prev states
    const void* emb;
    const float *lnout_w, *lnout_b;
    Mat head;
    std::vector<Layer> layers;
    // scratch for `cap` sequences, each array [cap][its width]; grown (rarely) to the largest batch
    int cap = 0;
    std::vector<float> x, xx, xmix, r, k, v, wh, ah, vh, gh, wl, al, vl, g, y, vfirst, out, fk;
    void reserve(int B) {
        if (B <= cap) return;
        for (auto* a : {&x, &xx, &r, &k, &v, &wl, &al, &vl, &g, &y, &vfirst, &out}) a->assign(long(B) * C, 0.0f);
        xmix.assign(6L * B * C, 0.0f);
        wh.assign(long(B) * Dw, 0.0f);
        ah.assign(long(B) * Da, 0.0f);
        vh.assign(long(B) * std::max(Dv, 1), 0.0f);
        gh.assign(long(B) * Dg, 0.0f);
        fk.assign(long(B) * F, 0.0f);
        cap = B;
    }
};

// One sequence's state: att_prev and ffn_prev [L, C] (fp32 or bf16), wkv [L, H, N, N].
struct Seq {
    void *att, *ffn;
    float* wkv;
};

// A layer's per-channel vectors from channel o on: a row's (o = 0) or one head's (o = h * N).
struct LayerVecs {
    const float *w0, *a0, *v0, *k_k, *k_a, *r_k, *lnx_w, *lnx_b;
    LayerVecs(const Layer& ly, long o)
        : w0(ly.w0 + o), a0(ly.a0 + o), v0(ly.v0 + o), k_k(ly.k_k + o), k_a(ly.k_a + o), r_k(ly.r_k + o),
          lnx_w(ly.lnx_w + o), lnx_b(ly.lnx_b + o) {}
};

// The prefill's rows and the decode step's heads share these: one row's (or one head's: H = 1, C = N)
// inputs and outputs, C = H * N values each. al and vl (the LoRAs' outputs) become the gates in place.
// One function per ISA (DEFINE_ROW_MATH): rwkv7.cpp is otherwise built for the baseline CPU, where a
// prompt row's loops ran 4 floats at a time without FMA (at 0.4B ~40 % longer than the WKV itself).
struct GateRow {
    LayerVecs ly;
    int C, H, N, layer;
    float *ww, *al, *vl, *k, *v, *vfirst, *aa, *bb;
    const float* wl;
};

#define DEFINE_ROW_MATH(SUFFIX, TGT)                                                                \
    /* the six token-shift mixes of row xt after prev: xm[m * mstride + c] */                       \
    TGT void mix_row_##SUFFIX(const float* xt, const float* prev, const float* mix, int C, float* xm, \
                              long mstride) {                                                       \
        for (int m = 0; m < 6; m++) {                                                               \
            const float* mm = mix + long(m) * C;                                                    \
            float* out = xm + m * mstride;                                                          \
            PRAGMA(omp simd)                                                                        \
            for (int c = 0; c < C; c++) out[c] = xt[c] + (prev[c] - xt[c]) * mm[c];                 \
        }                                                                                           \
    }                                                                                               \
    /* the gates: decay, in-context learning rate, key and value updates */                         \
    TGT void gate_row_##SUFFIX(const GateRow& g) {                                                  \
        const LayerVecs& ly = g.ly;                                                                 \
        const int C = g.C, N = g.N;                                                                 \
        PRAGMA(omp simd)                                                                            \
        for (int c = 0; c < C; c++) {                                                               \
            g.ww[c] = ly.w0[c] + g.wl[c];                                                           \
            g.al[c] += ly.a0[c];                                                                    \
        }                                                                                           \
        if (g.layer > 0) {                                                                          \
            PRAGMA(omp simd)                                                                        \
            for (int c = 0; c < C; c++) g.vl[c] += ly.v0[c];                                        \
            vec_sigmoid(g.vl, C);                                                                   \
        }                                                                                           \
        vec_sigmoid(g.ww, C);                                                                       \
        vec_sigmoid(g.al, C);                                                                       \
        PRAGMA(omp simd)                                                                            \
        for (int c = 0; c < C; c++) g.ww[c] *= -DECAY_SCALE;                                        \
        vec_exp(g.ww, C);                                                                           \
        for (int h = 0; h < g.H; h++) {                                                             \
            const long hc = long(h) * N;                                                            \
            const float *kh = g.k + hc, *kkh = ly.k_k + hc;                                         \
            float nrm = 0;                                                                          \
            SIMD_REDUCE(nrm)                                                                        \
            for (int j = 0; j < N; j++) nrm += (kh[j] * kkh[j]) * (kh[j] * kkh[j]);                 \
            const float inv = 1.0f / std::max(std::sqrt(nrm), 1e-12f);                              \
            PRAGMA(omp simd)                                                                        \
            for (int j = 0; j < N; j++) {                                                           \
                const long c = hc + j;                                                              \
                const float kk = g.k[c] * ly.k_k[c] * inv, a = g.al[c];                             \
                g.aa[c] = -kk;                                                                      \
                g.bb[c] = kk * a;                                                                   \
                g.k[c] = g.k[c] * (1.0f + (a - 1.0f) * ly.k_a[c]);                                  \
            }                                                                                       \
        }                                                                                           \
        if (g.layer == 0) {                                                                         \
            std::memcpy(g.vfirst, g.v, sizeof(float) * C);                                          \
        } else {                                                                                    \
            PRAGMA(omp simd)                                                                        \
            for (int c = 0; c < C; c++) g.v[c] += (g.vfirst[c] - g.v[c]) * g.vl[c];                 \
        }                                                                                           \
    }                                                                                               \
    /* GroupNorm per head of y (sums in double), the bonus r.(k * r_k) v, the output gate g */      \
    TGT void out_row_##SUFFIX(const LayerVecs& ly, int H, int N, float* y, const float* r, const float* k, \
                              const float* v, const float* g) {                                     \
        for (int h = 0; h < H; h++) {                                                               \
            const long hc = long(h) * N;                                                            \
            float* yh = y + hc;                                                                     \
            double dmean = 0, var = 0;                                                              \
            SIMD_REDUCE(dmean)                                                                      \
            for (int j = 0; j < N; j++) dmean += yh[j];                                             \
            dmean /= N;                                                                             \
            SIMD_REDUCE(var)                                                                        \
            for (int j = 0; j < N; j++) var += (yh[j] - dmean) * (yh[j] - dmean);                   \
            const float ginv = float(1.0 / std::sqrt(var / N + GN_EPS)), mean = float(dmean);       \
            float bonus = 0;                                                                        \
            SIMD_REDUCE(bonus)                                                                      \
            for (int j = 0; j < N; j++) bonus += r[hc + j] * k[hc + j] * ly.r_k[hc + j];            \
            PRAGMA(omp simd)                                                                        \
            for (int j = 0; j < N; j++) {                                                           \
                const long c = hc + j;                                                              \
                yh[j] = ((yh[j] - mean) * ginv * ly.lnx_w[c] + ly.lnx_b[c] + bonus * v[c]) * g[c];  \
            }                                                                                       \
        }                                                                                           \
    }

DEFINE_ROW_MATH(scalar, )
#if RWKV_X86
DEFINE_ROW_MATH(avx2, TGT_AVX2)
DEFINE_ROW_MATH(avx512, TGT_AVX512)
#endif

struct HeadsJob {  // everything between the LoRAs and the output projection, per sequence and head
    Rwkv7* m;
    const Layer* ly;
    int layer, nb;
    const Seq* seqs;
    int isa;
    mutable std::atomic<int> next{0};
    void operator()(int, int) const {
        const int N = m->N;
        float aa[1024], bb[1024], ww[1024];  // N <= 1024
        for (int i; (i = next.fetch_add(1, std::memory_order_relaxed)) < nb * m->H;)
            run_head(i / m->H, i % m->H, N, aa, bb, ww);
    }
    void run_head(int b, int h, int N, float* aa, float* bb, float* ww) const {
        Rwkv7& M = *m;
        const long o = long(h) * N, ob = long(b) * M.C + o;  // in the layer's vectors; in the scratch
        float *r = M.r.data() + ob, *k = M.k.data() + ob, *v = M.v.data() + ob, *y = M.y.data() + ob;
        const LayerVecs lv(*ly, o);
        const GateRow gr{lv, N, 1, N, layer, ww, M.al.data() + ob, M.vl.data() + ob, k, v, M.vfirst.data() + ob,
                         aa, bb, M.wl.data() + ob};
        PICK_BY_ISA(isa, gate_row)(gr);
        wkv7_head_fn(isa)(N, r, ww, k, v, aa, bb, seqs[b].wkv + (long(layer) * M.H + h) * N * N, y);
        PICK_BY_ISA(isa, out_row)(lv, 1, N, y, r, k, v, M.g.data() + ob);
    }
};


// nb tokens, one per sequence, through the whole model in one pass: every weight matrix is read
// once for all of them (MultiGemv with nb inputs); the per-sequence work (norms, token shift, the
// heads) is the single-sequence code run on each. logits [nb, V].
void decode_step(Rwkv7& M, int nb, const int* tokens, const Seq* seqs, float* logits) {
    M.reserve(nb);
    const bool sbf = M.shift_type == W_BF16;
    const int C = M.C, isa = current_isa();
    const long C6 = 6L * C;
    for (int b = 0; b < nb; b++) {
        float* x = M.x.data() + long(b) * C;
        if (M.emb_type == W_BF16) {
            const uint16_t* e = static_cast<const uint16_t*>(M.emb) + long(tokens[b]) * C;
            for (int i = 0; i < C; i++) x[i] = bf16_to_f32(e[i]);
        } else {
            std::memcpy(x, static_cast<const float*>(M.emb) + long(tokens[b]) * C, sizeof(float) * C);
        }
    }
    float* xm = M.xmix.data();
    float *xr = xm, *xw = xm + C, *xk = xm + 2 * C, *xv = xm + 3 * C, *xa = xm + 4 * C, *xg = xm + 5 * C;
    for (int l = 0; l < M.L; l++) {
        const Layer& ly = M.layers[l];
        const long base = long(l) * C;
        for (int b = 0; b < nb; b++) {
            const Shift att_prev{seqs[b].att, sbf};
            float *x = M.x.data() + long(b) * C, *xx = M.xx.data() + long(b) * C, *xmb = xm + b * C6;
            layer_norm(x, ly.ln1_w, ly.ln1_b, xx, C);
            for (int c = 0; c < C; c++) {
                const float d = att_prev.get(base + c) - xx[c];
                for (int m = 0; m < 6; m++) xmb[m * C + c] = xx[c] + d * ly.mix[m * C + c];
                att_prev.set(base + c, xx[c]);
            }
        }
        MultiGemv g1;
        g1.nb = nb;
        g1.add(ly.R, xr, M.r.data(), ACT_NONE, C6);
        g1.add(ly.K, xk, M.k.data(), ACT_NONE, C6);
        g1.add(ly.V, xv, M.v.data(), ACT_NONE, C6);
        g1.add(ly.w1, xw, M.wh.data(), ACT_TANH, C6);
        g1.add(ly.a1, xa, M.ah.data(), ACT_NONE, C6);
        g1.add(ly.g1, xg, M.gh.data(), ACT_SIGMOID, C6);
        if (l > 0) g1.add(ly.v1, xv, M.vh.data(), ACT_NONE, C6);
        g1.run();
        MultiGemv g2;
        g2.nb = nb;
        g2.add(ly.w2, M.wh.data(), M.wl.data());
        g2.add(ly.a2, M.ah.data(), M.al.data());
        g2.add(ly.g2, M.gh.data(), M.g.data());
        if (l > 0) g2.add(ly.v2, M.vh.data(), M.vl.data());
        g2.run();
        HeadsJob hj{&M, &ly, l, nb, seqs, isa, {0}};
        parallel(hj);
        MultiGemv go;
        go.nb = nb;
        go.add(ly.O, M.y.data(), M.out.data());
        go.run();
        for (long i = 0; i < long(nb) * C; i++) M.x[i] += M.out[i];

        for (int b = 0; b < nb; b++) {
            const Shift ffn_prev{seqs[b].ffn, sbf};
            float *x = M.x.data() + long(b) * C, *xx = M.xx.data() + long(b) * C, *xkb = xk + b * C6;
            layer_norm(x, ly.ln2_w, ly.ln2_b, xx, C);
            for (int c = 0; c < C; c++) {
                xkb[c] = xx[c] + (ffn_prev.get(base + c) - xx[c]) * ly.ffn_mix[c];
                ffn_prev.set(base + c, xx[c]);
            }
        }
        MultiGemv gk;
        gk.nb = nb;
        gk.add(ly.fK, xk, M.fk.data(), ACT_RELU_SQ, C6);
        gk.run();
        MultiGemv gv;
        gv.nb = nb;
        gv.add(ly.fV, M.fk.data(), M.out.data());
        gv.run();
        for (long i = 0; i < long(nb) * C; i++) M.x[i] += M.out[i];
    }
    for (int b = 0; b < nb; b++)
        layer_norm(M.x.data() + long(b) * C, M.lnout_w, M.lnout_b, M.xx.data() + long(b) * C, C);
    MultiGemv gh;
    gh.nb = nb;
    gh.add(M.head, M.xx.data(), logits);
    gh.run();
}


// ---------------------------------------------------------------------------------------------
// The fused RWKV-7 prompt: the rows of one or more sequences' prompts side by side through the whole
// model in one call, the decode step's code on R rows at a time. Each product runs once for all the
// rows (the prompt GEMM of its weight type), the token shift and the WKV recurrence stay within each
// sequence, and everything between the products runs on the library's own threads: the torch path
// (RWKV7._forward_prompts) ran ~400 small ops a layer stack, and torch's OpenMP workers, spinning
// after each, shared the cores with our GEMMs' threads (the GEMMs ran ~20 % slower inside the model
// than alone).

// fn(r) for r in [0, R), rows taken in turn by the pool's threads.
template <class Fn>
void for_rows(long R, Fn&& fn) {
    if (R == 1) {
        fn(0L);
        return;
    }
    std::atomic<long> next{0};
    auto job = [&](int, int) {
        for (long r; (r = next.fetch_add(1, std::memory_order_relaxed)) < R;) fn(r);
    };
    parallel(job);
}

// y [R, m.rows] = act(x [R, m.cols] @ m^T), by the prompt product of m's type (few rows of a float
// matrix, or a product that refuses the size: the batched GEMV).
void mat_rows(const Mat& m, long R, const float* x, float* y, int act = ACT_NONE) {
    constexpr long FLOAT_GEMM_MIN_ROWS = 8;  // as FLOAT_GEMM_MIN_TOKENS in engine/models/packed.py
    int rc = -1;
    if ((m.wtype == W_F32 || m.wtype == W_BF16) && R >= FLOAT_GEMM_MIN_ROWS)
        rc = gemm_float_rows(R, m.cols, m.rows, x, m.w, m.wtype, y);
    else if (m.wtype == W_I8)
        rc = gemm_i8_rows(R, m.cols, m.rows, x, static_cast<const int8_t*>(m.w), m.scale, y);
    else if (is_q4_type(m.wtype))
        rc = gemm_q_rows(m.wtype, R, m.cols, m.rows, x, static_cast<const uint8_t*>(m.w), m.bscale, y);
    if (rc != 0) {
        MultiGemv g;
        g.nb = int(R);
        g.add(m, x, y, ACT_NONE, m.cols, m.rows);
        g.run();
    }
    if (act != ACT_NONE) for_rows(R, [&](long r) { apply_act(act, y + r * m.rows, 0, m.rows); });
}

// Rows lo..hi-1 of a window are sequence seq's, in order.
struct Span {
    int seq;
    long lo, hi;
};

// A window's scratch: [R, C] arrays (the six mixes [6, R, C]), the LoRAs' hidden rows, [R, F].
struct PrefillScratch {
    std::vector<float> xx, xm, r, k, v, wh, ah, vh, gh, wl, al, vl, g, vfirst, y, fk;
    static long floats_per_row(const Rwkv7& M) {
        return 15L * M.C + M.Dw + M.Da + std::max(M.Dv, 1) + M.Dg + M.F;
    }
    PrefillScratch(const Rwkv7& M, long R) {
        const long RC = R * M.C;
        for (auto* a : {&xx, &r, &k, &v, &wl, &al, &vl, &g, &vfirst, &y}) a->resize(RC);
        xm.resize(6 * RC);
        wh.resize(R * M.Dw);
        ah.resize(R * M.Da);
        vh.resize(R * std::max(M.Dv, 1));
        gh.resize(R * M.Dg);
        fk.resize(R * M.F);
    }
};

// R rows (x [R, C], the residual stream, advanced in place) of the sequences in spans through every
// layer; each sequence's state (att / ffn shifts, WKV) left as after its last row here.
void prefill_window(Rwkv7& M, PrefillScratch& B, float* x, long R, const std::vector<Span>& spans,
                    const Seq* seqs) {
    const int C = M.C, H = M.H, N = M.N, isa = current_isa();
    const bool sbf = M.shift_type == W_BF16;
    const long RC = R * C;
    float *xx = B.xx.data(), *xm = B.xm.data();
    float *xr = xm, *xw = xm + RC, *xk = xm + 2 * RC, *xv = xm + 3 * RC, *xa = xm + 4 * RC, *xg = xm + 5 * RC;
    float *r = B.r.data(), *k = B.k.data(), *v = B.v.data(), *wl = B.wl.data(), *al = B.al.data(),
          *vl = B.vl.data(), *g = B.g.data(), *vfirst = B.vfirst.data(), *y = B.y.data(), *fk = B.fk.data();
    // once the products have read the mixes, their room holds the WKV's inputs and the outputs
    float *ww = xw, *aa = xa, *bb = xg, *out = xr;
    std::vector<int> span_of(size_t(R), 0);
    for (size_t s = 0; s < spans.size(); s++)
        for (long t = spans[s].lo; t < spans[s].hi; t++) span_of[size_t(t)] = int(s);
    // row t's previous token: the row before it, or for a sequence's first row here its state
    std::vector<float> first_prev(spans.size() * size_t(C));
    auto load_first = [&](long base, bool att) {
        for (size_t s = 0; s < spans.size(); s++) {
            const Shift st{att ? seqs[spans[s].seq].att : seqs[spans[s].seq].ffn, sbf};
            for (int c = 0; c < C; c++) first_prev[s * C + c] = st.get(base + c);
        }
    };
    auto previous = [&](const float* rows, long t) -> const float* {
        const int s = span_of[size_t(t)];
        return t > spans[size_t(s)].lo ? rows + (t - 1) * C : first_prev.data() + long(s) * C;
    };
    auto keep_last = [&](const float* rows, long base, bool att) {
        for (const Span& sp : spans) {
            const Shift st{att ? seqs[sp.seq].att : seqs[sp.seq].ffn, sbf};
            for (int c = 0; c < C; c++) st.set(base + c, rows[(sp.hi - 1) * C + c]);
        }
    };
    for (int l = 0; l < M.L; l++) {
        const Layer& ly = M.layers[l];
        const long base = long(l) * C;
        // time mixing: LayerNorm, the six token-shift mixes
        for_rows(R, [&](long t) { layer_norm(x + t * C, ly.ln1_w, ly.ln1_b, xx + t * C, C); });
        load_first(base, true);
        for_rows(R, [&](long t) {
            PICK_BY_ISA(isa, mix_row)(xx + t * C, previous(xx, t), ly.mix, C, xm + t * C, RC);
        });
        keep_last(xx, base, true);
        mat_rows(ly.R, R, xr, r);
        mat_rows(ly.K, R, xk, k);
        mat_rows(ly.V, R, xv, v);
        mat_rows(ly.w1, R, xw, B.wh.data(), ACT_TANH);
        mat_rows(ly.a1, R, xa, B.ah.data());
        mat_rows(ly.g1, R, xg, B.gh.data(), ACT_SIGMOID);
        if (l > 0) mat_rows(ly.v1, R, xv, B.vh.data());
        mat_rows(ly.w2, R, B.wh.data(), wl);
        mat_rows(ly.a2, R, B.ah.data(), al);
        mat_rows(ly.g2, R, B.gh.data(), g);
        if (l > 0) mat_rows(ly.v2, R, B.vh.data(), vl);
        for_rows(R, [&](long t) {
            const long o = t * C;
            const GateRow gr{LayerVecs(ly, 0), C, H, N, l, ww + o, al + o, vl + o, k + o, v + o, vfirst + o, aa + o,
                             bb + o, wl + o};
            PICK_BY_ISA(isa, gate_row)(gr);
        });
        // WKV: each sequence's rows in order, its heads in parallel (the state transposed, as
        // rwkv_wkv7_seq)
        {
            std::atomic<long> next{0};
            const long items = long(spans.size()) * H;
            auto job = [&](int, int) {
                const Wkv7SeqFn f = wkv7_seq_fn(isa, N);
                std::vector<float> St;
                for (long i; (i = next.fetch_add(1, std::memory_order_relaxed)) < items;) {
                    if (St.empty()) St.resize(size_t(N) * N);
                    const Span& sp = spans[size_t(i / H)];
                    const long h = i % H, o = sp.lo * C + h * N;
                    wkv7_seq_head(f, int(sp.hi - sp.lo), C, N, r + o, ww + o, k + o, v + o, aa + o, bb + o,
                                  seqs[sp.seq].wkv + (long(l) * H + h) * N * N, St.data(), y + o);
                }
            };
            parallel(job);
        }
        for_rows(R, [&](long t) {
            const long o = t * C;
            PICK_BY_ISA(isa, out_row)(LayerVecs(ly, 0), H, N, y + o, r + o, k + o, v + o, g + o);
        });
        mat_rows(ly.O, R, y, out);
        // channel mixing
        for_rows(R, [&](long t) {
            float* xt = x + t * C;
            for (int c = 0; c < C; c++) xt[c] += out[t * C + c];
            layer_norm(xt, ly.ln2_w, ly.ln2_b, xx + t * C, C);
        });
        load_first(base, false);
        for_rows(R, [&](long t) {
            const float *prev = previous(xx, t), *xt = xx + t * C;
            for (int c = 0; c < C; c++) xk[t * C + c] = xt[c] + (prev[c] - xt[c]) * ly.ffn_mix[c];
        });
        keep_last(xx, base, false);
        mat_rows(ly.fK, R, xk, fk, ACT_RELU_SQ);
        mat_rows(ly.fV, R, fk, out);
        for_rows(R, [&](long t) {
            float* xt = x + t * C;
            for (int c = 0; c < C; c++) xt[c] += out[t * C + c];
        });
    }
}

constexpr long PREFILL_MAX_ROWS = 256;               // rows per window
constexpr long PREFILL_SCRATCH_BYTES = 64L << 20;    // fewer rows where a window's scratch would pass this

// ns sequences' prompts, lens[s] rows each, side by side in x [sum lens, C] (the embeddings; used as
// scratch): each sequence's state advanced, logits [ns, V] after each one's last row. A window of
// rows at a time (states carry from one to the next, as chained calls).
void prefill(Rwkv7& M, int ns, const int* lens, float* x, const Seq* seqs, float* logits) {
    const int C = M.C;
    std::vector<long> start(size_t(ns) + 1, 0);
    for (int s = 0; s < ns; s++) start[size_t(s) + 1] = start[size_t(s)] + lens[s];
    const long T = start[size_t(ns)];
    const long per_row = PrefillScratch::floats_per_row(M) * long(sizeof(float));
    const long R = std::min(T, std::clamp(PREFILL_SCRATCH_BYTES / per_row, 16L, PREFILL_MAX_ROWS));
    PrefillScratch B(M, R);
    std::vector<float> last(size_t(ns) * C);  // each sequence's last row after ln_out
    std::vector<Span> spans;
    for (long g0 = 0; g0 < T; g0 += R) {
        const long g1 = std::min(T, g0 + R);
        spans.clear();
        for (int s = 0; s < ns; s++) {
            const long lo = std::max(start[size_t(s)], g0), hi = std::min(start[size_t(s) + 1], g1);
            if (lo < hi) spans.push_back(Span{s, lo - g0, hi - g0});
        }
        prefill_window(M, B, x + g0 * C, g1 - g0, spans, seqs);
        for (const Span& sp : spans)
            if (sp.hi + g0 == start[size_t(sp.seq) + 1])
                layer_norm(x + (g0 + sp.hi - 1) * C, M.lnout_w, M.lnout_b, last.data() + long(sp.seq) * C, C);
    }
    MultiGemv gh;
    gh.nb = ns;
    gh.add(M.head, last.data(), logits);
    gh.run();
}

}  // namespace
}  // namespace rwkvcpu

using namespace rwkvcpu;


// T tokens of WKV-7 on [T, H, N] inputs; state [H, N, N] updated in place; y [T, H, N].
// Parallel over heads: each thread runs its heads through all T tokens with no barrier.
API void rwkv_wkv7_seq(int T, int H, int N, const float* r, const float* w, const float* k,
                       const float* v, const float* a, const float* b, float* state, float* y) {
    std::lock_guard<std::mutex> lk(g_api);
    const int isa = current_isa();
    std::atomic<int> next{0};
    auto job = [&](int, int) {
        const Wkv7SeqFn f = wkv7_seq_fn(isa, N);
        std::vector<float> St(long(N) * N);   // per call and thread: no state shared
        for (long h; (h = next.fetch_add(1)) < H;) {
            const long o = h * N;
            wkv7_seq_head(f, T, long(H) * N, N, r + o, w + o, k + o, v + o, a + o, b + o, state + h * N * N,
                          St.data(), y + o);
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
    M->head_type = int(dims[D_HEAD_TYPE]);
    auto wtype_ok = [](int t) { return t >= W_F32 && t <= W_Q5; };
    if (nptrs != M->L * P_LAYER_COUNT + G_COUNT || M->N > 1024 || M->C != M->H * M->N || !wtype_ok(M->wtype) ||
        !wtype_ok(M->lora_type) || !wtype_ok(M->head_type)) {
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
    M->head = make_mat(g[G_HEAD], g[G_HEAD_S], M->V, C, M->head_type);
    M->reserve(1);
    return M;
}

API void rwkv7_destroy(void* m) { delete static_cast<Rwkv7*>(m); }

// One token through the whole model: state (att_prev [L,C], wkv [L,H,N,N], ffn_prev [L,C]) updated
// in place, logits [V] written. Allocates nothing.
API void rwkv7_decode(void* m, int token, void* att_prev, float* wkv, void* ffn_prev, float* logits) {
    std::lock_guard<std::mutex> lk(g_api);
    const Seq s{att_prev, ffn_prev, wkv};
    decode_step(*static_cast<Rwkv7*>(m), 1, &token, &s, logits);
}

// One token for each of nb sequences (tokens[b]; sequence b's state att_prev[b], wkv[b],
// ffn_prev[b], as for rwkv7_decode), in one pass over the weights; logits [nb, V]. Each sequence's
// results are bit-identical to rwkv7_decode's. Allocates only when nb is the largest batch yet.
API void rwkv7_decode_batch(void* m, int nb, const int* tokens, void* const* att_prev, float* const* wkv,
                            void* const* ffn_prev, float* logits) {
    std::lock_guard<std::mutex> lk(g_api);
    Rwkv7& M = *static_cast<Rwkv7*>(m);
    static std::vector<Seq> seqs;  // guarded by g_api
    if (int(seqs.size()) < nb) seqs.resize(nb);
    for (int b = 0; b < nb; b++) seqs[b] = Seq{att_prev[b], ffn_prev[b], wkv[b]};
    decode_step(M, nb, tokens, seqs.data(), logits);
}

// Prompts: ns sequences, lens[s] >= 1 tokens each, their embeddings side by side in x [sum lens, C]
// (fp32; overwritten: the residual stream runs in it); sequence s's state as for rwkv7_decode_batch;
// logits [ns, V] after each sequence's last token. 0; -1 for bad sizes; -2 when memory runs out (the
// scratch, at most PREFILL_SCRATCH_BYTES or 16 rows, is taken before any state is touched; a product's
// buffers may grow later, so callers keep a copy of the states to restore).
API int rwkv7_prefill(void* m, int ns, const int* lens, float* x, void* const* att_prev, float* const* wkv,
                      void* const* ffn_prev, float* logits) {
    Rwkv7& M = *static_cast<Rwkv7*>(m);
    if (ns <= 0) return -1;
    for (int s = 0; s < ns; s++)
        if (lens[s] <= 0) return -1;
    std::lock_guard<std::mutex> lk(g_api);
    std::vector<Seq> seqs(static_cast<size_t>(ns));
    for (int s = 0; s < ns; s++) seqs[size_t(s)] = Seq{att_prev[s], ffn_prev[s], wkv[s]};
    try {
        prefill(M, ns, lens, x, seqs.data(), logits);
    } catch (const std::bad_alloc&) {
        return -2;
    }
    return 0;
}
