// RWKV-4, -5.2 and -6: their WKV recurrences (one token and a sequence) and one fused call that
// decodes a token through the whole model, as rwkv7.cpp does for RWKV-7.
//
// WKV-4, per channel, with w = -exp(time_decay) and u = time_first (logs of the decay and of the
// current token's bonus), state aa, bb, pp (the "max trick": pp is the largest exponent so far):
//   y  = (e^(pp-p) aa + e^(u+k-p) v) / (e^(pp-p) bb + e^(u+k-p)),  p = max(pp, u + k)
//   aa = e^(w+pp-q) aa + e^(k-q) v;  bb = e^(w+pp-q) bb + e^(k-q);  pp = q = max(w + pp, k)
// WKV-5.2/6, per head, state S[key i, value j], decay w in (0, 1) per key, bonus u per key:
//   y_j = sum_i r_i (S_ij + u_i k_i v_j);   S_ij = w_i S_ij + k_i v_j
// (5.2's decay is constant; 6's is computed per token.) Same arithmetic order as kernels/wkv4.py
// and kernels/wkv6.py, which the tests compare these with.

#include "core.h"
#include "layouts.h"

namespace rwkvcpu {
namespace {

// ---------------------------------------------------------------------------------------------
// WKV-4 over channels [c0, c1) of one token (vectorised across channels: exp_poly, no branches).

#define DEFINE_WKV4_STEP(NAME, TGT)                                                                  \
    TGT void NAME(long c0, long c1, const float* w, const float* u, const float* k, const float* v,  \
                  float* aa, float* bb, float* pp, float* y) {                                      \
        PRAGMA(omp simd)                                                                            \
        for (long c = c0; c < c1; c++) {                                                            \
            float ww = u[c] + k[c];                                                                 \
            float p = std::max(pp[c], ww);                                                          \
            float e1 = exp_poly(pp[c] - p), e2 = exp_poly(ww - p);                                  \
            y[c] = (e1 * aa[c] + e2 * v[c]) / (e1 * bb[c] + e2);                                    \
            ww = w[c] + pp[c];                                                                      \
            p = std::max(ww, k[c]);                                                                 \
            e1 = exp_poly(ww - p);                                                                  \
            e2 = exp_poly(k[c] - p);                                                                \
            aa[c] = e1 * aa[c] + e2 * v[c];                                                         \
            bb[c] = e1 * bb[c] + e2;                                                                \
            pp[c] = p;                                                                              \
        }                                                                                           \
    }

typedef void (*Wkv4StepFn)(long, long, const float*, const float*, const float*, const float*, float*, float*,
                           float*, float*);

DEFINE_WKV4_STEP(wkv4_step_scalar, )
#if RWKV_X86
DEFINE_WKV4_STEP(wkv4_step_avx2, TGT_AVX2)
DEFINE_WKV4_STEP(wkv4_step_avx512, TGT_AVX512)
#endif

Wkv4StepFn wkv4_step_fn(int isa) { return PICK_BY_ISA(isa, wkv4_step); }

// ---------------------------------------------------------------------------------------------
// WKV-5.2/6, one head, one token: the inner loop runs over values, so it vectorises without a
// reduction.

// NN > 0: the head size fixed at compile time (64, RWKV-5.2/6's), so that y and v stay in
// registers across the key loop; NN = 0 reads it from N.
#define DEFINE_WKV6_HEAD(NAME, TGT)                                                                  \
    template <int NN>                                                                               \
    TGT void NAME(int N, const float* r, const float* w, const float* k, const float* v,            \
                  const float* u, float* S, float* y) {                                             \
        if (NN) N = NN;                                                                             \
        float yy[NN ? NN : 1024], vv[NN ? NN : 1024];                                               \
        for (int j = 0; j < N; j++) {                                                               \
            yy[j] = 0.0f;                                                                           \
            vv[j] = v[j];                                                                           \
        }                                                                                           \
        for (int i = 0; i < N; i++) {                                                               \
            float* s = S + (long)i * N;                                                             \
            const float ri = r[i], ki = k[i], wi = w[i], rui = r[i] * u[i];                          \
            PRAGMA(omp simd)                                                                        \
            for (int j = 0; j < N; j++) {                                                           \
                const float kv = ki * vv[j];                                                        \
                yy[j] += ri * s[j] + rui * kv;                                                      \
                s[j] = s[j] * wi + kv;                                                              \
            }                                                                                       \
        }                                                                                           \
        for (int j = 0; j < N; j++) y[j] = yy[j];                                                   \
    }

typedef void (*Wkv6HeadFn)(int, const float*, const float*, const float*, const float*, const float*, float*,
                           float*);

DEFINE_WKV6_HEAD(wkv6_head_scalar, )
#if RWKV_X86
DEFINE_WKV6_HEAD(wkv6_head_avx2, TGT_AVX2)
DEFINE_WKV6_HEAD(wkv6_head_avx512, TGT_AVX512)
#endif

Wkv6HeadFn wkv6_head_fn(int isa, int N) {  // N <= 1024
    return N == 64 ? PICK_BY_ISA(isa, wkv6_head, <64>) : PICK_BY_ISA(isa, wkv6_head, <0>);
}

// ---------------------------------------------------------------------------------------------
// The fused decode step.

// Pointers per layer, then global ones, and the dimensions: in layouts.h's order (RWKV456_*).
// Vectors are fp32; matrices [out, in] in the model's weight type. What a generation does not have
// is null. Per layer, with A the attention width, D / Dd the widths of RWKV-6's two LoRAs:
//   mix       v4: [3, C] k v r; v5: [4, C] k v r g (x mix + x_prev (1 - mix))
//   maa_x     v6: [C];  maa v6: [5, C] w k v r g;  maa_w1 v6: [5 D, C];  maa_w2 v6: [5, C, D]
//   decay     v4: [A] w = -exp(time_decay); v5: [A] decay in (0, 1); v6: [A] time_decay
//   decay_w1  v6: [Dd, C];  decay_w2 v6: [A, Dd]
//   u         [A]: v4 time_first, v5/v6 time_faaaa
//   R K V G   [A, C] (G: v5/v6);  O [C, A];  lnx_w, lnx_b v5/v6: [A]
//   fK [F, C], fR [C, C], fV [C, F];  *_s: int8 weights' float scale per row
enum LayerPtr { RWKV456_LAYER_PTRS(LAYOUT_ENUM) P_LAYER_COUNT };
enum GlobalPtr { GLOBAL_PTRS(LAYOUT_ENUM) G_COUNT };
enum Dim { RWKV456_DIMS(LAYOUT_ENUM) D_COUNT };

struct Layer {
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b, *mix, *maa_x, *maa, *decay, *u, *lnx_w, *lnx_b, *ffn_mix_k,
        *ffn_mix_r;
    Mat maa_w1, maa_w2[5], decay_w1, decay_w2, R, K, V, G, O, fK, fR, fV;
};

struct Rwkv456 {
    int gen, L, C, A, H, N, F, V, D, Dd, wtype, emb_type, shift_type, lora_type, head_type;
    const void* emb;
    const float *lnout_w, *lnout_b;
    Mat head;
    std::vector<Layer> layers;
    // scratch for `cap` sequences, each array [cap][its width]; grown (rarely) to the largest batch
    int cap = 0;
    long W = 0;  // max(C, A): the vectors' width
    std::vector<float> x, xx, sx, xin, r, k, v, g, y, w, maa_h, maa_m, dh, dl, out, fk, fr;
    void reserve(int B) {
        if (B <= cap) return;
        W = std::max(C, A);
        for (auto* a : {&x, &xx, &sx, &r, &k, &v, &g, &y, &w, &dl, &out, &fr}) a->assign(B * W, 0.0f);
        xin.assign(5 * B * W, 0.0f);
        maa_h.assign(B * std::max(5L * D, 1L), 0.0f);
        maa_m.assign(5 * B * W, 0.0f);
        dh.assign(B * long(std::max(Dd, 1)), 0.0f);
        fk.assign(long(B) * F, 0.0f);
        cap = B;
    }
};

// One sequence's state: the token shifts att and ffn [L, C] (fp32 or bf16); v4: s0, s1, s2 = aa, bb,
// pp, each [L, A]; v5/v6: s0 = wkv [L, H, N, N].
struct Seq {
    void *att, *ffn;
    float *s0, *s1, *s2;
};

// v4's WKV over the channels, in chunks the pool's threads take in turn (every sequence's).
struct Wkv4Job {
    Rwkv456* m;
    const Layer* ly;
    int l, nb;
    const Seq* seqs;
    mutable std::atomic<long> next{0};
    void operator()(int, int) const {
        constexpr long CH = 256;
        const long A = m->A, per = (A + CH - 1) / CH;
        const Wkv4StepFn step = wkv4_step_fn(current_isa());
        for (long i; (i = next.fetch_add(1, std::memory_order_relaxed)) < nb * per;) {
            const long b = i / per, c0 = (i % per) * CH, o = long(l) * A, ob = b * m->W;
            const Seq& s = seqs[b];
            step(c0, std::min(A, c0 + CH), ly->decay, ly->u, m->k.data() + ob, m->v.data() + ob, s.s0 + o,
                 s.s1 + o, s.s2 + o, m->y.data() + ob);
        }
    }
};

// v5/v6: decay, WKV, GroupNorm (ln_x) and the gate, per sequence and head.
struct Wkv6Job {
    Rwkv456* m;
    const Layer* ly;
    int l, nb;
    const Seq* seqs;
    int isa;
    mutable std::atomic<int> next{0};
    void operator()(int, int) const {
        Rwkv456& M = *m;
        const int N = M.N;
        for (int i; (i = next.fetch_add(1, std::memory_order_relaxed)) < nb * M.H;) {
            const int b = i / M.H, h = i % M.H;
            const long o = long(h) * N, ob = long(b) * M.W + o;
            float* w = M.w.data() + ob;
            if (M.gen == 6) {  // w = exp(-exp(time_decay + decay LoRA))
                for (int j = 0; j < N; j++) w[j] = ly->decay[o + j] + M.dl[ob + j];
                vec_exp(w, N);
                for (int j = 0; j < N; j++) w[j] = -w[j];
                vec_exp(w, N);
            } else {
                std::memcpy(w, ly->decay + o, sizeof(float) * N);
            }
            float* y = M.y.data() + ob;
            float* S = seqs[b].s0 + (long(l) * M.H + h) * N * N;
            wkv6_head_fn(isa, N)(N, M.r.data() + ob, w, M.k.data() + ob, M.v.data() + ob, ly->u + o, S, y);
            double mean = 0, var = 0;
            for (int j = 0; j < N; j++) mean += y[j];
            mean /= N;
            for (int j = 0; j < N; j++) var += (y[j] - mean) * (y[j] - mean);
            const float inv = float(1.0 / std::sqrt(var / N + GN_EPS)), mu = float(mean);
            for (int j = 0; j < N; j++)
                y[j] = ((y[j] - mu) * inv * ly->lnx_w[o + j] + ly->lnx_b[o + j]) * M.g[ob + j];
        }
    }
};

// x_mix = x mix + x_prev (1 - mix), for RWKV-4/5 (RWKV-6 writes x + (x_prev - x) maa instead; the
// two are equal in exact arithmetic, not in float, and each follows its own reference).
inline float blend(float x, float prev, float mix) { return x * mix + prev * (1.0f - mix); }

// Every array below is per sequence: [nb][W] (xin, maa_m [nb][5 W]; maa_h [nb][5 D]).
void time_mix(Rwkv456& M, const Layer& ly, int l, int nb, const Seq* seqs, int isa) {
    const int C = M.C;
    const long base = long(l) * C, W = M.W, W5 = 5 * W, D5 = std::max(5L * M.D, 1L);
    const bool sbf = M.shift_type == W_BF16;
    float* xin = M.xin.data();
    float *xk = xin, *xv = xin + W, *xr = xin + 2 * W, *xg = xin + 3 * W, *xw = xin + 4 * W;
    if (M.gen == 6) {
        for (int b = 0; b < nb; b++) {
            const Shift att_prev{seqs[b].att, sbf};
            float *xx = M.xx.data() + b * W, *sx = M.sx.data() + b * W, *xwb = xw + b * W5;
            for (int c = 0; c < C; c++) {
                sx[c] = att_prev.get(base + c) - xx[c];
                xwb[c] = xx[c] + sx[c] * ly.maa_x[c];  // the LoRA's input, in the w slot until it is read
                att_prev.set(base + c, xx[c]);
            }
        }
        MultiGemv g1;
        g1.nb = nb;
        g1.add(ly.maa_w1, xw, M.maa_h.data(), ACT_TANH, W5, D5);
        g1.run();
        MultiGemv g2;
        g2.nb = nb;
        for (int i = 0; i < 5; i++)
            g2.add(ly.maa_w2[i], M.maa_h.data() + long(i) * M.D, M.maa_m.data() + long(i) * W, ACT_NONE, D5, W5);
        g2.run();
        // maa rows and LoRA outputs are w k v r g; xin's slots are k v r g w
        static const int slot[5] = {4, 0, 1, 2, 3};
        for (int b = 0; b < nb; b++) {
            const float *xx = M.xx.data() + b * W, *sx = M.sx.data() + b * W;
            for (int i = 0; i < 5; i++) {
                float* dst = xin + b * W5 + long(slot[i]) * W;
                const float *maa = ly.maa + long(i) * C, *mm = M.maa_m.data() + b * W5 + long(i) * W;
                for (int c = 0; c < C; c++) dst[c] = xx[c] + sx[c] * (maa[c] + mm[c]);
            }
        }
    } else {
        const int rows = M.gen == 4 ? 3 : 4;
        for (int b = 0; b < nb; b++) {
            const Shift att_prev{seqs[b].att, sbf};
            const float* xx = M.xx.data() + b * W;
            float* xb = xin + b * W5;
            for (int c = 0; c < C; c++) {
                const float prev = att_prev.get(base + c);
                for (int i = 0; i < rows; i++) xb[long(i) * W + c] = blend(xx[c], prev, ly.mix[long(i) * C + c]);
                att_prev.set(base + c, xx[c]);
            }
        }
    }
    MultiGemv g;
    g.nb = nb;
    g.add(ly.R, xr, M.r.data(), M.gen == 4 ? ACT_SIGMOID : ACT_NONE, W5, W);
    g.add(ly.K, xk, M.k.data(), ACT_NONE, W5, W);
    g.add(ly.V, xv, M.v.data(), ACT_NONE, W5, W);
    if (M.gen != 4) g.add(ly.G, xg, M.g.data(), ACT_SILU, W5, W);
    if (M.gen == 6) g.add(ly.decay_w1, xw, M.dh.data(), ACT_TANH, W5);
    g.run();
    if (M.gen == 6) {
        MultiGemv gd;
        gd.nb = nb;
        gd.add(ly.decay_w2, M.dh.data(), M.dl.data(), ACT_NONE, 0, W);
        gd.run();
    }
    if (M.gen == 4) {
        Wkv4Job job{&M, &ly, l, nb, seqs, {0}};
        parallel(job);
        for (int b = 0; b < nb; b++)
            for (long c = 0; c < M.A; c++) M.y[b * W + c] *= M.r[b * W + c];
    } else {
        Wkv6Job job{&M, &ly, l, nb, seqs, isa, {0}};
        parallel(job);
    }
    MultiGemv go;
    go.nb = nb;
    go.add(ly.O, M.y.data(), M.out.data(), ACT_NONE, W, W);
    go.run();
}

void channel_mix(Rwkv456& M, const Layer& ly, int l, int nb, const Seq* seqs) {
    const int C = M.C;
    const long base = long(l) * C, W = M.W, W5 = 5 * W;
    const bool sbf = M.shift_type == W_BF16;
    for (int b = 0; b < nb; b++) {
        const Shift ffn_prev{seqs[b].ffn, sbf};
        float *xx = M.xx.data() + b * W, *xk = M.xin.data() + b * W5, *xr = xk + W;
        for (int c = 0; c < C; c++) {
            const float prev = ffn_prev.get(base + c);
            if (M.gen == 6) {
                xk[c] = xx[c] + (prev - xx[c]) * ly.ffn_mix_k[c];
                xr[c] = xx[c] + (prev - xx[c]) * ly.ffn_mix_r[c];
            } else {
                xk[c] = blend(xx[c], prev, ly.ffn_mix_k[c]);
                xr[c] = blend(xx[c], prev, ly.ffn_mix_r[c]);
            }
            ffn_prev.set(base + c, xx[c]);
        }
    }
    MultiGemv g;
    g.nb = nb;
    g.add(ly.fK, M.xin.data(), M.fk.data(), ACT_RELU_SQ, W5);
    g.add(ly.fR, M.xin.data() + W, M.fr.data(), ACT_SIGMOID, W5, W);
    g.run();
    MultiGemv gv;
    gv.nb = nb;
    gv.add(ly.fV, M.fk.data(), M.out.data(), ACT_NONE, 0, W);
    gv.run();
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < C; c++) M.out[b * W + c] *= M.fr[b * W + c];
}

// nb tokens, one per sequence, in one pass over the weights (see rwkv7.cpp's decode_step).
void decode_step(Rwkv456& M, int nb, const int* tokens, const Seq* seqs, float* logits) {
    M.reserve(nb);
    const int C = M.C, isa = current_isa();
    const long W = M.W;
    for (int b = 0; b < nb; b++) {
        float* x = M.x.data() + b * W;
        if (M.emb_type == W_BF16) {
            const uint16_t* e = static_cast<const uint16_t*>(M.emb) + long(tokens[b]) * C;
            for (int i = 0; i < C; i++) x[i] = bf16_to_f32(e[i]);
        } else {
            std::memcpy(x, static_cast<const float*>(M.emb) + long(tokens[b]) * C, sizeof(float) * C);
        }
    }
    for (int l = 0; l < M.L; l++) {
        const Layer& ly = M.layers[l];
        for (int b = 0; b < nb; b++) layer_norm(M.x.data() + b * W, ly.ln1_w, ly.ln1_b, M.xx.data() + b * W, C);
        time_mix(M, ly, l, nb, seqs, isa);
        for (int b = 0; b < nb; b++)
            for (int c = 0; c < C; c++) M.x[b * W + c] += M.out[b * W + c];
        for (int b = 0; b < nb; b++) layer_norm(M.x.data() + b * W, ly.ln2_w, ly.ln2_b, M.xx.data() + b * W, C);
        channel_mix(M, ly, l, nb, seqs);
        for (int b = 0; b < nb; b++)
            for (int c = 0; c < C; c++) M.x[b * W + c] += M.out[b * W + c];
    }
    for (int b = 0; b < nb; b++) layer_norm(M.x.data() + b * W, M.lnout_w, M.lnout_b, M.xx.data() + b * W, C);
    MultiGemv gh;
    gh.nb = nb;
    gh.add(M.head, M.xx.data(), logits, ACT_NONE, W);
    gh.run();
}

}  // namespace
}  // namespace rwkvcpu

