// inheritune_native: float32 kernels for the engine's tfjs backends, reached through N-API.
//
// Every function works on Float32Arrays the caller owns (the wasm backend passes its whole heap and
// element offsets into it, the cpu backend each tensor's own array) and writes into an output the
// caller has allocated, so no tensor memory is allocated or copied here. Matrix products go to the
// system BLAS (OpenBLAS on Linux, Accelerate on macOS).
#include <node_api.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <algorithm>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <climits>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#ifdef INHERITUNE_ACCELERATE
#include <Accelerate/Accelerate.h>
#else
// The few OpenBLAS entry points used, declared here so that only the library (libopenblas.so) is
// needed at build time, whatever cblas.h the system ships.
extern "C" {
enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };
void cblas_sgemm(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, int, int, int, float, const float*, int,
                 const float*, int, float, float*, int);
void openblas_set_num_threads(int);
char* openblas_get_config(void);
// LAPACK (in OpenBLAS's archive; these two need no Fortran runtime).
void dsytrd_(const char* uplo, const int* n, double* a, const int* lda, double* d, double* e, double* tau, double* work,
             const int* lwork, int* info);
void dsterf_(const int* n, double* d, double* e, int* info);
}
#endif

namespace {

struct Error {
  std::string message;
};

#define NAPI_OK(call)                                   \
  do {                                                  \
    if ((call) != napi_ok) throw Error{"N-API: " #call}; \
  } while (0)

struct Args {
  napi_env env;
  static constexpr size_t kMaxArgs = 20;
  size_t argc = kMaxArgs;
  napi_value argv[kMaxArgs];
  Args(napi_env e, napi_callback_info info) : env(e) { NAPI_OK(napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr)); }

  void need(size_t n) const {
    if (n > kMaxArgs) throw Error{"too many arguments for Args"};
    if (argc < n) throw Error{"expected " + std::to_string(n) + " arguments"};
  }
  double num(size_t i) const {
    double v;
    if (napi_get_value_double(env, argv[i], &v) != napi_ok) throw Error{"argument " + std::to_string(i) + " must be a number"};
    return v;
  }
  int64_t i64(size_t i) const {
    double v = num(i);
    if (v != std::floor(v) || v < 0) throw Error{"argument " + std::to_string(i) + " must be a non-negative integer"};
    return static_cast<int64_t>(v);
  }
  bool flag(size_t i) const {
    bool v;
    if (napi_get_value_bool(env, argv[i], &v) != napi_ok) return num(i) != 0;
    return v;
  }
  // A Float32Array's data and length (elements).
  float* f32(size_t i, int64_t* length) const {
    napi_typedarray_type type;
    size_t len;
    void* data;
    if (napi_get_typedarray_info(env, argv[i], &type, &len, &data, nullptr, nullptr) != napi_ok || type != napi_float32_array) {
      throw Error{"argument " + std::to_string(i) + " must be a Float32Array"};
    }
    *length = static_cast<int64_t>(len);
    return static_cast<float*>(data);
  }
  // An Int32Array's data and length (elements).
  const int32_t* i32(size_t i, int64_t* length) const {
    napi_typedarray_type type;
    size_t len;
    void* data;
    if (napi_get_typedarray_info(env, argv[i], &type, &len, &data, nullptr, nullptr) != napi_ok || type != napi_int32_array) {
      throw Error{"argument " + std::to_string(i) + " must be an Int32Array"};
    }
    *length = static_cast<int64_t>(len);
    return static_cast<const int32_t*>(data);
  }
  // A Float64Array's data and length (elements), written to.
  double* f64out(size_t i, int64_t* length) const {
    napi_typedarray_type type;
    size_t len;
    void* data;
    if (napi_get_typedarray_info(env, argv[i], &type, &len, &data, nullptr, nullptr) != napi_ok || type != napi_float64_array) {
      throw Error{"argument " + std::to_string(i) + " must be a Float64Array"};
    }
    *length = static_cast<int64_t>(len);
    return static_cast<double*>(data);
  }
  // A Float64Array of at least n numbers.
  const double* f64(size_t i, size_t n) const {
    napi_typedarray_type type;
    size_t len;
    void* data;
    if (napi_get_typedarray_info(env, argv[i], &type, &len, &data, nullptr, nullptr) != napi_ok || type != napi_float64_array || len < n) {
      throw Error{"argument " + std::to_string(i) + " must be a Float64Array of " + std::to_string(n)};
    }
    return static_cast<const double*>(data);
  }
};

void checkRange(int64_t offset, int64_t count, int64_t length, const char* what) {
  if (offset < 0 || count < 0 || offset + count > length) throw Error{std::string(what) + ": range outside the array"};
}

napi_value undefinedValue(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

// V8 and BLAS kernels can leave the upper halves of the AVX registers dirty; SSE code (glibc's
// libm, or this file's loops) then pays a state-transition penalty per instruction on many x86
// CPUs (measured: tanhf 7x slower). vzeroupper on entry clears it.
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx"))) void clearUpperAvx() { __builtin_ia32_vzeroupper(); }
bool detectAvx() {
  __builtin_cpu_init();  // needed before __builtin_cpu_supports in a static initialiser
  return __builtin_cpu_supports("avx");
}
const bool kHasAvx = detectAvx();
inline void cleanAvxState() {
  if (kHasAvx) clearUpperAvx();
}
#else
inline void cleanAvxState() {}
#endif

template <typename F>
napi_value guarded(napi_env env, F&& f) {
  cleanAvxState();
  try {
    return f();
  } catch (const Error& e) {
    napi_throw_error(env, "INHERITUNE_NATIVE", e.message.c_str());
    return nullptr;
  }
}

// BLAS threads: the configured count for large products; one for small ones (under ~64 MFLOP,
// about a millisecond on one core), where waking and joining threads costs more than it saves.
int configuredThreads = 1;
int currentThreads = -1;
constexpr double kThreadedFlops = 64e6;

void useThreadsFor(double flops) {
  const int want = flops < kThreadedFlops ? 1 : configuredThreads;
  if (want == currentThreads) return;
#ifndef INHERITUNE_ACCELERATE
  openblas_set_num_threads(want);
#endif
  currentThreads = want;
}

// gemm(transA, transB, M, N, K, A, aOff, aStride, B, bOff, bStride, C, cOff, batch, accumulate)
// For b in [0, batch): C[cOff + b*M*N] (M x N, row-major) = op(A[aOff + b*aStride]) @ op(B[bOff + b*bStride]),
// op(A) M x K (stored K x M when transA), op(B) K x N (stored N x K when transB). A stride of 0 broadcasts.
// With accumulate, the product is added to C (a bias written there first costs no pass of its own:
// the BLAS clears C before its products otherwise).
napi_value Gemm(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(15);
    const bool ta = a.flag(0), tb = a.flag(1), accumulate = a.flag(14);
    const int64_t M = a.i64(2), N = a.i64(3), K = a.i64(4);
    int64_t lenA, lenB, lenC;
    const float* A = a.f32(5, &lenA);
    const int64_t aOff = a.i64(6), aStride = a.i64(7);
    const float* B = a.f32(8, &lenB);
    const int64_t bOff = a.i64(9), bStride = a.i64(10);
    float* C = a.f32(11, &lenC);
    const int64_t cOff = a.i64(12), batch = a.i64(13);
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) throw Error{"matrix too large"};
    if (batch == 0 || M == 0 || N == 0) return undefinedValue(env);
    checkRange(cOff, batch * M * N, lenC, "C");
    if (K == 0) {
      if (!accumulate) std::memset(C + cOff, 0, sizeof(float) * batch * M * N);
      return undefinedValue(env);
    }
    checkRange(aOff, (batch - 1) * aStride + M * K, lenA, "A");
    checkRange(bOff, (batch - 1) * bStride + K * N, lenB, "B");
    const int lda = static_cast<int>(ta ? M : K), ldb = static_cast<int>(tb ? K : N);
    useThreadsFor(2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K));
    for (int64_t i = 0; i < batch; i++) {
      cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(M),
                  static_cast<int>(N), static_cast<int>(K), 1.0f, A + aOff + i * aStride, lda, B + bOff + i * bStride, ldb,
                  accumulate ? 1.0f : 0.0f, C + cOff + i * M * N, static_cast<int>(N));
    }
    return undefinedValue(env);
  });
}


// ---------------------------------------------------------------------------------------------
// Elementwise and reduction kernels. Float math is IEEE single precision as in tfjs's kernels;
// sums accumulate in double (as the cpu backend's JavaScript numbers do).

enum BinaryOp {
  kAdd = 0,
  kSub = 1,
  kMul = 2,
  kDiv = 3,
  kPow = 4,
  kSquaredDifference = 5,
  kMaximum = 6,
  kMinimum = 7,
  // (a - b)^2 in double, rounded once: the cpu backend's JavaScript arithmetic.
  kSquaredDifferenceF64 = 8,
};

