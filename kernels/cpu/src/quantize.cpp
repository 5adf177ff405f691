// Load-time weight quantisation: a float32, bf16 or fp16 matrix (a checkpoint's tensor, often a
// view of the memory-mapped file) into int8, q4 or q5 as engine/models/packed.py lays them out,
// the same bytes as packed.py's torch code (its reference: tests compare them bit for bit), several
// rows at a time on the pool's threads.
//
// int8: per row, s = max(max|w|, 1e-30) / 127 and q = rint(w / s) in -127..127.
// q4 / q5 (B bits, half = 2^(B-1)): per block of 32 inputs (a row zero-padded to q4_padded), m the
// block's first value of largest magnitude, d = fp16(m / -half) (clamped to +-65504) and
// q = rint(w / d) in -half..half-1 (w / 1 where d is 0), stored as q + half: nibbles in the order the
// kernels read (byte 32 c + 4 i + j of a group of 8 blocks: value 4 c + j of block i low, 16 + 4 c + j
// high), then for q5 a plane of 32 bytes (bit s of byte 4 i + j: bit 4 of value 4 s + j of block i).
// rint rounds half to even, as torch.round; every division is a real fp32 division, so the results
// do not depend on the instruction set (the compiler vectorises the loops per ISA).

#include <limits>

#include "core.h"

namespace rwkvcpu {
namespace {

enum SType { S_F32 = 0, S_BF16 = 1, S_F16 = 2 };

struct QuantJob {
    const void* src;
    int stype;
    long rows, cols, rs, cs;  // the source's shape and strides (elements)
    int wtype;
    void* q;
    void* scale;
    long padded;              // a row's values after padding (q4 / q5: q4_padded; int8: cols)
};

#define QINLINE __attribute__((always_inline)) inline

// Row r of the source as float, zero-padded to j.padded values.
QINLINE void load_row(const QuantJob& j, long r, float* out) {
    const long n = j.cols;
    if (j.stype == S_F32) {
        const float* s = static_cast<const float*>(j.src) + r * j.rs;
        if (j.cs == 1)
            for (long i = 0; i < n; i++) out[i] = s[i];
        else
            for (long i = 0; i < n; i++) out[i] = s[i * j.cs];
    } else if (j.stype == S_BF16) {
        const uint16_t* s = static_cast<const uint16_t*>(j.src) + r * j.rs;
        if (j.cs == 1)
            for (long i = 0; i < n; i++) out[i] = bf16_to_f32(s[i]);
        else
            for (long i = 0; i < n; i++) out[i] = bf16_to_f32(s[i * j.cs]);
    } else {
        const uint16_t* s = static_cast<const uint16_t*>(j.src) + r * j.rs;
        for (long i = 0; i < n; i++) out[i] = half_to_f32(s[i * j.cs]);
    }
    for (long i = n; i < j.padded; i++) out[i] = 0.0f;
}

// A NaN weight makes its row's (int8) or block's (q4 / q5) scale NaN, as torch's max and argmax do in
// packed.py: the model's outputs are then NaN, which generation reports, instead of quiet garbage.
QINLINE void int8_row(const float* x, long n, int8_t* q, float* scale) {
    float amax = 0.0f;
    int nan = 0;
    PRAGMA(omp simd reduction(max : amax) reduction(| : nan))
    for (long i = 0; i < n; i++) {
        amax = std::max(amax, std::fabs(x[i]));
        nan |= x[i] != x[i];
    }
    const float s = nan ? std::numeric_limits<float>::quiet_NaN() : std::max(amax, 1e-30f) / 127.0f;
    PRAGMA(omp simd)
    for (long i = 0; i < n; i++) {
        float v = std::nearbyint(x[i] / s);
        v = v > -127.0f ? v : -127.0f;  // (a NaN weight: -127)
        v = v < 127.0f ? v : 127.0f;
        q[i] = int8_t(v);
    }
    *scale = s;
}

// One row of B-bit blocks: u gets q + half per value, d the blocks' fp16 scales.
template <int B>
QINLINE void block_values(const float* x, long padded, uint8_t* u, uint16_t* d) {
    constexpr int half = 1 << (B - 1);
    for (long b = 0; b < padded / 32; b++) {
        const float* xb = x + 32 * b;
        float hi = xb[0], lo = xb[0];
        int nan = 0;
        PRAGMA(omp simd reduction(max : hi) reduction(min : lo) reduction(| : nan))
        for (int i = 0; i < 32; i++) {
            hi = std::max(hi, xb[i]);
            lo = std::min(lo, xb[i]);
            nan |= xb[i] != xb[i];
        }
        // The value of largest magnitude; where +a and -a tie (or only zeros), the first one, as
        // torch's argmax of |w| takes.
        float m = hi > -lo ? hi : lo;
        if (hi == -lo) {
            const float a = std::fabs(hi);
            for (int i = 0; i < 32; i++)
                if (std::fabs(xb[i]) == a) {
                    m = xb[i];
                    break;
                }
        }
        if (nan) m = std::numeric_limits<float>::quiet_NaN();
        float dm = m / float(-half);
        dm = dm < -65504.0f ? -65504.0f : (dm > 65504.0f ? 65504.0f : dm);
        const uint16_t h = f32_to_half(dm);
        d[b] = h;
        const float df = half_to_f32(h), div = df == 0.0f ? 1.0f : df;
        uint8_t* ub = u + 32 * b;
        PRAGMA(omp simd)
        for (int i = 0; i < 32; i++) {
            float v = std::nearbyint(xb[i] / div);
            v = v > float(-half) ? v : float(-half);
            v = v < float(half - 1) ? v : float(half - 1);
            ub[i] = uint8_t(int(v) + half);
        }
    }
}

// The stored values u (q + half, one byte each) of one row, packed as gemv_q4.cpp reads them.
template <int B>
QINLINE void pack_blocks(const uint8_t* u, long padded, uint8_t* out) {
    for (long g = 0; g < padded / Q4_GROUP; g++, u += Q4_GROUP) {
        for (int c = 0; c < 4; c++)
            for (int i = 0; i < 8; i++)
                for (int jj = 0; jj < 4; jj++)
                    out[32 * c + 4 * i + jj] =
                        uint8_t((u[32 * i + 4 * c + jj] & 15) | ((u[32 * i + 16 + 4 * c + jj] & 15) << 4));
        if (B == 5) {
            for (int i = 0; i < 8; i++)
                for (int jj = 0; jj < 4; jj++) {
                    unsigned v = 0;
                    for (int s = 0; s < 8; s++) v |= unsigned((u[32 * i + 4 * s + jj] >> 4) & 1) << s;
                    out[Q4_GROUP / 2 + 4 * i + jj] = uint8_t(v);
                }
        }
        out += Q4_GROUP * B / 8;
    }
}

QINLINE void quantize_rows(const QuantJob& j, long r0, long r1, float* buf, uint8_t* u) {
    for (long r = r0; r < r1; r++) {
        load_row(j, r, buf);
        if (j.wtype == W_I8) {
            int8_row(buf, j.cols, static_cast<int8_t*>(j.q) + r * j.cols, static_cast<float*>(j.scale) + r);
            continue;
        }
        uint16_t* d = static_cast<uint16_t*>(j.scale) + r * (j.padded / 32);
        if (j.wtype == W_Q4) {
            block_values<4>(buf, j.padded, u, d);
            pack_blocks<4>(u, j.padded, static_cast<uint8_t*>(j.q) + r * (j.padded / 2));
        } else {
            block_values<5>(buf, j.padded, u, d);
            pack_blocks<5>(u, j.padded, static_cast<uint8_t*>(j.q) + r * (j.padded * 5 / 8));
        }
    }
}

void quantize_rows_scalar(const QuantJob& j, long r0, long r1, float* buf, uint8_t* u) {
    quantize_rows(j, r0, r1, buf, u);
}
#if RWKV_X86
TGT_AVX2 void quantize_rows_avx2(const QuantJob& j, long r0, long r1, float* buf, uint8_t* u) {
    quantize_rows(j, r0, r1, buf, u);
}
TGT_AVX512 void quantize_rows_avx512(const QuantJob& j, long r0, long r1, float* buf, uint8_t* u) {
    quantize_rows(j, r0, r1, buf, u);
}
#endif

}  // namespace
}  // namespace rwkvcpu

