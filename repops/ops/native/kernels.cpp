// Fused CPU kernels for RepOps programs (docs/repops.md, "Native CPU kernels").
// Each function computes exactly the scalar program of its twin in repops/ops/kernels.py,
// operation by operation in the same order, in binary32/binary64 IEEE arithmetic. Built with
// -O2 -ffp-contract=off -fno-fast-math: no FMA contraction (a*b+c must round twice, as the
// torch program does), no reassociation or reciprocal tricks, so every operation is one
// correctly rounded IEEE operation and the bits equal the torch program's. Only inputs whose
// results are fully determined by IEEE (no NaN produced or consumed) are handled here; the
// callers fall back to the torch program otherwise, so NaN payloads never depend on C++.
#include <torch/extension.h>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <vector>

namespace {

inline uint32_t f32_bits(float v) { uint32_t b; std::memcpy(&b, &v, 4); return b; }
inline uint64_t f64_bits(double v) { uint64_t b; std::memcpy(&b, &v, 8); return b; }
inline double f64_from(uint64_t b) { double v; std::memcpy(&v, &b, 8); return v; }
inline float f32_from(uint32_t b) { float v; std::memcpy(&v, &b, 4); return v; }

// Rounding constant c = 1.5 * 2**(52+E-s) from the line maximum |x| (binary32 bits, no sign):
// exponent field f of the maximum widened to binary64 gives E = f - 1022, c's field f + 53 - s.
inline double grid_constant(uint32_t absmax_bits, int64_t s) {
  uint64_t f = f64_bits(static_cast<double>(f32_from(absmax_bits))) >> 52;
  return f64_from(((f + 53 - s) << 52) | (uint64_t(1) << 51));
}

}  // namespace

// Grid rounding of the exact matmul: out = (widen(x) + c) - c per line, c from the line's
// max |x| (lines along the last dim when rows, else along dim -2). x and out are 3-D
// (batch, R, C) whose last dim has stride 1 (the caller transposes a transposed operand and
// flips `rows`). Returns false (out unspecified) if a line holds an inf or NaN: the caller
// then runs the torch program, which gives such lines their NaN penalty.
bool to_grid(torch::Tensor x, torch::Tensor out, bool rows, int64_t s) {
  TORCH_CHECK((x.stride(2) == 1 && out.stride(2) == 1) || x.size(2) <= 1, "to_grid: last dim must be unit-stride");
  const float* xp = x.data_ptr<float>();
  double* op = out.data_ptr<double>();
  const int64_t B = x.size(0), R = x.size(1), C = x.size(2);
  const int64_t xb = x.stride(0), xr = x.stride(1);
  const int64_t ob = out.stride(0), orr = out.stride(1);
  std::vector<uint32_t> mx(C);
  std::vector<double> cs(C);
  for (int64_t b = 0; b < B; ++b) {
    const float* xs = xp + b * xb;
    double* os = op + b * ob;
    // |x| as integer bits: ordered like the values, and NaN > inf, so a max >= 0x7f800000
    // means the line is not finite. An integer max is order-free.
    if (rows) {
      for (int64_t r = 0; r < R; ++r) {
        const float* xl = xs + r * xr;
        uint32_t m = 0;
        for (int64_t c = 0; c < C; ++c) {
          uint32_t a = f32_bits(xl[c]) & 0x7fffffffu;
          m = a > m ? a : m;
        }
        if (m >= 0x7f800000u) return false;
        const double cc = grid_constant(m, s);
        double* ol = os + r * orr;
        for (int64_t c = 0; c < C; ++c) ol[c] = (static_cast<double>(xl[c]) + cc) - cc;
      }
    } else {
      std::fill(mx.begin(), mx.end(), 0u);
      for (int64_t r = 0; r < R; ++r) {
        const float* xl = xs + r * xr;
        for (int64_t c = 0; c < C; ++c) {
          uint32_t a = f32_bits(xl[c]) & 0x7fffffffu;
          mx[c] = a > mx[c] ? a : mx[c];
        }
      }
      for (int64_t c = 0; c < C; ++c) {
        if (mx[c] >= 0x7f800000u) return false;
        cs[c] = grid_constant(mx[c], s);
      }
      for (int64_t r = 0; r < R; ++r) {
        const float* xl = xs + r * xr;
        double* ol = os + r * orr;
        for (int64_t c = 0; c < C; ++c) ol[c] = (static_cast<double>(xl[c]) + cs[c]) - cs[c];
      }
    }
  }
  return true;
}

// narrow(acc) + 0.0 in one pass (contiguous float64 in, float32 out).
void narrow_plus_zero(torch::Tensor acc, torch::Tensor out) {
  const double* a = acc.data_ptr<double>();
  float* o = out.data_ptr<float>();
  const int64_t n = acc.numel();
  for (int64_t i = 0; i < n; ++i) o[i] = static_cast<float>(a[i]) + 0.0f;
}