inline float powf32(float a, float b) {
  // Integer exponents 2 and 3 (GELU's x^3 and its gradient's x^2): exact products in double,
  // rounded once, as Math.pow on the cpu backend gives for these.
  if (b == 2.0f) return static_cast<float>(static_cast<double>(a) * a);
  if (b == 3.0f) return static_cast<float>(static_cast<double>(a) * a * a);
  if (b == 1.0f) return a;
  return static_cast<float>(std::pow(static_cast<double>(a), static_cast<double>(b)));
}

template <int OP>
inline float apply(float a, float b) {
  if (OP == kAdd) return a + b;
  if (OP == kSub) return a - b;
  if (OP == kMul) return a * b;
  if (OP == kDiv) return a / b;
  if (OP == kPow) return powf32(a, b);
  if (OP == kSquaredDifference) {
    float d = a - b;
    return d * d;
  }
  if (OP == kSquaredDifferenceF64) {
    const double d = static_cast<double>(a) - static_cast<double>(b);
    return static_cast<float>(d * d);
  }
  if (OP == kMaximum) return (std::isnan(a) || std::isnan(b)) ? NAN : (a > b ? a : b);
  if (OP == kMinimum) return (std::isnan(a) || std::isnan(b)) ? NAN : (a < b ? a : b);
  return 0;
}

// Passes over at least kParallelMin elements are split among the threads. Outputs far beyond the
// caches (hundreds of MB for GPT-2-sized logits and gradients) are computed a chunk at a time into
// a buffer that stays in L1 and written with streaming (non-temporal) stores, which do not first
// read the destination's cache lines: a third less memory traffic for a binary op. Smaller outputs
// (activations of a few MB, which the next kernel reads at once) are written through the caches.
constexpr int64_t kParallelMin = int64_t(1) << 18;
constexpr int64_t kStreamMin = int64_t(1) << 22;
constexpr int64_t kChunk = 1024;

inline void streamCopy(float* dst, const float* src, int64_t n) {
#if defined(__SSE2__)
  int64_t i = 0;
  while (i < n && (reinterpret_cast<uintptr_t>(dst + i) & 15) != 0) {
    dst[i] = src[i];
    i++;
  }
  for (; i + 4 <= n; i += 4) _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
  for (; i < n; i++) dst[i] = src[i];
#else
  std::memcpy(dst, src, sizeof(float) * n);
#endif
}

inline void streamFence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

// Spins until done() or some 30 microseconds have passed, pausing between checks (a pause lets
// the other hyperthread run and saves power).
template <typename Done>
void spinBriefly(Done done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(30);
  while (!done()) {
    for (int i = 0; i < 16; i++) {
#if defined(__SSE2__)
      _mm_pause();
#else
      std::this_thread::yield();
#endif
    }
    if (std::chrono::steady_clock::now() >= until) return;
  }
}

// Threads that live as long as the process and run the parts of a job beside the calling thread.
// BLAS calls made on them reuse OpenBLAS's buffers for the thread; on a fresh thread per call
// OpenBLAS took new ones each time (RSS grew by 75 MB over 200 small training steps). Jobs come in
// quick succession (a training step runs hundreds of kernels of tens of microseconds), and waking
// a sleeping thread took about as long as such a kernel: the threads, and the caller waiting for
// them, spin for a few microseconds before they sleep.
class WorkerPool {
 public:
  // work(w) for w in [0, workers): w = 0 on the calling thread, the others on pool threads; returns
  // when all are done. One job at a time (callers on other threads wait); work must not run jobs.
  void run(int64_t workers, const std::function<void(int64_t)>& work) {
    if (workers <= 1) {
      work(0);
      return;
    }
    std::lock_guard<std::mutex> one(busy_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (; started_ < workers - 1; started_++) std::thread([this, id = started_ + 1] { serve(id); }).detach();
      job_ = &work;
      workers_ = workers;
      pending_.store(workers - 1, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    work(0);
    spinBriefly([&] { return pending_.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    job_ = nullptr;
  }

 private:
  void serve(int64_t id) {
    uint64_t seen = 0;
    for (;;) {
      spinBriefly([&] { return generation_.load(std::memory_order_acquire) != seen; });
      const std::function<void(int64_t)>* job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        seen = generation_.load(std::memory_order_acquire);
        if (id >= workers_) continue;
        job = job_;
      }
      cleanAvxState();
      (*job)(id);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
    }
  }

  std::mutex busy_, mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t workers_ = 0, started_ = 0;
  std::atomic<int64_t> pending_{0};
  std::atomic<uint64_t> generation_{0};
};

// Never destroyed: its threads are detached and still waiting when the process exits.
WorkerPool& workerPool() {
  static WorkerPool* pool = new WorkerPool();
  return *pool;
}

// body(lo, hi) over [0, n): from `minimum` on, one contiguous range (a multiple of `align`) per
// configured thread, the calling thread taking the first; below it, all here. Elementwise passes
// over large tensors are bound by one core's arithmetic (tanh, exp, division), not by memory.
template <typename F>
void parallelRanges(int64_t n, int64_t minimum, int64_t align, F&& body) {
  const int64_t workers = n < minimum ? 1 : std::max<int64_t>(1, std::min<int64_t>(configuredThreads, n / align));
  if (workers == 1) {
    body(int64_t(0), n);
    return;
  }
  const int64_t per = ((n + workers - 1) / workers + align - 1) / align * align;
  workerPool().run((n + per - 1) / per, [&](int64_t w) { body(w * per, std::min(n, (w + 1) * per)); });
}

// The fewest rows of `width` elements worth splitting among the threads (kParallelMin in all).
inline int64_t parallelRows(int64_t width) { return std::max<int64_t>(1, kParallelMin / std::max<int64_t>(1, width)); }

// Fills c[0, n) by fill(first, count, out), which writes elements first .. first+count-1 to out.
template <typename F>
void writeOutput(float* c, int64_t n, F&& fill) {
  if (n < kStreamMin) {
    parallelRanges(n, kParallelMin, kChunk, [&](int64_t lo, int64_t hi) { fill(lo, hi - lo, c + lo); });
    return;
  }
  parallelRanges(n, kParallelMin, kChunk, [&](int64_t lo, int64_t hi) {
    alignas(64) float buf[kChunk];
    for (int64_t i = lo; i < hi; i += kChunk) {
      const int64_t m = std::min(kChunk, hi - i);
      fill(i, m, buf);
      streamCopy(c + i, buf, m);
    }
    streamFence();
  });
}

// c[i] = a[i * sa] op b[i * sb] for i < n, the contiguous and broadcast cases as loops that vectorise.
template <int OP>
void rowOp(const float* a, int64_t sa, const float* b, int64_t sb, float* c, int64_t n) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; i++) c[i] = apply<OP>(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const float bv = b[0];
    for (int64_t i = 0; i < n; i++) c[i] = apply<OP>(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const float av = a[0];
    for (int64_t i = 0; i < n; i++) c[i] = apply<OP>(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; i++) c[i] = apply<OP>(a[i * sa], b[i * sb]);
  }
}

constexpr int kMaxDims = 8;

// Rows lo..hi of the grid dims[0 .. ndim-2] in row-major order, with each row's offsets in two
// operands of per-dimension strides sa and sb: body(o, offA, offB).
template <typename F>
void walkRows(int ndim, const int64_t* dims, const int64_t* sa, const int64_t* sb, int64_t lo, int64_t hi, F&& body) {
  int64_t idx[kMaxDims] = {0};
  int64_t offA = 0, offB = 0;
  for (int64_t d = ndim - 2, rest = lo; d >= 0; d--) {
    idx[d] = rest % dims[d];
    rest /= dims[d];
    offA += idx[d] * sa[d];
    offB += idx[d] * sb[d];
  }
  for (int64_t o = lo; o < hi; o++) {
    body(o, offA, offB);
    for (int d = ndim - 2; d >= 0; d--) {
      idx[d]++;
      offA += sa[d];
      offB += sb[d];
      if (idx[d] < dims[d]) break;
      offA -= sa[d] * dims[d];
      offB -= sb[d] * dims[d];
      idx[d] = 0;
    }
  }
}

// The output in row-major order over `ndim` dims with per-operand strides (0 broadcasts): one row
// is split among the threads, and so are several rows (a bias added to each row of activations).
template <int OP>
void binaryLoop(const float* a, const float* b, float* c, int ndim, const int64_t* dims, const int64_t* sa, const int64_t* sb) {
  const int64_t inner = dims[ndim - 1], ia = sa[ndim - 1], ib = sb[ndim - 1];
  int64_t outer = 1;
  for (int d = 0; d < ndim - 1; d++) outer *= dims[d];
  if (outer == 1) {
    writeOutput(c, inner, [&](int64_t i0, int64_t m, float* out) { rowOp<OP>(a + i0 * ia, ia, b + i0 * ib, ib, out, m); });
    return;
  }
  parallelRanges(outer, parallelRows(inner), 1, [&](int64_t lo, int64_t hi) {
    walkRows(ndim, dims, sa, sb, lo, hi, [&](int64_t o, int64_t offA, int64_t offB) { rowOp<OP>(a + offA, ia, b + offB, ib, c + o * inner, inner); });
  });
}

// Reads the shape/stride parameters: [ndim, dims..., aStrides..., bStrides...] (a Float64Array).
int readLayout(const Args& a, size_t i, int64_t* dims, int64_t* sa, int64_t* sb, int64_t* total) {
  napi_typedarray_type type;
  size_t len;
  void* data;
  if (napi_get_typedarray_info(a.env, a.argv[i], &type, &len, &data, nullptr, nullptr) != napi_ok || type != napi_float64_array) {
    throw Error{"layout must be a Float64Array"};
  }
  const double* p = static_cast<const double*>(data);
  if (len < 1) throw Error{"empty layout"};
  const int ndim = static_cast<int>(p[0]);
  if (ndim < 1 || ndim > kMaxDims || len < static_cast<size_t>(1 + 3 * ndim)) throw Error{"bad layout"};
  *total = 1;
  for (int d = 0; d < ndim; d++) {
    dims[d] = static_cast<int64_t>(p[1 + d]);
    sa[d] = static_cast<int64_t>(p[1 + ndim + d]);
    sb[d] = static_cast<int64_t>(p[1 + 2 * ndim + d]);
    *total *= dims[d];
  }
  return ndim;
}

int64_t extent(int ndim, const int64_t* dims, const int64_t* strides) {
  int64_t e = 1;
  for (int d = 0; d < ndim; d++) e += (dims[d] - 1) * strides[d];
  return e;
}

// binary(op, A, aOff, B, bOff, C, cOff, layout)
napi_value Binary(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(8);
    const int op = static_cast<int>(a.i64(0));
    int64_t lenA, lenB, lenC;
    const float* A = a.f32(1, &lenA);
    const int64_t aOff = a.i64(2);
    const float* B = a.f32(3, &lenB);
    const int64_t bOff = a.i64(4);
    float* C = a.f32(5, &lenC);
    const int64_t cOff = a.i64(6);
    int64_t dims[kMaxDims], sa[kMaxDims], sb[kMaxDims], total;
    const int ndim = readLayout(a, 7, dims, sa, sb, &total);
    if (total == 0) return undefinedValue(env);
    checkRange(cOff, total, lenC, "C");
    checkRange(aOff, extent(ndim, dims, sa), lenA, "A");
    checkRange(bOff, extent(ndim, dims, sb), lenB, "B");
    const float* pa = A + aOff;
    const float* pb = B + bOff;
    float* pc = C + cOff;
    switch (op) {
      case kAdd: binaryLoop<kAdd>(pa, pb, pc, ndim, dims, sa, sb); break;
      case kSub: binaryLoop<kSub>(pa, pb, pc, ndim, dims, sa, sb); break;
      case kMul: binaryLoop<kMul>(pa, pb, pc, ndim, dims, sa, sb); break;
      case kDiv: binaryLoop<kDiv>(pa, pb, pc, ndim, dims, sa, sb); break;
      case kPow: binaryLoop<kPow>(pa, pb, pc, ndim, dims, sa, sb); break;
      case kSquaredDifference: binaryLoop<kSquaredDifference>(pa, pb, pc, ndim, dims, sa, sb); break;
      case kMaximum: binaryLoop<kMaximum>(pa, pb, pc, ndim, dims, sa, sb); break;
      case kMinimum: binaryLoop<kMinimum>(pa, pb, pc, ndim, dims, sa, sb); break;
      case kSquaredDifferenceF64: binaryLoop<kSquaredDifferenceF64>(pa, pb, pc, ndim, dims, sa, sb); break;
      default: throw Error{"unknown binary op"};
    }
    return undefinedValue(env);
  });
}