using namespace rwkvcpu;

// src [rows, cols] (float32, bf16 or fp16 by stype 0 / 1 / 2; element strides rs, cs) into wtype
// W_I8 (q int8 [rows, cols], scale float [rows]), W_Q4 (q uint8 [rows, q4_padded(cols) / 2]) or
// W_Q5 (q [rows, 5 q4_padded(cols) / 8]), those two with fp16 scale [rows, q4_padded(cols) / 32].
// Returns 0, or -1 for arguments it does not take.
API int rwkv_quantize(const void* src, int stype, long rows, long cols, long rs, long cs, int wtype, void* q,
                      void* scale) {
    if (stype < S_F32 || stype > S_F16 || (wtype != W_I8 && wtype != W_Q4 && wtype != W_Q5) || rows < 0 ||
        cols <= 0)
        return -1;
    if (rows == 0) return 0;
    std::lock_guard<std::mutex> lk(g_api);
    const QuantJob job{src, stype, rows, cols, rs, cs, wtype, q, scale,
                       wtype == W_I8 ? cols : (cols + Q4_GROUP - 1) / Q4_GROUP * Q4_GROUP};
    const int isa = current_isa();
    auto work = [&](int tid, int nth) {
        const long r0 = rows * tid / nth, r1 = rows * (tid + 1) / nth;
        if (r0 >= r1) return;
        std::vector<float> buf(job.padded);
        std::vector<uint8_t> u(job.padded);
        PICK_BY_ISA(isa, quantize_rows)(job, r0, r1, buf.data(), u.data());
    };
    if (rows < 64) work(0, 1);
    else parallel(work);
    return 0;
}