namespace {

const double LN2_HI = 0x1.62e42feep-1;
const double LN2_LO = 0x1.a39ef35793c76p-33;
const double LN2 = 0x1.62e42fefa39efp-1;
const double SQRT_HALF = 0x1.6a09e667f3bcdp-1;
const double EXP_CLAMP = 700.0;
const double ROUND_C = 6755399441055744.0;  // 1.5 * 2**52
const double EXP_L_HI = LN2_HI / 32;
const double EXP_L_LO = LN2_LO / 32;
const double EXP_INV_L = 0x1.71547652b82fep5;

// Filled from Python (kernels.EXP_TABLE, LOG_COEFFS, EXP_POLY) so the constants have one source.
uint64_t exp_table_bits[32];
double exp_poly[5];
double log_coeffs[8];

// kernels.exp64 for a value that is not NaN (clamped, so finite).
inline double exp64(double x) {
  double xc = x < -EXP_CLAMP ? -EXP_CLAMP : (x > EXP_CLAMP ? EXP_CLAMP : x);
  double u = xc * EXP_INV_L;
  u = u + ROUND_C;
  int64_t ki = static_cast<int64_t>(f64_bits(u)) - static_cast<int64_t>(f64_bits(ROUND_C));
  double k = u - ROUND_C;
  double r = (xc - k * EXP_L_HI) - k * EXP_L_LO;
  int64_t j = ki & 31;
  uint64_t scale = exp_table_bits[j] + (static_cast<uint64_t>(ki - j) << 47);
  double p = r * exp_poly[0];
  for (int i = 1; i < 4; ++i) p = (p + exp_poly[i]) * r;
  p = p + exp_poly[4];
  return p * f64_from(scale);
}

inline float exp32(float x) { return static_cast<float>(exp64(static_cast<double>(x))); }

// kernels.log for finite x > 0 (the only case the callers pass: a softmax sum >= 1).
inline float log32(float x) {
  double xd = static_cast<double>(x);
  int e;
  std::frexp(xd, &e);
  double m = xd * f64_from(static_cast<uint64_t>(-e + 1023) << 52);
  if (m < SQRT_HALF) { m = m * 2.0; e = e - 1; }
  double ed = static_cast<double>(e);
  double f = m - 1.0;
  double s = f / (f + 2.0);
  double z = s * s;
  double q = log_coeffs[0];
  for (int i = 1; i < 8; ++i) q = q * z + log_coeffs[i];
  return static_cast<float>(ed * LN2 + (s * 2.0) * q);
}

// kernels.tree_sum of n values (buf has room for the next power of two), destroys buf.
inline float tree_sum(float* buf, int64_t n) {
  if (n == 0) return 0.0f;
  int64_t n2 = 1;
  while (n2 < n) n2 <<= 1;
  for (int64_t i = n; i < n2; ++i) buf[i] = -0.0f;
  while (n2 > 1) {
    n2 >>= 1;
    for (int64_t i = 0; i < n2; ++i) buf[i] = buf[i] + buf[i + n2];
  }
  return buf[0];
}

}  // namespace

void set_constants(torch::Tensor table_bits, torch::Tensor poly, torch::Tensor logc) {
  std::memcpy(exp_table_bits, table_bits.data_ptr<int64_t>(), sizeof exp_table_bits);
  std::memcpy(exp_poly, poly.data_ptr<double>(), sizeof exp_poly);
  std::memcpy(log_coeffs, logc.data_ptr<double>(), sizeof log_coeffs);
}

// softmax / log_softmax over the last dim of a contiguous (rows, n) float32 tensor:
// m = amax(x) + 0; z = x - m; e = exp(z); s = tree_sum(e); p = e / s; y = z - log(s).
// Returns false (outputs unspecified) if a row holds a NaN or has a non-finite maximum
// (+inf, or all -inf): those rows make NaNs, left to the torch program.
bool softmax_rows(torch::Tensor x, torch::Tensor p_out, torch::Tensor y_out, bool want_log) {
  const float* xp = x.data_ptr<float>();
  float* pp = p_out.data_ptr<float>();
  float* yp = want_log ? y_out.data_ptr<float>() : nullptr;
  const int64_t rows = x.size(0), n = x.size(1);
  int64_t n2 = 1;
  while (n2 < n) n2 <<= 1;
  std::vector<float> buf(n2), ev(n);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = xp + r * n;
    float m = -INFINITY;
    for (int64_t i = 0; i < n; ++i) {
      float v = xr[i];
      if (v != v) return false;
      if (v > m) m = v;
    }
    m = m + 0.0f;
    if (!(m > -INFINITY && m < INFINITY)) return false;
    for (int64_t i = 0; i < n; ++i) {
      float e = exp32(xr[i] - m);
      ev[i] = e;
      buf[i] = e;
    }
    float s = tree_sum(buf.data(), n);
    float* pr = pp + r * n;
    for (int64_t i = 0; i < n; ++i) pr[i] = ev[i] / s;
    if (want_log) {
      float ls = log32(s);
      float* yr = yp + r * n;
      for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] - m) - ls;
    }
  }
  return true;
}