enum UnaryOp { kTanh = 0, kExp = 1, kLog = 2, kSqrt = 3, kRsqrt = 4, kSquare = 5, kNeg = 6, kAbs = 7, kSigmoid = 8, kReciprocal = 9, kCopy = 10 };

// e^r - 1 by its Taylor series to degree N (N <= 8), in Horner's form: no library call or branch.
template <int N>
inline float expm1Series(float r) {
  constexpr float kFactorials[] = {1, 1, 2, 6, 24, 120, 720, 5040, 40320};
  float q = 1.0f / kFactorials[N];
  for (int k = N - 1; k >= 1; k--) q = q * r + 1.0f / kFactorials[k];
  return q * r;
}

// e^x in float32 for x <= 88 (below -87: 0), within 2 ulp, without branches or library calls so
// that loops over it vectorise (16 lanes with AVX-512): x = k ln2 + r (Cody-Waite, |r| <= ln2/2),
// e^r by its Taylor series to degree 7 (truncation < 1e-8 relative), times 2^k added to the
// exponent.
inline float expFloat(float x) {
  const float kShift = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float xc = x < -87.0f ? -87.0f : x;
  float kf = xc * 1.44269504f + kShift;
  int32_t ki;
  std::memcpy(&ki, &kf, sizeof ki);
  kf -= kShift;
  const float r = (xc - kf * 0.693359375f) + kf * 2.12194440e-4f;
  float p = expm1Series<7>(r) + 1.0f;
  int32_t bits;
  std::memcpy(&bits, &p, sizeof bits);
  bits += static_cast<int32_t>(static_cast<uint32_t>(ki) << 23);  // the low bits of ki hold k
  std::memcpy(&p, &bits, sizeof p);
  return x < -87.0f ? 0.0f : p;
}

// tanh in float32 within a few ulp: tanh|x| = -m / (2 + m) with m = e^(-2|x|) - 1, m by its Taylor
// series to degree 8 where e^y - 1 would cancel (|2x| < ln2/2), else from expFloat; selections
// instead of branches, so loops over it vectorise (glibc's tanhf branches by range: 3-5x slower
// on activations here).
inline float tanhf32(float v) {
  const float y = -2.0f * std::fabs(v);
  const float m = y > -0.34657359f ? expm1Series<8>(y) : expFloat(y) - 1.0f;
  const float t = -m / (2.0f + m);
  return v == v ? std::copysign(t, v) : v;  // NaN stays NaN
}

// Loops of transcendental functions, compiled three times where the toolchain can (GCC, Linux
// x86-64): for AVX-512, AVX2 and the x86-64 baseline, the copy chosen by the CPU when the addon
// loads. Without FMA (-ffp-contract=off), so each element gets the same operations and the same
// result on every copy; the AVX-512 one runs GELU about four times as fast as the baseline.
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

template <typename F>
void mapLoop(const float* x, float* y, int64_t n, F f) {
  writeOutput(y, n, [&](int64_t i0, int64_t m, float* out) {
    for (int64_t i = 0; i < m; i++) out[i] = f(x[i0 + i]);
  });
}

// unary(op, X, xOff, Y, yOff, n)
napi_value Unary(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(6);
    const int op = static_cast<int>(a.i64(0));
    int64_t lenX, lenY;
    const float* X = a.f32(1, &lenX);
    const int64_t xOff = a.i64(2);
    float* Y = a.f32(3, &lenY);
    const int64_t yOff = a.i64(4), n = a.i64(5);
    checkRange(xOff, n, lenX, "X");
    checkRange(yOff, n, lenY, "Y");
    const float* x = X + xOff;
    float* y = Y + yOff;
    switch (op) {
      case kTanh: mapLoop(x, y, n, tanhf32); break;
      case kExp: mapLoop(x, y, n, [](float v) { return std::exp(v); }); break;
      case kLog: mapLoop(x, y, n, [](float v) { return std::log(v); }); break;
      case kSqrt: mapLoop(x, y, n, [](float v) { return std::sqrt(v); }); break;
      case kRsqrt: mapLoop(x, y, n, [](float v) { return 1.0f / std::sqrt(v); }); break;
      case kSquare: mapLoop(x, y, n, [](float v) { return v * v; }); break;
      case kNeg: mapLoop(x, y, n, [](float v) { return -v; }); break;
      case kAbs: mapLoop(x, y, n, [](float v) { return std::fabs(v); }); break;
      case kSigmoid: mapLoop(x, y, n, [](float v) { return 1.0f / (1.0f + std::exp(-v)); }); break;
      case kReciprocal: mapLoop(x, y, n, [](float v) { return 1.0f / v; }); break;
      case kCopy:
        if (n >= kStreamMin) {
          streamCopy(y, x, n);
          streamFence();
        } else {
          std::memcpy(y, x, sizeof(float) * n);
        }
        break;
      default: throw Error{"unknown unary op"};
    }
    return undefinedValue(env);
  });
}