using namespace rwkvcpu;

// T tokens of WKV-4 on k, v [T, A]; aa, bb, pp [A] updated in place; y [T, A]. Parallel over
// channel blocks: each thread runs its channels through all T tokens.
API void rwkv_wkv4_seq(int T, long A, const float* w, const float* u, const float* k, const float* v, float* aa,
                       float* bb, float* pp, float* y) {
    std::lock_guard<std::mutex> lk(g_api);
    std::atomic<long> next{0};
    const Wkv4StepFn step = wkv4_step_fn(current_isa());
    auto job = [&](int, int) {
        constexpr long CH = 64;
        for (long c0; (c0 = next.fetch_add(CH)) < A;) {
            const long c1 = std::min(A, c0 + CH);
            for (int t = 0; t < T; t++) {
                const long o = long(t) * A;
                step(c0, c1, w, u, k + o, v + o, aa, bb, pp, y + o);
            }
        }
    };
    parallel(job);
}

// T tokens of WKV-5.2/6 on r, k, v [T, H, N]; w [T, H, N], or [H, N] for every token when
// w_per_token is 0; u [H, N]; state [H, N, N] (key, value) updated in place; y [T, H, N].
API void rwkv_wkv6_seq(int T, int H, int N, const float* r, const float* w, int w_per_token, const float* k,
                       const float* v, const float* u, float* state, float* y) {
    std::lock_guard<std::mutex> lk(g_api);
    const Wkv6HeadFn f = wkv6_head_fn(current_isa(), N);
    std::atomic<int> next{0};
    auto job = [&](int, int) {
        for (long h; (h = next.fetch_add(1)) < H;) {
            for (int t = 0; t < T; t++) {
                const long o = long(t) * H * N + h * N;
                f(N, r + o, w + (w_per_token ? o : h * N), k + o, v + o, u + h * N, state + h * N * N, y + o);
            }
        }
    };
    parallel(job);
}