// kernels.tree_sum over dim 1 of a contiguous (rows, n) float32 tensor (inner) or over dim 0
// of a contiguous (n, cols) tensor (!inner): the same pairwise tree with -0.0 padding.
// Returns false (out unspecified) if a sum is NaN, which every NaN input makes (NaN payloads
// are left to the torch program). n >= 1.
bool tree_sum_2d(torch::Tensor x, torch::Tensor out, bool inner) {
  const float* xp = x.data_ptr<float>();
  float* op = out.data_ptr<float>();
  if (inner) {
    const int64_t rows = x.size(0), n = x.size(1);
    int64_t n2 = 1;
    while (n2 < n) n2 <<= 1;
    std::vector<float> buf(n2);
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = xp + r * n;
      std::memcpy(buf.data(), xr, n * sizeof(float));
      float v = tree_sum(buf.data(), n);
      if (v != v) return false;
      op[r] = v;
    }
    return true;
  }
  const int64_t n = x.size(0), C = x.size(1);
  int64_t n2 = 1;
  while (n2 < n) n2 <<= 1;
  // Level one reads x directly (pairs i, i + h with i + h < n; rows past n are the -0.0
  // padding, and v + -0 = v, so those rows are copied unchanged); later levels halve buf.
  const int64_t h0 = n2 / 2;
  if (n2 == 1) {
    for (int64_t c = 0; c < C; ++c) {
      if (xp[c] != xp[c]) return false;
      op[c] = xp[c];
    }
    return true;  // one row: the sum is the row itself
  }
  std::vector<float> buf(h0 * C);
  for (int64_t i = 0; i < h0; ++i) {
    const float* a = xp + i * C;
    float* d = buf.data() + i * C;
    if (i + h0 < n) {
      const float* b = xp + (i + h0) * C;
      for (int64_t c = 0; c < C; ++c) d[c] = a[c] + b[c];
    } else {
      for (int64_t c = 0; c < C; ++c) d[c] = a[c] + -0.0f;
    }
  }
  for (int64_t h = h0 / 2; h >= 1; h /= 2) {
    for (int64_t i = 0; i < h; ++i) {
      float* d = buf.data() + i * C;
      const float* b = buf.data() + (i + h) * C;
      for (int64_t c = 0; c < C; ++c) d[c] = d[c] + b[c];
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    if (buf[c] != buf[c]) return false;
    op[c] = buf[c];
  }
  return true;
}

namespace {
double gelu_c[4];  // GELU_C0, GELU_C1, 3 * GELU_C1, 2 * GELU_C0 (binary64, from Python)
}

void set_gelu_constants(torch::Tensor c) { std::memcpy(gelu_c, c.data_ptr<double>(), sizeof gelu_c); }

// kernels.gelu_with_q on contiguous float32 x: y (float32) and q (float64). Returns false
// (outputs unspecified) if x holds a NaN (its NaN passes through in the torch program).
bool gelu_forward(torch::Tensor x, torch::Tensor y, torch::Tensor q) {
  const float* xp = x.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  double* qp = q.data_ptr<double>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) {
    const float xv = xp[i];
    if (xv != xv) return false;
    const bool neg_inf = xv == -INFINITY;
    const double xd = static_cast<double>(neg_inf ? 0.0f : xv);
    double v = xd * xd;
    v = v * xd;
    v = v * gelu_c[1];
    v = v + xd;
    v = v * gelu_c[0];
    v = v * -2.0;
    const double qv = exp64(v);
    const double den = qv + 1.0;
    const float yv = static_cast<float>(xd / den);
    yp[i] = neg_inf ? -0.0f : yv;
    qp[i] = qv;
  }
  return true;
}

// kernels.gelu_grad_from_q on contiguous float32 x and its forward's float64 q. Returns
// false (output unspecified) if x holds a NaN.
bool gelu_backward(torch::Tensor x, torch::Tensor q, torch::Tensor d) {
  const float* xp = x.data_ptr<float>();
  const double* qp = q.data_ptr<double>();
  float* dp = d.data_ptr<float>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) {
    const float xv = xp[i];
    if (xv != xv) return false;
    const bool inf = xv == INFINITY || xv == -INFINITY;
    const double xd = static_cast<double>(inf ? 0.0f : xv);
    const double qv = qp[i];
    const double den = qv + 1.0;
    const double sig = 1.0 / den;
    const double w = (qv / den) / den;
    double du = xd * xd;
    du = du * gelu_c[2];
    du = du + 1.0;
    du = du * gelu_c[3];
    double dv = w * xd;
    dv = dv * du;
    dv = dv + sig;
    const float r = static_cast<float>(dv);
    dp[i] = xv == INFINITY ? 1.0f : (xv == -INFINITY ? 0.0f : r);
  }
  return true;
}