enum ReduceOp { kSum = 0, kMean = 1, kMax = 2, kMin = 3 };

// The reduce kernel's order of summation, which the kernels that promise its sums to the bit share:
// float terms term(k), k < n, added into four double lanes by k mod 4, then (s0 + s1) + (s2 + s3).
template <typename F>
double sumInFourLanes(int64_t n, F term) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += term(k);
    s1 += term(k + 1);
    s2 += term(k + 2);
    s3 += term(k + 3);
  }
  for (; k < n; k++) s0 += term(k);
  return (s0 + s1) + (s2 + s3);
}

// acc[i] += row[i] for i < n, in double (a loop that vectorises: the two cannot overlap).
VECTOR_CLONES void addRowInto(double* __restrict acc, const float* __restrict row, int64_t n) {
  for (int64_t i = 0; i < n; i++) acc[i] += row[i];
}

// reduce(op, X, xOff, Y, yOff, outer, r, inner): Y[o, i] = op over k < r of X[o, k, i].
napi_value Reduce(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(8);
    const int op = static_cast<int>(a.i64(0));
    int64_t lenX, lenY;
    const float* X = a.f32(1, &lenX);
    const int64_t xOff = a.i64(2);
    float* Y = a.f32(3, &lenY);
    const int64_t yOff = a.i64(4), outer = a.i64(5), r = a.i64(6), inner = a.i64(7);
    checkRange(xOff, outer * r * inner, lenX, "X");
    checkRange(yOff, outer * inner, lenY, "Y");
    if (r == 0) throw Error{"empty reduction"};
    const float* x = X + xOff;
    float* y = Y + yOff;
    if (op == kSum || op == kMean) {
      const double div = op == kMean ? static_cast<double>(r) : 1.0;
      if (inner == 1) {
        parallelRanges(outer, parallelRows(r), 1, [&](int64_t lo, int64_t hi) {
          for (int64_t o = lo; o < hi; o++) {
            const float* row = x + o * r;
            const double s = sumInFourLanes(r, [row](int64_t k) { return row[k]; });
            y[o] = static_cast<float>(op == kMean ? s / div : s);
          }
        });
      } else {
        // Outputs (o, i) split among the threads as ranges of o * inner + i; each sums its k in order.
        parallelRanges(outer * inner, parallelRows(r), 16, [&](int64_t lo, int64_t hi) {
          std::vector<double> acc(std::min(inner, hi - lo));
          for (int64_t j = lo; j < hi;) {
            const int64_t o = j / inner, i0 = j % inner, len = std::min(inner - i0, hi - j);
            std::fill(acc.begin(), acc.begin() + len, 0.0);
            for (int64_t k = 0; k < r; k++) addRowInto(acc.data(), x + (o * r + k) * inner + i0, len);
            float* out = y + j;
            if (op == kMean) {
              for (int64_t i = 0; i < len; i++) out[i] = static_cast<float>(acc[i] / div);
            } else {
              for (int64_t i = 0; i < len; i++) out[i] = static_cast<float>(acc[i]);
            }
            j += len;
          }
        });
      }
    } else if (op == kMax || op == kMin) {
      const bool isMax = op == kMax;
      for (int64_t o = 0; o < outer; o++) {
        float* out = y + o * inner;
        std::memcpy(out, x + o * r * inner, sizeof(float) * inner);
        for (int64_t k = 1; k < r; k++) {
          const float* row = x + (o * r + k) * inner;
          for (int64_t i = 0; i < inner; i++) {
            const float v = row[i];
            if (std::isnan(v) || std::isnan(out[i])) out[i] = NAN;
            else if (isMax ? v > out[i] : v < out[i]) out[i] = v;
          }
        }
      }
    } else {
      throw Error{"unknown reduce op"};
    }
    return undefinedValue(env);
  });
}

// copy(X, xOff, Y, yOff, layout): Y[yOff + sum i_d * ys_d] = X[xOff + sum i_d * xs_d] over the
// layout's dims ([ndim, dims..., xStrides..., yStrides...]): transposes, slices and concatenations.
napi_value Copy(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(5);
    int64_t lenX, lenY;
    const float* X = a.f32(0, &lenX);
    const int64_t xOff = a.i64(1);
    float* Y = a.f32(2, &lenY);
    const int64_t yOff = a.i64(3);
    int64_t dims[kMaxDims], sx[kMaxDims], sy[kMaxDims], total;
    const int ndim = readLayout(a, 4, dims, sx, sy, &total);
    if (total == 0) return undefinedValue(env);
    checkRange(xOff, extent(ndim, dims, sx), lenX, "X");
    checkRange(yOff, extent(ndim, dims, sy), lenY, "Y");
    const float* x = X + xOff;
    float* y = Y + yOff;
    const int64_t inner = dims[ndim - 1], ix = sx[ndim - 1], iy = sy[ndim - 1];
    int64_t outer = 1;
    for (int d = 0; d < ndim - 1; d++) outer *= dims[d];
    parallelRanges(outer, parallelRows(inner), 1, [&](int64_t lo, int64_t hi) {
      walkRows(ndim, dims, sx, sy, lo, hi, [&](int64_t, int64_t ox, int64_t oy) {
        if (ix == 1 && iy == 1) {
          if (inner >= kStreamMin) streamCopy(y + oy, x + ox, inner);
          else std::memcpy(y + oy, x + ox, sizeof(float) * inner);
        } else {
          const float* src = x + ox;
          float* dst = y + oy;
          for (int64_t i = 0; i < inner; i++) dst[i * iy] = src[i * ix];
        }
      });
      if (inner >= kStreamMin) streamFence();
    });
    return undefinedValue(env);
  });
}

// The largest of n >= 1 floats (NaNs skipped; *nan set when there is one), in eight lanes that
// vectorise.
VECTOR_CLONES float rowMax(const float* __restrict x, int64_t n, bool* nan) {
  float m[8];
  int any = 0;
  for (int l = 0; l < 8; l++) m[l] = x[0];
  int64_t c = 0;
  for (; c + 8 <= n; c += 8) {
    for (int l = 0; l < 8; l++) {
      const float v = x[c + l];
      any |= v != v;
      m[l] = v > m[l] ? v : m[l];
    }
  }
  for (; c < n; c++) {
    any |= x[c] != x[c];
    m[0] = x[c] > m[0] ? x[c] : m[0];
  }
  float mx = m[0];
  for (int l = 1; l < 8; l++) mx = m[l] > mx ? m[l] : mx;
  *nan = any != 0;
  return mx;
}

// e^d for d = x - max <= 0 of a row of logits (NaN stays NaN).
inline float expShifted(float d) { return d == d ? expFloat(d) : d; }

// The sum of e^(x - mx) over a row, in double, and each e^(x - mx) into e (which may be x; with
// `stream`, by streaming stores, for rows written now and read much later): the exponentials a
// chunk at a time (a loop that vectorises), then added into eight partial sums, so that the
// additions do not wait on one another.
VECTOR_CLONES double shiftedExps(const float* x, int64_t n, float mx, float* e, bool stream = false) {
  alignas(64) float buf[kChunk];
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t m = std::min(kChunk, n - c0);
    for (int64_t i = 0; i < m; i++) buf[i] = expShifted(x[c0 + i] - mx);
    int64_t i = 0;
    for (; i + 8 <= m; i += 8) {
      for (int l = 0; l < 8; l++) s[l] += buf[i + l];
    }
    for (; i < m; i++) s[0] += buf[i];
    if (e == nullptr) continue;
    if (stream) streamCopy(e + c0, buf, m);
    else std::memcpy(e + c0, buf, sizeof(float) * m);
  }
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

// One row of softmax as tfjs computes it: d = x - max (float), e = exp(d), s = sum of e (double,
// rounded to float), y = e / s (float); a NaN anywhere makes the row NaN. y may be x. The max, the
// exponentials and the sum are the cross-entropy's loops (rowMax, expShifted, partial sums), which
// vectorise.
void softmaxRow(const float* x, float* y, int64_t cols) {
  bool nan = false;
  const float m = rowMax(x, cols, &nan);
  if (nan) {
    for (int64_t c = 0; c < cols; c++) y[c] = NAN;
    return;
  }
  const float sf = static_cast<float>(shiftedExps(x, cols, m, y));
  for (int64_t c = 0; c < cols; c++) y[c] = y[c] / sf;
}

