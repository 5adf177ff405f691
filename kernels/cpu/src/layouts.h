// The one table of what the fused decode steps take: per-layer weight pointers, global pointers
// and dimensions, in the order the create functions read them. Each X(ENUM, name) entry gives the
// C++ enum (rwkv7.cpp, rwkv456.cpp) and the name Python passes the tensor under: the library
// hands these lists to Python (rwkv_cpu_table), so the two sides cannot disagree on the order.
#pragma once

// RWKV-7 (rwkv7.cpp). Vectors fp32; matrices [out, in] in the weight type, *_S their int8 scales
// (a float per row) or q4 / q5 block scales (fp16), or null. Layer 0 has no value residual: its V0/V1/V2 are null.
#define RWKV7_LAYER_PTRS(X)                                                                          \
    X(P_LN1_W, ln1_w) X(P_LN1_B, ln1_b) X(P_LN2_W, ln2_w) X(P_LN2_B, ln2_b) X(P_MIX, mix)              \
    X(P_W0, w0) X(P_W1, w1) X(P_W2, w2) X(P_A0, a0) X(P_A1, a1) X(P_A2, a2) X(P_V0, v0) X(P_V1, v1)      \
    X(P_V2, v2) X(P_G1, g1) X(P_G2, g2) X(P_K_K, k_k) X(P_K_A, k_a) X(P_R_K, r_k) X(P_R, R)             \
    X(P_R_S, R_s) X(P_K, K) X(P_K_S, K_s) X(P_V, V) X(P_V_S, V_s) X(P_O, O) X(P_O_S, O_s)                \
    X(P_LNX_W, lnx_w) X(P_LNX_B, lnx_b) X(P_FFN_MIX, ffn_mix) X(P_FK, fK) X(P_FK_S, fK_s) X(P_FV, fV)  \
    X(P_FV_S, fV_s) X(P_W1_S, w1_s) X(P_W2_S, w2_s) X(P_A1_S, a1_s) X(P_A2_S, a2_s) X(P_V1_S, v1_s)    \
    X(P_V2_S, v2_s) X(P_G1_S, g1_s) X(P_G2_S, g2_s)

// The sizes, and the weight types (enum WType) of the big matrices, the embedding, the token-shift
// states, the LoRAs and the head (int8 while the big matrices are q4 or q5).
#define RWKV7_DIMS(X)                                                                                \
    X(D_L, n_layer) X(D_C, n_embd) X(D_H, n_head) X(D_N, head_size) X(D_F, dim_ffn) X(D_V, vocab_size) \
    X(D_W, lora_w) X(D_A, lora_a) X(D_VL, lora_v) X(D_G, lora_g) X(D_WTYPE, wtype)                      \
    X(D_EMB_TYPE, emb_type) X(D_SHIFT_TYPE, shift_type) X(D_LORA_TYPE, lora_type)                   \
    X(D_HEAD_TYPE, head_type)

// RWKV-4, -5.2 and -6 (rwkv456.cpp): the union of the three generations' weights; what a
// generation does not have is null. Shapes are in rwkv456.cpp's enum comments.
#define RWKV456_LAYER_PTRS(X)                                                                        \
    X(P_LN1_W, ln1_w) X(P_LN1_B, ln1_b) X(P_LN2_W, ln2_w) X(P_LN2_B, ln2_b) X(P_MIX, mix)              \
    X(P_MAA_X, maa_x) X(P_MAA, maa) X(P_MAA_W1, maa_w1) X(P_MAA_W2, maa_w2) X(P_DECAY, decay)          \
    X(P_DECAY_W1, decay_w1) X(P_DECAY_W2, decay_w2) X(P_U, u) X(P_R, R) X(P_K, K) X(P_V, V) X(P_G, G)  \
    X(P_O, O) X(P_LNX_W, lnx_w) X(P_LNX_B, lnx_b) X(P_FFN_MIX_K, ffn_mix_k) X(P_FFN_MIX_R, ffn_mix_r)  \
    X(P_FK, fK) X(P_FR, fR) X(P_FV, fV) X(P_R_S, R_s) X(P_K_S, K_s) X(P_V_S, V_s) X(P_G_S, G_s)         \
    X(P_O_S, O_s) X(P_FK_S, fK_s) X(P_FR_S, fR_s) X(P_FV_S, fV_s)

#define RWKV456_DIMS(X)                                                                              \
    X(D_GEN, generation) X(D_L, n_layer) X(D_C, n_embd) X(D_A, dim_att) X(D_H, n_head)                 \
    X(D_N, head_size) X(D_F, dim_ffn) X(D_V, vocab_size) X(D_MAA, lora_maa) X(D_DECAY, lora_decay)     \
    X(D_WTYPE, wtype) X(D_EMB_TYPE, emb_type) X(D_SHIFT_TYPE, shift_type) X(D_LORA_TYPE, lora_type)   \
    X(D_HEAD_TYPE, head_type)

// Both models' global pointers: the embedding (fp32, or bf16 for bf16 models), ln_out, the head.
#define GLOBAL_PTRS(X) X(G_EMB, emb) X(G_LNOUT_W, lnout_w) X(G_LNOUT_B, lnout_b) X(G_HEAD, head) X(G_HEAD_S, head_s)

#define LAYOUT_ENUM(e, name) e,
#define LAYOUT_NAME(e, name) #name ","
