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
    int gen, L, C, A, H, N, F, V, D, Dd, wtype, emb_type, shift_type, lora_type;
    const void* emb;
    const float *lnout_w, *lnout_b;
    Mat head;
    std::vector<Layer> layers;
    // scratch, allocated once
    std::vector<float> x, xx, sx, xin, r, k, v, g, y, w, maa_h, maa_m, dh, dl, out, fk, fr;
};

// The recurrent state besides the token shifts: v4 aa, bb, pp, each [L, A]; v5/v6 wkv [L, H, N, N].
struct WkvState {
    float *s0, *s1, *s2;
};

// v4's WKV over the channels, in chunks the pool's threads take in turn.
struct Wkv4Job {
    Rwkv456* m;
    const Layer* ly;
    float *aa, *bb, *pp;
    mutable std::atomic<long> next{0};
    void operator()(int, int) const {
        constexpr long CH = 256;
        const long A = m->A;
        const Wkv4StepFn step = wkv4_step_fn(current_isa());
        for (long c0; (c0 = next.fetch_add(CH, std::memory_order_relaxed)) < A;)
            step(c0, std::min(A, c0 + CH), ly->decay, ly->u, m->k.data(), m->v.data(), aa, bb, pp,
                      m->y.data());
    }
};

// v5/v6: decay, WKV, GroupNorm (ln_x) and the gate, per head.
struct Wkv6Job {
    Rwkv456* m;
    const Layer* ly;
    float* S;
    int isa;
    mutable std::atomic<int> next{0};
    void operator()(int, int) const {
        Rwkv456& M = *m;
        const int N = M.N;
        for (int h; (h = next.fetch_add(1, std::memory_order_relaxed)) < M.H;) {
            const long o = long(h) * N;
            float* w = M.w.data() + o;
            if (M.gen == 6) {  // w = exp(-exp(time_decay + decay LoRA))
                for (int j = 0; j < N; j++) w[j] = ly->decay[o + j] + M.dl[o + j];
                vec_exp(w, N);
                for (int j = 0; j < N; j++) w[j] = -w[j];
                vec_exp(w, N);
            } else {
                std::memcpy(w, ly->decay + o, sizeof(float) * N);
            }
            float* y = M.y.data() + o;
            wkv6_head_fn(isa, N)(N, M.r.data() + o, w, M.k.data() + o, M.v.data() + o, ly->u + o,
                              S + long(h) * N * N, y);
            double mean = 0, var = 0;
            for (int j = 0; j < N; j++) mean += y[j];
            mean /= N;
            for (int j = 0; j < N; j++) var += (y[j] - mean) * (y[j] - mean);
            const float inv = float(1.0 / std::sqrt(var / N + GN_EPS)), mu = float(mean);
            for (int j = 0; j < N; j++)
                y[j] = ((y[j] - mu) * inv * ly->lnx_w[o + j] + ly->lnx_b[o + j]) * M.g[o + j];
        }
    }
};

// x_mix = x mix + x_prev (1 - mix), for RWKV-4/5 (RWKV-6 writes x + (x_prev - x) maa instead; the
// two are equal in exact arithmetic, not in float, and each follows its own reference).
inline float blend(float x, float prev, float mix) { return x * mix + prev * (1.0f - mix); }

void time_mix(Rwkv456& M, const Layer& ly, int l, const Shift& att_prev, const WkvState& state, int isa) {
    const int C = M.C;
    const long base = long(l) * C;
    float *xx = M.xx.data(), *xin = M.xin.data();
    float *xk = xin, *xv = xin + C, *xr = xin + 2 * C, *xg = xin + 3 * C, *xw = xin + 4 * C;
    if (M.gen == 6) {
        float* sx = M.sx.data();
        for (int c = 0; c < C; c++) {
            sx[c] = att_prev.get(base + c) - xx[c];
            xw[c] = xx[c] + sx[c] * ly.maa_x[c];  // the LoRA's input, in the w slot until it is read
            att_prev.set(base + c, xx[c]);
        }
        MultiGemv g1;
        g1.add(ly.maa_w1, xw, M.maa_h.data(), ACT_TANH);
        g1.run();
        MultiGemv g2;
        for (int i = 0; i < 5; i++) g2.add(ly.maa_w2[i], M.maa_h.data() + long(i) * M.D, M.maa_m.data() + long(i) * C);
        g2.run();
        // maa rows and LoRA outputs are w k v r g; xin's slots are k v r g w
        static const int slot[5] = {4, 0, 1, 2, 3};
        for (int i = 0; i < 5; i++) {
            float* dst = xin + long(slot[i]) * C;
            const float *maa = ly.maa + long(i) * C, *mm = M.maa_m.data() + long(i) * C;
            for (int c = 0; c < C; c++) dst[c] = xx[c] + sx[c] * (maa[c] + mm[c]);
        }
    } else {
        const int rows = M.gen == 4 ? 3 : 4;
        for (int c = 0; c < C; c++) {
            const float prev = att_prev.get(base + c);
            for (int i = 0; i < rows; i++) xin[long(i) * C + c] = blend(xx[c], prev, ly.mix[long(i) * C + c]);
            att_prev.set(base + c, xx[c]);
        }
    }
    MultiGemv g;
    g.add(ly.R, xr, M.r.data(), M.gen == 4 ? ACT_SIGMOID : ACT_NONE);
    g.add(ly.K, xk, M.k.data());
    g.add(ly.V, xv, M.v.data());
    if (M.gen != 4) g.add(ly.G, xg, M.g.data(), ACT_SILU);
    if (M.gen == 6) g.add(ly.decay_w1, xw, M.dh.data(), ACT_TANH);
    g.run();
    if (M.gen == 6) {
        MultiGemv gd;
        gd.add(ly.decay_w2, M.dh.data(), M.dl.data());
        gd.run();
    }
    if (M.gen == 4) {
        const long A = M.A;
        const long o = long(l) * A;
        Wkv4Job job{&M, &ly, state.s0 + o, state.s1 + o, state.s2 + o, {0}};
        parallel(job);
        for (long c = 0; c < A; c++) M.y[c] *= M.r[c];
    } else {
        Wkv6Job job{&M, &ly, state.s0 + long(l) * M.H * M.N * M.N, isa, {0}};
        parallel(job);
    }
    MultiGemv go;
    go.add(ly.O, M.y.data(), M.out.data());
    go.run();
}