// softmax(X, xOff, Y, yOff, rows, cols): softmaxRow on each row of cols elements.
napi_value Softmax(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(6);
    int64_t lenX, lenY;
    const float* X = a.f32(0, &lenX);
    const int64_t xOff = a.i64(1);
    float* Y = a.f32(2, &lenY);
    const int64_t yOff = a.i64(3), rows = a.i64(4), cols = a.i64(5);
    checkRange(xOff, rows * cols, lenX, "X");
    checkRange(yOff, rows * cols, lenY, "Y");
    parallelRanges(rows, parallelRows(cols), 1, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; r++) softmaxRow(X + xOff + r * cols, Y + yOff + r * cols, cols);
    });
    return undefinedValue(env);
  });
}

// Causal self-attention read straight from GPT-2's fused projection qkv [B, T, 3C] (q, k, v side by
// side, head h in columns h*D .. h*D+D-1 of each; C = H*D), without copying heads out: the BLAS reads
// them in place through its leading dimension. Per (batch, head) it does what gpt2.ts's tfjs ops do,
// operation for operation: s = q k^T, x = s * scale + mask (0 on and below the diagonal, -1e9 above,
// causalMask.ts), p = softmaxRow(x), y = p v; and backward: dp = dy v^T, ds = (dp * p - rowsum(dp * p)
// * p) * scale (tfjs's softmax gradient; the row sum in double over four lanes, as the reduce kernel
// sums), dq = ds k, dk = ds^T q, dv = p^T dy. The (batch, head) pairs are shared among the configured threads, each product on one.
struct AttentionShape {
  int64_t B, T, H, D;
  float scale;
  int64_t C() const { return H * D; }
};

AttentionShape readAttentionShape(const Args& a, size_t i) {
  const AttentionShape s{a.i64(i), a.i64(i + 1), a.i64(i + 2), a.i64(i + 3), static_cast<float>(a.num(i + 4))};
  if (s.T < 1 || s.H < 1 || s.D < 1 || s.T > INT32_MAX / 3 || s.C() * 3 > INT32_MAX) throw Error{"bad attention shape"};
  return s;
}

// Causal attention by blocks of query rows: rows r0..r1 see keys 0..r1 only (the later ones are
// masked), so the products skip them; the block products add the same terms in the same order as
// whole ones (a masked probability is exactly 0 and adds nothing), so the results are the same.
// Blocks of 32 rows skip 3/8 of the products at 128 positions (GPT-2 small: 34 -> 32 ms a step
// against 64 rows; 16 gave 33).
constexpr int64_t kCausalRows = 32;

inline int64_t roundUp(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

template <typename F>
void forEachCausalBlock(int64_t T, F&& body) {
  for (int64_t r0 = 0; r0 < T; r0 += kCausalRows) body(r0, std::min(T, r0 + kCausalRows));
}

template <typename F>
void forEachHead(const AttentionShape& s, F&& body) {
  useThreadsFor(0);
  const int64_t pairs = s.B * s.H;
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(configuredThreads, pairs));
  workerPool().run(workers, [&](int64_t w) {
    for (int64_t pr = w; pr < pairs; pr += workers) body(pr / s.H, pr % s.H);
  });
}

// attention(QKV, qkvOff, B, T, H, D, scale, Y, yOff, P, pOff): Y [B, T, C], P [B, H, T, T] (the
// probabilities, kept for the gradient).
napi_value Attention(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(11);
    int64_t lenQ, lenY, lenP;
    const float* QKV = a.f32(0, &lenQ);
    const int64_t qOff = a.i64(1);
    const AttentionShape s = readAttentionShape(a, 2);
    float* Y = a.f32(7, &lenY);
    const int64_t yOff = a.i64(8);
    float* P = a.f32(9, &lenP);
    const int64_t pOff = a.i64(10);
    const int64_t T = s.T, C = s.C(), D = s.D;
    checkRange(qOff, s.B * T * 3 * C, lenQ, "QKV");
    checkRange(yOff, s.B * T * C, lenY, "Y");
    checkRange(pOff, s.B * s.H * T * T, lenP, "P");
    const int t = static_cast<int>(T), d = static_cast<int>(D), ld = static_cast<int>(3 * C);
    forEachHead(s, [&](int64_t b, int64_t h) {
      const float* q = QKV + qOff + b * T * 3 * C + h * D;
      float* p = P + pOff + (b * s.H + h) * T * T;
      float* y = Y + yOff + b * T * C + h * D;
      forEachCausalBlock(T, [&](int64_t r0, int64_t r1) {
        const int m = static_cast<int>(r1 - r0), k = static_cast<int>(r1);
        // Logits of rows r0..r1 against keys 0..r1 (the later keys are masked for all of them).
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, k, d, 1.0f, q + r0 * ld, ld, q + C, ld, 0.0f, p + r0 * T, t);
        const int64_t n = std::min(T, roundUp(r1, 8));
        for (int64_t i = r0; i < r1; i++) {
          float* row = p + i * T;
          for (int64_t j = 0; j < r1; j++) row[j] = row[j] * s.scale + (j > i ? -1e9f : 0.0f);
          std::fill(row + r1, row + n, -1e9f);
          softmaxRow(row, row, n);
          std::fill(row + n, row + T, 0.0f);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, d, k, 1.0f, p + r0 * T, t, q + 2 * C, ld, 0.0f, y + r0 * C, static_cast<int>(C));
      });
    });
    return undefinedValue(env);
  });
}

// attentionGrad(QKV, qkvOff, P, pOff, DY, dyOff, B, T, H, D, scale, DQKV, dqkvOff): the gradient of
// attention in qkv, [B, T, 3C], from its probabilities P and the output's gradient DY [B, T, C].
napi_value AttentionGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(13);
    int64_t lenQ, lenP, lenDY, lenDQ;
    const float* QKV = a.f32(0, &lenQ);
    const int64_t qOff = a.i64(1);
    const float* P = a.f32(2, &lenP);
    const int64_t pOff = a.i64(3);
    const float* DY = a.f32(4, &lenDY);
    const int64_t dyOff = a.i64(5);
    const AttentionShape s = readAttentionShape(a, 6);
    float* DQ = a.f32(11, &lenDQ);
    const int64_t dqOff = a.i64(12);
    const int64_t T = s.T, C = s.C(), D = s.D;
    checkRange(qOff, s.B * T * 3 * C, lenQ, "QKV");
    checkRange(pOff, s.B * s.H * T * T, lenP, "P");
    checkRange(dyOff, s.B * T * C, lenDY, "DY");
    checkRange(dqOff, s.B * T * 3 * C, lenDQ, "DQKV");
    const int t = static_cast<int>(T), d = static_cast<int>(D), ld = static_cast<int>(3 * C), ldy = static_cast<int>(C);
    forEachHead(s, [&](int64_t b, int64_t h) {
      thread_local std::vector<float> ds;
      ds.resize(static_cast<size_t>(T * T));
      const float* q = QKV + qOff + b * T * 3 * C + h * D;
      const float* p = P + pOff + (b * s.H + h) * T * T;
      const float* dy = DY + dyOff + b * T * C + h * D;
      float* dq = DQ + dqOff + b * T * 3 * C + h * D;
      float* dsm = ds.data();
      forEachCausalBlock(T, [&](int64_t r0, int64_t r1) {
        const int m = static_cast<int>(r1 - r0), k = static_cast<int>(r1);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, k, d, 1.0f, dy + r0 * ldy, ldy, q + 2 * C, ld, 0.0f, dsm + r0 * T, t);
        const int64_t n = std::min(T, roundUp(r1, 4));
        for (int64_t i = r0; i < r1; i++) {
          float* row = dsm + i * T;
          const float* pr = p + i * T;
          std::fill(row + r1, row + n, 0.0f);
          const float r = static_cast<float>(sumInFourLanes(n, [row, pr](int64_t j) { return row[j] * pr[j]; }));
          for (int64_t j = 0; j < n; j++) row[j] = (row[j] * pr[j] - r * pr[j]) * s.scale;
          std::fill(row + n, row + T, 0.0f);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, d, k, 1.0f, dsm + r0 * T, t, q + C, ld, 0.0f, dq + r0 * ld, ld);
      });
      // Keys and values c0..c1 from the rows that see them: c0 onwards.
      forEachCausalBlock(T, [&](int64_t c0, int64_t c1) {
        const int m = static_cast<int>(c1 - c0), k = static_cast<int>(T - c0);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, d, k, 1.0f, dsm + c0 * T + c0, t, q + c0 * ld, ld, 0.0f, dq + C + c0 * ld, ld);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, d, k, 1.0f, p + c0 * T + c0, t, dy + c0 * ldy, ldy, 0.0f, dq + 2 * C + c0 * ld, ld);
      });
    });
    return undefinedValue(env);
  });
}

struct AdamWStep {
  float b1, omb1, b2, omb2, c1, c2, eps, lr, decay, scale;
};

