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

struct HeadsJob {  // everything between the LoRAs and the output projection, per sequence and head
    Rwkv7* m;
    const Layer* ly;
    int layer, nb;
    const Seq* seqs;
    int isa;
    mutable std::atomic<int> next{0};
    void operator()(int, int) const {
        const int N = m->N;
        float aa[1024], bb[3 * 1024], ww[1024];  // N <= 1024; bb also holds two gates
        for (int i; (i = next.fetch_add(1, std::memory_order_relaxed)) < nb * m->H;)
            run_head(i / m->H, i % m->H, N, aa, bb, ww);
    }
    void run_head(int b, int h, int N, float* aa, float* bb, float* ww) const {
        Rwkv7& M = *m;
        const long o = long(h) * N, ob = long(b) * M.C + o;  // in the layer's vectors; in the scratch
        float *r = M.r.data() + ob, *k = M.k.data() + ob, *v = M.v.data() + ob, *y = M.y.data() + ob;
        const float *wl = M.wl.data() + ob, *al = M.al.data() + ob, *vl = M.vl.data() + ob, *g = M.g.data() + ob;
        float* vfirst = M.vfirst.data() + ob;
        float* S = seqs[b].wkv + (long(layer) * M.H + h) * N * N;
        float nrm = 0;
        for (int j = 0; j < N; j++) {
            float kk = k[j] * ly->k_k[o + j];
            aa[j] = kk;
            nrm += kk * kk;
        }
        const float inv = 1.0f / std::max(std::sqrt(nrm), 1e-12f);
        // the gates, in vectorised passes: a = sigmoid(a0 + a_lora), v's = sigmoid(v0 + v_lora),
        // the decay ww = exp(-e^-0.5 sigmoid(w0 + w_lora))
        float *ga = bb + N, *gv = bb + 2 * N;
        for (int j = 0; j < N; j++) {
            ga[j] = ly->a0[o + j] + al[j];
            ww[j] = ly->w0[o + j] + wl[j];
            if (layer > 0) gv[j] = ly->v0[o + j] + vl[j];
        }
        vec_sigmoid(ga, N);
        vec_sigmoid(ww, N);
        if (layer > 0) vec_sigmoid(gv, N);
        for (int j = 0; j < N; j++) ww[j] *= -DECAY_SCALE;
        vec_exp(ww, N);
        for (int j = 0; j < N; j++) {
            const long c = o + j;
            const float kk = aa[j] * inv;
            const float a = ga[j];
            aa[j] = -kk;
            bb[j] = kk * a;
            k[j] = k[j] * (1.0f + (a - 1.0f) * ly->k_a[c]);
            if (layer == 0) vfirst[j] = v[j];
            else v[j] += (vfirst[j] - v[j]) * gv[j];
        }
        wkv7_head_fn(isa)(N, r, ww, k, v, aa, bb, S, y);
        double dmean = 0, var = 0;
        float bonus = 0;
        for (int j = 0; j < N; j++) dmean += y[j];
        dmean /= N;
        for (int j = 0; j < N; j++) var += (y[j] - dmean) * (y[j] - dmean);
        const float ginv = float(1.0 / std::sqrt(var / N + GN_EPS)), mean = float(dmean);
        for (int j = 0; j < N; j++) bonus += r[j] * k[j] * ly->r_k[o + j];
        for (int j = 0; j < N; j++) {
            const long c = o + j;
            y[j] = ((y[j] - mean) * ginv * ly->lnx_w[c] + ly->lnx_b[c] + bonus * v[j]) * g[j];
        }
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
            float* S = state + h * N * N;
            const long o = h * N;
            transpose(S, St.data(), N);
            f(T, long(H) * N, N, r + o, w + o, k + o, v + o, a + o, b + o, St.data(), y + o);
            transpose(St.data(), S, N);
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