void channel_mix(Rwkv456& M, const Layer& ly, int l, const Shift& ffn_prev) {
    const int C = M.C;
    const long base = long(l) * C;
    float *xx = M.xx.data(), *xk = M.xin.data(), *xr = xk + C;
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
    MultiGemv g;
    g.add(ly.fK, xk, M.fk.data(), ACT_RELU_SQ);
    g.add(ly.fR, xr, M.fr.data(), ACT_SIGMOID);
    g.run();
    MultiGemv gv;
    gv.add(ly.fV, M.fk.data(), M.out.data());
    gv.run();
    for (int c = 0; c < C; c++) M.out[c] *= M.fr[c];
}

void decode_step(Rwkv456& M, int token, void* att_prev_v, const WkvState& state, void* ffn_prev_v, float* logits) {
    const Shift att_prev{att_prev_v, M.shift_type == W_BF16}, ffn_prev{ffn_prev_v, M.shift_type == W_BF16};
    const int C = M.C, isa = current_isa();
    float *x = M.x.data(), *xx = M.xx.data();
    if (M.emb_type == W_BF16) {
        const uint16_t* e = static_cast<const uint16_t*>(M.emb) + long(token) * C;
        for (int i = 0; i < C; i++) x[i] = bf16_to_f32(e[i]);
    } else {
        std::memcpy(x, static_cast<const float*>(M.emb) + long(token) * C, sizeof(float) * C);
    }
    for (int l = 0; l < M.L; l++) {
        const Layer& ly = M.layers[l];
        layer_norm(x, ly.ln1_w, ly.ln1_b, xx, C);
        time_mix(M, ly, l, att_prev, state, isa);
        for (int c = 0; c < C; c++) x[c] += M.out[c];
        layer_norm(x, ly.ln2_w, ly.ln2_b, xx, C);
        channel_mix(M, ly, l, ffn_prev);
        for (int c = 0; c < C; c++) x[c] += M.out[c];
    }
    layer_norm(x, M.lnout_w, M.lnout_b, xx, C);
    MultiGemv gh;
    gh.add(M.head, xx, logits);
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
    const bool ok = (M->gen == 4 || M->gen == 5 || M->gen == 6) && nptrs == M->L * P_LAYER_COUNT + G_COUNT &&
                    (M->gen == 4 || (M->H * M->N == M->A && M->N <= 1024)) && M->lora_type != W_I8;
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
    M->head = make_mat(g[G_HEAD], g[G_HEAD_S], M->V, C, wt);
    const long W = std::max(C, A);
    for (auto* v : {&M->x, &M->xx, &M->sx, &M->r, &M->k, &M->v, &M->g, &M->y, &M->w, &M->dl, &M->out, &M->fr})
        v->assign(W, 0.0f);
    M->xin.assign(5 * W, 0.0f);
    M->maa_h.assign(std::max(5L * M->D, 1L), 0.0f);
    M->maa_m.assign(5 * W, 0.0f);
    M->dh.assign(std::max(M->Dd, 1), 0.0f);
    M->fk.assign(F, 0.0f);
    return M;
}

API void rwkv456_destroy(void* m) { delete static_cast<Rwkv456*>(m); }

// One token through the whole model: the state updated in place (att_prev and ffn_prev [L, C]; v4:
// s0, s1, s2 = aa, bb, pp, each [L, A]; v5/v6: s0 = wkv [L, H, N, N], s1 and s2 unused), logits [V]
// written. Allocates nothing.
API void rwkv456_decode(void* m, int token, void* att_prev, float* s0, float* s1, float* s2, void* ffn_prev,
                       float* logits) {
    std::lock_guard<std::mutex> lk(g_api);
    decode_step(*static_cast<Rwkv456*>(m), token, att_prev, WkvState{s0, s1, s2}, ffn_prev, logits);
}