// One AdamW step on n elements. The hyperparameters are a copy and the arrays do not overlap
// (__restrict), so the compiler keeps the scalars in registers and vectorises the loop (a lambda
// capturing them by reference made it reload them after every store, scalar: twice the time).
void adamwRange(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v, int64_t n, const AdamWStep h) {
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i] * h.scale;
    const float mi = m[i] * h.b1 + gi * h.omb1;
    const float vi = v[i] * h.b2 + (gi * gi) * h.omb2;
    m[i] = mi;
    v[i] = vi;
    const float update = ((mi / h.c1) / (std::sqrt(vi / h.c2) + h.eps)) * h.lr;
    p[i] = p[i] * h.decay - update;
  }
}

// adamw(P, pOff, G, gOff, M, mOff, V, vOff, n, hyper): one AdamW step in place on n elements of the
// parameter P and its moments M, V; hyper = [beta1, 1 - beta1, beta2, 1 - beta2, c1, c2, eps, lr,
// decay, scale] (c1, c2: the bias corrections; decay: 1 - lr * weight decay, or 1; scale: the
// clipping factor of the gradient, or 1). Each operation is the float32 operation (and in the order)
// of the tfjs ops it replaces (gradient clipping, then train/adamw.ts), so the result is theirs to
// the bit, with no temporaries: g = g*scale; m = m*b1 + g*(1-b1); v = v*b2 + g^2*(1-b2);
// p = p*decay - (m/c1) / (sqrt(v/c2) + eps) * lr.
napi_value AdamW(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(10);
    int64_t lenP, lenG, lenM, lenV;
    float* P = a.f32(0, &lenP);
    const int64_t pOff = a.i64(1);
    const float* G = a.f32(2, &lenG);
    const int64_t gOff = a.i64(3);
    float* M = a.f32(4, &lenM);
    const int64_t mOff = a.i64(5);
    float* V = a.f32(6, &lenV);
    const int64_t vOff = a.i64(7), n = a.i64(8);
    const double* h = a.f64(9, 10);
    checkRange(pOff, n, lenP, "P");
    checkRange(gOff, n, lenG, "G");
    checkRange(mOff, n, lenM, "M");
    checkRange(vOff, n, lenV, "V");
    const float b1 = static_cast<float>(h[0]), omb1 = static_cast<float>(h[1]), b2 = static_cast<float>(h[2]),
                omb2 = static_cast<float>(h[3]), c1 = static_cast<float>(h[4]), c2 = static_cast<float>(h[5]),
                eps = static_cast<float>(h[6]), lr = static_cast<float>(h[7]), decay = static_cast<float>(h[8]),
                scale = static_cast<float>(h[9]);
    const AdamWStep step{b1, omb1, b2, omb2, c1, c2, eps, lr, decay, scale};
    float* p = P + pOff;
    const float* g = G + gOff;
    float* m = M + mOff;
    float* v = V + vOff;
    parallelRanges(n, kParallelMin, kChunk, [=](int64_t lo, int64_t hi) { adamwRange(p + lo, g + lo, m + lo, v + lo, hi - lo, step); });
    return undefinedValue(env);
  });
}

// sumSquares(X, xOff, n): the sum of the squares of n elements in one pass with no squared copy
// (the gradient norm): each square a float, as the square kernel writes it, summed in double over
// sixteen lanes (a loop that vectorises) in blocks of kSumBlock, the blocks' sums added in order,
// the total rounded to float32. Blocks, not threads, fix the order: the same sum on any number of
// threads.
constexpr int64_t kSumBlock = int64_t(1) << 16;

VECTOR_CLONES double sumSquaresBlock(const float* __restrict x, int64_t n) {
  double s[16] = {0};
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    for (int l = 0; l < 16; l++) s[l] += static_cast<double>(x[k + l] * x[k + l]);
  }
  for (; k < n; k++) s[0] += static_cast<double>(x[k] * x[k]);
  double total = 0;
  for (int l = 0; l < 16; l++) total += s[l];
  return total;
}

napi_value SumSquares(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(3);
    int64_t lenX;
    const float* X = a.f32(0, &lenX);
    const int64_t xOff = a.i64(1), n = a.i64(2);
    checkRange(xOff, n, lenX, "X");
    const float* x = X + xOff;
    std::vector<double> blocks((n + kSumBlock - 1) / kSumBlock);
    const int64_t count = static_cast<int64_t>(blocks.size());
    parallelRanges(count, kParallelMin / kSumBlock, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t b = lo; b < hi; b++) {
        blocks[b] = sumSquaresBlock(x + b * kSumBlock, std::min(kSumBlock, n - b * kSumBlock));
      }
    });
    double total = 0;
    for (const double s : blocks) total += s;
    const float sum = static_cast<float>(total);
    napi_value out;
    NAPI_OK(napi_create_double(env, sum, &out));
    return out;
  });
}

// xentForward(X, xOff, T, tOff, NLL, nllOff, S, sOff, E, eOff, rows, cols): per row r of logits X
// [rows, cols] with target T[r] (< 0: none), NLL[r] = log(sum exp(x - max)) - (x[t] - max) (0
// without a target), E[r, :] = exp(x - max) and S[r] = their sum, from which the gradient is one
// scaling pass (no second exponential). The operations are tfjs's logSoftmax's (float32 shift, exp
// and log; the sum in double), without its rows x cols temporaries or the one-hot matrix that
// picked the target.
napi_value XentForward(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(12);
    int64_t lenX, lenT, lenN, lenS, lenE;
    const float* X = a.f32(0, &lenX);
    const int64_t xOff = a.i64(1);
    const int32_t* T = a.i32(2, &lenT);
    const int64_t tOff = a.i64(3);
    float* NLL = a.f32(4, &lenN);
    const int64_t nOff = a.i64(5);
    float* S = a.f32(6, &lenS);
    const int64_t sOff = a.i64(7);
    float* E = a.f32(8, &lenE);
    const int64_t eOff = a.i64(9), rows = a.i64(10), cols = a.i64(11);
    checkRange(xOff, rows * cols, lenX, "X");
    checkRange(tOff, rows, lenT, "T");
    checkRange(nOff, rows, lenN, "NLL");
    checkRange(sOff, rows, lenS, "S");
    checkRange(eOff, rows * cols, lenE, "E");
    for (int64_t r = 0; r < rows; r++) {
      if (T[tOff + r] >= cols) throw Error{"target " + std::to_string(T[tOff + r]) + " outside the vocabulary"};
    }
    const bool stream = rows * cols >= kStreamMin;
    parallelRanges(rows, parallelRows(cols), 1, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; r++) {
        const float* x = X + xOff + r * cols;
        const int32_t t = T[tOff + r];
        bool nan = false;
        const float mx = rowMax(x, cols, &nan);
        const double s = shiftedExps(x, cols, mx, E + eOff + r * cols, stream);
        const float ls = nan ? NAN : std::log(static_cast<float>(s));
        S[sOff + r] = static_cast<float>(s);
        NLL[nOff + r] = t < 0 ? 0.0f : ls - (x[t] - mx);
      }
      if (stream) streamFence();
    });
    return undefinedValue(env);
  });
}

// xentBackward(E, eOff, T, tOff, S, sOff, DY, dyOff, DX, dxOff, rows, cols): the gradient of
// xentForward's NLL from its E and S: DX[r, c] = (softmax - [c == T[r]]) * DY[r], as E[r, c] *
// (DY[r] / S[r]) - [c == T[r]] DY[r]; 0 on rows without a target. DX may be E (in place).
napi_value XentBackward(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(12);
    int64_t lenE, lenT, lenS, lenDY, lenDX;
    const float* E = a.f32(0, &lenE);
    const int64_t eOff = a.i64(1);
    const int32_t* T = a.i32(2, &lenT);
    const int64_t tOff = a.i64(3);
    const float* S = a.f32(4, &lenS);
    const int64_t sOff = a.i64(5);
    const float* DY = a.f32(6, &lenDY);
    const int64_t dyOff = a.i64(7);
    float* DX = a.f32(8, &lenDX);
    const int64_t dxOff = a.i64(9), rows = a.i64(10), cols = a.i64(11);
    checkRange(eOff, rows * cols, lenE, "E");
    checkRange(tOff, rows, lenT, "T");
    checkRange(sOff, rows, lenS, "S");
    checkRange(dyOff, rows, lenDY, "DY");
    checkRange(dxOff, rows * cols, lenDX, "DX");
    writeOutput(DX + dxOff, rows * cols, [&](int64_t i0, int64_t m, float* out) {
      for (int64_t k = 0; k < m;) {
        const int64_t r = (i0 + k) / cols;
        const int64_t c0 = (i0 + k) % cols;
        const int64_t len = std::min(m - k, cols - c0);
        const int32_t t = T[tOff + r];
        const float* e = E + eOff + r * cols + c0;
        float* o = out + k;
        if (t < 0) {
          std::fill(o, o + len, 0.0f);
        } else {
          const float dy = DY[dyOff + r], scale = dy / S[sOff + r];
          const bool here = t >= c0 && t < c0 + len;
          // Read before the loop: o may be e.
          const float et = here ? e[t - c0] : 0.0f;
          for (int64_t c = 0; c < len; c++) o[c] = e[c] * scale;
          if (here) o[t - c0] = et * scale - dy;
        }
        k += len;
      }
    });
    return undefinedValue(env);
  });
}