// dims: D_COUNT values (enum Dim); ptrs: L * P_LAYER_COUNT layer pointers, then G_COUNT.
// Returns nullptr if the counts or shapes do not fit this library.
API void* rwkv456_create(const int64_t* dims, int ndims, const void* const* ptrs, int nptrs) {
    if (ndims != D_COUNT) return nullptr;
    auto* M = new Rwkv456();
    M->gen = int(dims[D_GEN]);
    M->L = int(dims[D_L]);
    M->C = int(dims[D_C]);
    M->A = int(dims[D_A]);
    M->H = int(dims[D_H]);
    M->N = int(dims[D_N]);
    M->F = int(dims[D_F]);
    M->V = int(dims[D_V]);
    M->D = int(dims[D_MAA]);
    M->Dd = int(dims[D_DECAY]);
    M->wtype = int(dims[D_WTYPE]);
    M->emb_type = int(dims[D_EMB_TYPE]);
    M->shift_type = int(dims[D_SHIFT_TYPE]);
    M->lora_type = int(dims[D_LORA_TYPE]);
    M->head_type = int(dims[D_HEAD_TYPE]);
    const bool ok = (M->gen == 4 || M->gen == 5 || M->gen == 6) && nptrs == M->L * P_LAYER_COUNT + G_COUNT &&
                    (M->gen == 4 || (M->H * M->N == M->A && M->N <= 1024)) && M->lora_type != W_I8 &&
                    !is_q4_type(M->lora_type) && M->wtype >= W_F32 && M->wtype <= W_Q5 && M->head_type >= W_F32 &&
                    M->head_type <= W_Q5;
    if (!ok) {
        delete M;
        return nullptr;
    }
    const int C = M->C, A = M->A, F = M->F, wt = M->wtype;
    auto f = [&](const void* p) { return static_cast<const float*>(p); };
    for (int l = 0; l < M->L; l++) {
        const void* const* p = ptrs + long(l) * P_LAYER_COUNT;
        Layer ly;
        ly.ln1_w = f(p[P_LN1_W]);
        ly.ln1_b = f(p[P_LN1_B]);
        ly.ln2_w = f(p[P_LN2_W]);
        ly.ln2_b = f(p[P_LN2_B]);
        ly.mix = f(p[P_MIX]);
        ly.maa_x = f(p[P_MAA_X]);
        ly.maa = f(p[P_MAA]);
        ly.decay = f(p[P_DECAY]);
        ly.u = f(p[P_U]);
        ly.lnx_w = f(p[P_LNX_W]);
        ly.lnx_b = f(p[P_LNX_B]);
        ly.ffn_mix_k = f(p[P_FFN_MIX_K]);
        ly.ffn_mix_r = f(p[P_FFN_MIX_R]);
        ly.R = make_mat(p[P_R], p[P_R_S], A, C, wt);
        ly.K = make_mat(p[P_K], p[P_K_S], A, C, wt);
        ly.V = make_mat(p[P_V], p[P_V_S], A, C, wt);
        ly.O = make_mat(p[P_O], p[P_O_S], C, A, wt);
        ly.fK = make_mat(p[P_FK], p[P_FK_S], F, C, wt);
        ly.fR = make_mat(p[P_FR], p[P_FR_S], C, C, wt);
        ly.fV = make_mat(p[P_FV], p[P_FV_S], C, F, wt);
        if (M->gen != 4) ly.G = make_mat(p[P_G], p[P_G_S], A, C, wt);
        if (M->gen == 6) {
            const int D = M->D, lt = M->lora_type;
            ly.maa_w1 = make_mat(p[P_MAA_W1], nullptr, 5L * D, C, lt);
            const size_t esize = lt == W_BF16 ? 2 : 4;
            for (int i = 0; i < 5; i++)
                ly.maa_w2[i] = make_mat(static_cast<const char*>(p[P_MAA_W2]) + esize * i * C * D, nullptr, C, D, lt);
            ly.decay_w1 = make_mat(p[P_DECAY_W1], nullptr, M->Dd, C, lt);
            ly.decay_w2 = make_mat(p[P_DECAY_W2], nullptr, A, M->Dd, lt);
        }
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

API void rwkv456_destroy(void* m) { delete static_cast<Rwkv456*>(m); }

// One token through the whole model: the state updated in place (att_prev and ffn_prev [L, C]; v4:
// s0, s1, s2 = aa, bb, pp, each [L, A]; v5/v6: s0 = wkv [L, H, N, N], s1 and s2 unused), logits [V]
// written. Allocates nothing.
API void rwkv456_decode(void* m, int token, void* att_prev, float* s0, float* s1, float* s2, void* ffn_prev,
                       float* logits) {
    std::lock_guard<std::mutex> lk(g_api);
    const Seq s{att_prev, ffn_prev, s0, s1, s2};
    decode_step(*static_cast<Rwkv456*>(m), 1, &token, &s, logits);
}

// One token for each of nb sequences (tokens[b]; sequence b's state att_prev[b], s0[b], s1[b],
// s2[b], ffn_prev[b] as for rwkv456_decode; s1, s2 may be null for v5/v6), in one pass over the
// weights; logits [nb, V]. Each sequence's results are bit-identical to rwkv456_decode's.
API void rwkv456_decode_batch(void* m, int nb, const int* tokens, void* const* att_prev, float* const* s0,
                              float* const* s1, float* const* s2, void* const* ffn_prev, float* logits) {
    std::lock_guard<std::mutex> lk(g_api);
    static std::vector<Seq> seqs;  // guarded by g_api
    if (int(seqs.size()) < nb) seqs.resize(nb);
    for (int b = 0; b < nb; b++)
        seqs[b] = Seq{att_prev[b], ffn_prev[b], s0[b], s1 ? s1[b] : nullptr, s2 ? s2[b] : nullptr};
    decode_step(*static_cast<Rwkv456*>(m), nb, tokens, seqs.data(), logits);
}