// GPT-2's gelu_new, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as one pass with the float32
// operations, in the order, of the tfjs ops it replaces (gpt2.ts), so that the forward equals
// theirs to the bit; its gradient needs only x (tfjs's ops keep six tensors of x's size for it).
constexpr float kGeluCube = 0.044715f;
const float kGeluScale = static_cast<float>(std::sqrt(2.0 / 3.141592653589793));

inline float geluInner(float x) { return (x + powf32(x, 3.0f) * kGeluCube) * kGeluScale; }

VECTOR_CLONES void geluRange(const float* __restrict x, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = (x[i] * 0.5f) * (tanhf32(geluInner(x[i])) + 1.0f);
}

VECTOR_CLONES void geluGradRange(const float* __restrict x, const float* __restrict dy, float* __restrict dx, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float xi = x[i], g = dy[i];
    const float t = tanhf32(geluInner(xi));
    // y = (0.5 x) (t + 1): through 0.5 x, and through t = tanh(k (x + c x^3)).
    const float dInner = g * (xi * 0.5f) * (1.0f - t * t) * kGeluScale;
    dx[i] = g * (t + 1.0f) * 0.5f + dInner + dInner * kGeluCube * 3.0f * (xi * xi);
  }
}

// gelu(X, xOff, Y, yOff, n)
napi_value Gelu(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(5);
    int64_t lenX, lenY;
    const float* X = a.f32(0, &lenX);
    const int64_t xOff = a.i64(1);
    float* Y = a.f32(2, &lenY);
    const int64_t yOff = a.i64(3), n = a.i64(4);
    checkRange(xOff, n, lenX, "X");
    checkRange(yOff, n, lenY, "Y");
    const float* x = X + xOff;
    writeOutput(Y + yOff, n, [x](int64_t i0, int64_t m, float* out) { geluRange(x + i0, out, m); });
    return undefinedValue(env);
  });
}

// geluGrad(X, xOff, DY, dyOff, DX, dxOff, n): DX = DY * gelu'(X), by the chain rule through the
// same operations.
napi_value GeluGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(7);
    int64_t lenX, lenDY, lenDX;
    const float* X = a.f32(0, &lenX);
    const int64_t xOff = a.i64(1);
    const float* DY = a.f32(2, &lenDY);
    const int64_t dyOff = a.i64(3);
    float* DX = a.f32(4, &lenDX);
    const int64_t dxOff = a.i64(5), n = a.i64(6);
    checkRange(xOff, n, lenX, "X");
    checkRange(dyOff, n, lenDY, "DY");
    checkRange(dxOff, n, lenDX, "DX");
    const float* x = X + xOff;
    const float* dy = DY + dyOff;
    writeOutput(DX + dxOff, n, [x, dy](int64_t i0, int64_t m, float* out) { geluGradRange(x + i0, dy + i0, out, m); });
    return undefinedValue(env);
  });
}

// The sum of f(k) for k < n in double over eight lanes (a loop that vectorises), lanes added pairwise.
template <typename F>
inline double sumInEightLanes(int64_t n, F f) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    for (int l = 0; l < 8; l++) s[l] += f(k + l);
  }
  for (; k < n; k++) s[0] += f(k);
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

// One row of layerNorm: y = (x - mean) * rsqrt(var + eps) * w (+ b), the moments' sums in double,
// the squared difference in double rounded once to float; stats = mean, rsqrt.
VECTOR_CLONES void layerNormRow(const float* __restrict x, const float* __restrict w, const float* __restrict b, float eps, int64_t cols, float* __restrict y, float* __restrict stats) {
  const float mean = static_cast<float>(sumInEightLanes(cols, [x](int64_t c) { return static_cast<double>(x[c]); }) / static_cast<double>(cols));
  const double md = mean;
  const double sq = sumInEightLanes(cols, [x, md](int64_t c) {
    const double d = static_cast<double>(x[c]) - md;
    return static_cast<double>(static_cast<float>(d * d));
  });
  const float var = static_cast<float>(sq / static_cast<double>(cols));
  const float rs = 1.0f / std::sqrt(var + eps);
  stats[0] = mean;
  stats[1] = rs;
  if (b != nullptr) {
    for (int64_t c = 0; c < cols; c++) y[c] = ((x[c] - mean) * rs) * w[c] + b[c];
  } else {
    for (int64_t c = 0; c < cols; c++) y[c] = ((x[c] - mean) * rs) * w[c];
  }
}

// One row of layerNormGrad's DX from the row's mean and rsqrt (sums in double).
VECTOR_CLONES void layerNormGradRow(const float* __restrict x, const float* __restrict w, const float* __restrict dy, float mean, float rs, int64_t cols, float* __restrict dx) {
  const double sg = sumInEightLanes(cols, [dy, w](int64_t c) { return static_cast<double>(dy[c]) * w[c]; });
  const double sgx = sumInEightLanes(cols, [=](int64_t c) { return static_cast<double>(dy[c]) * w[c] * (static_cast<double>(x[c] - mean) * rs); });
  const double mg = sg / static_cast<double>(cols), mgx = sgx / static_cast<double>(cols);
  for (int64_t c = 0; c < cols; c++) {
    const double xh = static_cast<double>(x[c] - mean) * rs;
    dx[c] = static_cast<float>(rs * (static_cast<double>(dy[c]) * w[c] - mg - xh * mgx));
  }
}

// layerNorm(X, xOff, W, wOff, B, bOff, hasBias, eps, Y, yOff, S, sOff, rows, cols): layerNormRow on
// each row of X [rows, cols], the rows split among the threads; S[2r], S[2r+1] = mean, rsqrt for
// the gradient, which then needs only x beside them (the tfjs ops keep four tensors of x's size).
napi_value LayerNorm(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(14);
    int64_t lenX, lenW, lenB, lenY, lenS;
    const float* X = a.f32(0, &lenX);
    const int64_t xOff = a.i64(1);
    const float* W = a.f32(2, &lenW);
    const int64_t wOff = a.i64(3);
    const float* Bv = a.f32(4, &lenB);
    const int64_t bOff = a.i64(5);
    const bool hasBias = a.flag(6);
    const float eps = static_cast<float>(a.num(7));
    float* Y = a.f32(8, &lenY);
    const int64_t yOff = a.i64(9);
    float* S = a.f32(10, &lenS);
    const int64_t sOff = a.i64(11), rows = a.i64(12), cols = a.i64(13);
    checkRange(xOff, rows * cols, lenX, "X");
    checkRange(wOff, cols, lenW, "W");
    if (hasBias) checkRange(bOff, cols, lenB, "B");
    checkRange(yOff, rows * cols, lenY, "Y");
    checkRange(sOff, 2 * rows, lenS, "S");
    const float* w = W + wOff;
    const float* b = Bv + bOff;
    parallelRanges(rows, parallelRows(cols), 1, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; r++) layerNormRow(X + xOff + r * cols, w, hasBias ? b : nullptr, eps, cols, Y + yOff + r * cols, S + sOff + 2 * r);
    });
    return undefinedValue(env);
  });
}

// layerNormGrad(X, xOff, W, wOff, S, sOff, DY, dyOff, DX, dxOff, DW, dwOff, DB, dbOff, hasBias, rows,
// cols): the gradients of layerNorm's y in x, w and b from S's mean and rsqrt (sums in double).
napi_value LayerNormGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(17);
    int64_t lenX, lenW, lenS, lenDY, lenDX, lenDW, lenDB;
    const float* X = a.f32(0, &lenX);
    const int64_t xOff = a.i64(1);
    const float* W = a.f32(2, &lenW);
    const int64_t wOff = a.i64(3);
    const float* S = a.f32(4, &lenS);
    const int64_t sOff = a.i64(5);
    const float* DY = a.f32(6, &lenDY);
    const int64_t dyOff = a.i64(7);
    float* DX = a.f32(8, &lenDX);
    const int64_t dxOff = a.i64(9);
    float* DW = a.f32(10, &lenDW);
    const int64_t dwOff = a.i64(11);
    float* DB = a.f32(12, &lenDB);
    const int64_t dbOff = a.i64(13);
    const bool hasBias = a.flag(14);
    const int64_t rows = a.i64(15), cols = a.i64(16);
    checkRange(xOff, rows * cols, lenX, "X");
    checkRange(wOff, cols, lenW, "W");
    checkRange(sOff, 2 * rows, lenS, "S");
    checkRange(dyOff, rows * cols, lenDY, "DY");
    checkRange(dxOff, rows * cols, lenDX, "DX");
    checkRange(dwOff, cols, lenDW, "DW");
    if (hasBias) checkRange(dbOff, cols, lenDB, "DB");
    const float* w = W + wOff;
    // DX by rows; then DW and DB by columns, each summing its rows in order (the same sums on any
    // number of threads).
    parallelRanges(rows, parallelRows(cols), 1, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; r++) {
        layerNormGradRow(X + xOff + r * cols, w, DY + dyOff + r * cols, S[sOff + 2 * r], S[sOff + 2 * r + 1], cols, DX + dxOff + r * cols);
      }
    });
    parallelRanges(cols, std::max<int64_t>(16, parallelRows(rows)), 16, [&](int64_t lo, int64_t hi) {
      std::vector<double> dw(hi - lo, 0.0), db(hi - lo, 0.0);
      for (int64_t r = 0; r < rows; r++) {
        const float* x = X + xOff + r * cols;
        const float* dy = DY + dyOff + r * cols;
        const float mean = S[sOff + 2 * r], rs = S[sOff + 2 * r + 1];
        for (int64_t c = lo; c < hi; c++) {
          const double xh = static_cast<double>(x[c] - mean) * rs;
          dw[c - lo] += static_cast<double>(dy[c]) * xh;
          db[c - lo] += dy[c];
        }
      }
      for (int64_t c = lo; c < hi; c++) {
        DW[dwOff + c] = static_cast<float>(dw[c - lo]);
        if (hasBias) DB[dbOff + c] = static_cast<float>(db[c - lo]);
      }
    });
    return undefinedValue(env);
  });
}

// keepHeapMemory(): glibc's malloc serves every block from its heap instead of a fresh mmap for
// each large one, and keeps up to 2 GiB of freed memory. Tensors of the cpu backend are
// JavaScript arrays allocated by malloc; without this, each large op (hundreds of MB for
// GPT-2-sized tensors) maps fresh pages and faults them in, ~5x the cost of the op itself.
// Returns false where it does not apply (not glibc).
napi_value KeepHeapMemory(napi_env env, napi_callback_info) {
  bool done = false;
#if defined(__GLIBC__)
  done = mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
#endif
  napi_value v;
  napi_get_boolean(env, done, &v);
  return v;
}

// The squared singular values of one T x T float32 matrix A (row-major), decreasing, into out[0..T):
// the eigenvalues of G = A^T A, G summed in double as attentionStats.ts sums it, then LAPACK's
// Householder tridiagonalisation (dsytrd) and root-free QL/QR (dsterf, eigenvalues only). g: T*T
// doubles of scratch, work: lwork doubles. Returns LAPACK's info (0: converged).
int squaredSingularValues(const float* A, int T, double* out, double* g, double* work, int lwork) {
  std::fill(g, g + static_cast<size_t>(T) * T, 0.0);
  // Row-major lower triangle of G, which is the column-major upper triangle LAPACK reads.
  for (int r = 0; r < T; r++) {
    const float* row = A + static_cast<size_t>(r) * T;
    for (int i = 0; i < T; i++) {
      const double ai = row[i];
      if (ai == 0) continue;
      double* gi = g + static_cast<size_t>(i) * T;
      for (int j = 0; j <= i; j++) gi[j] += ai * row[j];
    }
  }
  double* e = work;
  double* tau = work + T;
  const int rest = lwork - 2 * T;
  int info = 0;
  dsytrd_("U", &T, g, &T, out, e, tau, work + 2 * T, &rest, &info);
  if (info != 0) return info;
  dsterf_(&T, out, e, &info);
  if (info != 0) return info;
  // A^T A is positive semi-definite; rounding can leave tiny negative eigenvalues.
  for (int i = 0; i < T; i++) out[i] = std::max(out[i], 0.0);
  std::sort(out, out + T, [](double x, double y) { return x > y; });
  return 0;
}

// singularValuesSquared(X, xOff, count, T, S, sOff): for each of `count` T x T matrices at
// X[xOff + m*T*T], its squared singular values, decreasing, into S[sOff + m*T ..] (float64). The
// matrices are shared among the configured threads (each runs LAPACK single-threaded).
napi_value SingularValuesSquared(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(6);
    int64_t lenX, lenS;
    const float* X = a.f32(0, &lenX);
    const int64_t xOff = a.i64(1), count = a.i64(2), T = a.i64(3);
    double* S = a.f64out(4, &lenS);
    const int64_t sOff = a.i64(5);
    if (T < 1 || T > 1 << 14) throw Error{"T must be in [1, 16384]"};
    checkRange(xOff, count * T * T, lenX, "X");
    checkRange(sOff, count * T, lenS, "S");
    useThreadsFor(0);
    const int n = static_cast<int>(T);
    // dsytrd's blocked path wants n * block size of workspace; 64 covers any block size it picks.
    const int lwork = 2 * n + 64 * n;
    const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(configuredThreads, count));
    std::vector<int> failed(workers, 0);
    workerPool().run(workers, [&](int64_t w) {
      std::vector<double> g(static_cast<size_t>(n) * n), work(lwork);
      for (int64_t m = w; m < count; m += workers) {
        const int r = squaredSingularValues(X + xOff + m * T * T, n, S + sOff + m * T, g.data(), work.data(), lwork);
        if (r != 0 && failed[w] == 0) failed[w] = r;
      }
    });
    for (int r : failed) {
      if (r != 0) throw Error{"LAPACK did not converge on an attention matrix (info " + std::to_string(r) + ")"};
    }
    return undefinedValue(env);
  });
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, info);
    a.need(1);
    const int n = static_cast<int>(a.i64(0));
    if (n >= 1) {
      configuredThreads = n;
      currentThreads = -1;
      useThreadsFor(kThreadedFlops);
    }
    return undefinedValue(env);
  });
}

napi_value Threads(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, configuredThreads, &v);
  return v;
}

napi_value BlasInfo(napi_env env, napi_callback_info) {
  napi_value v;
#ifndef INHERITUNE_ACCELERATE
  const char* config = openblas_get_config();
  std::string s = std::string("OpenBLAS ") + (config ? config : "");
#else
  std::string s = "Accelerate";
#endif
  napi_create_string_utf8(env, s.c_str(), s.size(), &v);
  return v;
}

napi_value Init(napi_env env, napi_value exports) {
  // Writable, so that `inheritune bench` can wrap them with timers (server/engine/native/profile.ts).
  const auto attrs = static_cast<napi_property_attributes>(napi_writable | napi_enumerable | napi_configurable);
  const napi_property_descriptor props[] = {
      {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, attrs, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, attrs, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, attrs, nullptr},
      {"reduce", nullptr, Reduce, nullptr, nullptr, nullptr, attrs, nullptr},
      {"copy", nullptr, Copy, nullptr, nullptr, nullptr, attrs, nullptr},
      {"softmax", nullptr, Softmax, nullptr, nullptr, nullptr, attrs, nullptr},
      {"attention", nullptr, Attention, nullptr, nullptr, nullptr, attrs, nullptr},
      {"attentionGrad", nullptr, AttentionGrad, nullptr, nullptr, nullptr, attrs, nullptr},
      {"adamw", nullptr, AdamW, nullptr, nullptr, nullptr, attrs, nullptr},
      {"sumSquares", nullptr, SumSquares, nullptr, nullptr, nullptr, attrs, nullptr},
      {"gelu", nullptr, Gelu, nullptr, nullptr, nullptr, attrs, nullptr},
      {"layerNorm", nullptr, LayerNorm, nullptr, nullptr, nullptr, attrs, nullptr},
      {"layerNormGrad", nullptr, LayerNormGrad, nullptr, nullptr, nullptr, attrs, nullptr},
      {"geluGrad", nullptr, GeluGrad, nullptr, nullptr, nullptr, attrs, nullptr},
      {"xentForward", nullptr, XentForward, nullptr, nullptr, nullptr, attrs, nullptr},
      {"xentBackward", nullptr, XentBackward, nullptr, nullptr, nullptr, attrs, nullptr},
      {"singularValuesSquared", nullptr, SingularValuesSquared, nullptr, nullptr, nullptr, attrs, nullptr},
      {"keepHeapMemory", nullptr, KeepHeapMemory, nullptr, nullptr, nullptr, attrs, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, attrs, nullptr},
      {"threads", nullptr, Threads, nullptr, nullptr, nullptr, attrs, nullptr},
      {"blasInfo", nullptr, BlasInfo, nullptr, nullptr, nullptr, attrs, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  // server/engine/native/abi.json's number, raised whenever a function's arguments change: the
  // loader refuses an addon built from older sources.
  napi_value abi;
  napi_create_uint32(env, INHERITUNE_ABI, &abi);
  napi_set_named_property(env, exports, "abi", abi);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
