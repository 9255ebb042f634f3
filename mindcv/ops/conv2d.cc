// 2-D convolution (forward, backward-data, backward-weights) for MindSpore `ops.Custom(func_type="aot")`
// on CPU, through the oneDNN library MindSpore already loads (libdnnl.so.3, THREADPOOL runtime).
//
// Why: MindSpore 2.10 runs plain-layout (NCHW) convolutions on AVX-512 CPUs in oneDNN's reference
// kernel. Here the tensors stay NCHW at the op boundary but are reordered to the blocked layouts
// oneDNN picks itself (format_tag::any), which dispatch to its AVX-512 / AMX kernels.
//
// Every entry point has the aot signature; inputs then outputs:
//   mindcv_conv_forward(x, w, cfg) -> y
//   mindcv_conv_backward_data(x, w, dy, cfg) -> dx       (x is read for its shape only)
//   mindcv_conv_backward_weights(x, w, dy, cfg) -> dw    (w is read for its shape only)
// x, w, dy, y, dx, dw are float32 NCHW / OIHW; cfg is int32 {stride, padding, bf16}: the
// convolution runs in bfloat16 (AMX) when bf16 != 0, the reorders doing the casts.
// Attributes are passed as a tensor because MindSpore 2.10's AotExtra attributes read as defaults.

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sched.h>
#include <thread>
#include <vector>

#include "oneapi/dnnl/dnnl.h"
#include "oneapi/dnnl/dnnl_threadpool.h"
#include "oneapi/dnnl/dnnl_threadpool_iface.hpp"

namespace {

// oneDNN's THREADPOOL runtime runs single-threaded unless given a pool: this is a small fixed one.
// parallel_for calls are serialized, because MindSpore runs backward-data and backward-weights
// concurrently and each already uses every core.
class ThreadPool : public dnnl::threadpool_interop::threadpool_iface {
 public:
  explicit ThreadPool(int threads) : threads_(std::max(threads, 1)) {
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { Work(); });
  }
  ~ThreadPool() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto &t : workers_) t.join();
  }
  int get_num_threads() const override { return threads_; }
  bool get_in_parallel() const override { return in_pool_; }
  uint64_t get_flags() const override { return 0; }  // synchronous: parallel_for returns when done

  void parallel_for(int n, const std::function<void(int, int)> &fn) override {
    if (n <= 1 || threads_ == 1 || in_pool_) {
      for (int i = 0; i < n; ++i) fn(i, n);
      return;
    }
    std::lock_guard<std::mutex> one_at_a_time(run_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &fn;
      n_ = n;
      next_ = 0;
      busy_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    wake_.notify_all();
    in_pool_ = true;
    RunShare();
    in_pool_ = false;
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return busy_ == 0; });
  }

 private:
  void RunShare() {
    for (int i = next_++; i < n_; i = next_++) (*fn_)(i, n_);
  }
  void Work() {
    in_pool_ = true;
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      RunShare();
      std::lock_guard<std::mutex> lock(mu_);
      if (--busy_ == 0) done_.notify_one();
    }
  }

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex run_mu_, mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int, int)> *fn_ = nullptr;
  int n_ = 0, busy_ = 0;
  std::atomic<int> next_{0};
  uint64_t generation_ = 0;
  bool stop_ = false;
  static thread_local bool in_pool_;
};
thread_local bool ThreadPool::in_pool_ = false;

int CpuCount() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::thread::hardware_concurrency());
}

#define CHECK(call)                                                                 \
  do {                                                                              \
    dnnl_status_t status_ = (call);                                                 \
    if (status_ != dnnl_success) {                                                  \
      std::fprintf(stderr, "mindcv conv2d: %s failed (%d)\n", #call, int(status_)); \
      return nullptr;                                                               \
    }                                                                               \
  } while (0)

enum Kind { kForward = 0, kBackwardData = 1, kBackwardWeights = 2 };

// One oneDNN tensor argument: the NCHW/OIHW float32 layout MindSpore hands us, the layout the
// convolution chose, and the reorder between them (null when they are the same).
struct Arg {
  int dnnl_arg = 0;
  dnnl_memory_desc_t plain = nullptr, inner = nullptr;
  dnnl_primitive_t reorder = nullptr;
};

// A convolution of one shape and kind: two inputs, one output, and its scratchpad size.
struct Plan {
  dnnl_primitive_t conv = nullptr;
  std::array<Arg, 3> args;  // inputs, then the output
  size_t scratch_bytes = 0;
};

struct Runtime {
  dnnl_engine_t engine = nullptr;
  std::unique_ptr<ThreadPool> pool;
  std::mutex cache_mu;  // the plan cache is shared by concurrently running kernels
  std::map<std::array<int64_t, 11>, std::unique_ptr<Plan>> plans;
};

Runtime *GetRuntime() {
  static Runtime *runtime = [] {
    auto *r = new Runtime();  // never freed: primitives must outlive every kernel call
    if (dnnl_engine_create(&r->engine, dnnl_cpu, 0) != dnnl_success) return static_cast<Runtime *>(nullptr);
    r->pool = std::make_unique<ThreadPool>(CpuCount());
    return r;
  }();
  return runtime;
}

dnnl_memory_desc_t Desc(const int64_t *dims, dnnl_data_type_t type, dnnl_format_tag_t tag) {
  dnnl_dims_t d = {dims[0], dims[1], dims[2], dims[3]};
  dnnl_memory_desc_t md = nullptr;
  return dnnl_memory_desc_create_with_tag(&md, 4, d, type, tag) == dnnl_success ? md : nullptr;
}

// Completes `arg` from the primitive descriptor's chosen layout; `to_plain` for outputs.
bool FinishArg(Runtime *r, const_dnnl_primitive_desc_t pd, Arg *arg, bool to_plain) {
  if (dnnl_memory_desc_clone(&arg->inner, dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg->dnnl_arg)) !=
      dnnl_success)
    return false;
  if (dnnl_memory_desc_equal(arg->plain, arg->inner)) return true;
  const_dnnl_memory_desc_t from = to_plain ? arg->inner : arg->plain, to = to_plain ? arg->plain : arg->inner;
  dnnl_primitive_desc_t rpd = nullptr;
  if (dnnl_reorder_primitive_desc_create(&rpd, from, r->engine, to, r->engine, nullptr) != dnnl_success) return false;
  bool ok = dnnl_primitive_create(&arg->reorder, rpd) == dnnl_success;
  dnnl_primitive_desc_destroy(rpd);
  return ok;
}

// Builds the plan for x (N,C,H,W) convolved with w (O,C,KH,KW) at `stride` and symmetric
// `pad` (output size floor((H + 2 pad - KH) / stride) + 1, as nn.Conv2d pad_mode="pad").
Plan *MakePlan(Runtime *r, Kind kind, const int64_t *x, const int64_t *w, int64_t stride, int64_t pad, bool bf16) {
  const int64_t oh = (x[2] + 2 * pad - w[2]) / stride + 1, ow = (x[3] + 2 * pad - w[3]) / stride + 1;
  const int64_t y[4] = {x[0], w[0], oh, ow};
  dnnl_dims_t strides = {stride, stride}, dilates = {0, 0}, pad_l = {pad, pad};
  dnnl_dims_t pad_r = {(oh - 1) * stride + w[2] - x[2] - pad, (ow - 1) * stride + w[3] - x[3] - pad};
  const dnnl_data_type_t t = bf16 ? dnnl_bf16 : dnnl_f32;
  dnnl_memory_desc_t any_x = Desc(x, t, dnnl_format_tag_any), any_w = Desc(w, t, dnnl_format_tag_any);
  dnnl_memory_desc_t any_y = Desc(y, t, dnnl_format_tag_any);
  // Weight gradients accumulate in float32 even for bfloat16 inputs.
  dnnl_memory_desc_t any_dw = Desc(w, dnnl_f32, dnnl_format_tag_any);

  // A fresh attribute object per primitive: copies of one would share its C object.
  dnnl_primitive_attr_t attr = nullptr;
  CHECK(dnnl_primitive_attr_create(&attr));
  CHECK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
  dnnl_primitive_desc_t fwd = nullptr, pd = nullptr;
  CHECK(dnnl_convolution_forward_primitive_desc_create(&fwd, r->engine, dnnl_forward_training,
                                                       dnnl_convolution_direct, any_x, any_w, nullptr, any_y,
                                                       strides, dilates, pad_l, pad_r, attr));
  auto plan = std::make_unique<Plan>();
  auto &a = plan->args;
  if (kind == kForward) {
    pd = fwd;
    a[0] = {DNNL_ARG_SRC, Desc(x, dnnl_f32, dnnl_nchw)};
    a[1] = {DNNL_ARG_WEIGHTS, Desc(w, dnnl_f32, dnnl_oihw)};
    a[2] = {DNNL_ARG_DST, Desc(y, dnnl_f32, dnnl_nchw)};
  } else if (kind == kBackwardData) {
    CHECK(dnnl_convolution_backward_data_primitive_desc_create(&pd, r->engine, dnnl_convolution_direct, any_x,
                                                               any_w, any_y, strides, dilates, pad_l, pad_r,
                                                               fwd, attr));
    a[0] = {DNNL_ARG_DIFF_DST, Desc(y, dnnl_f32, dnnl_nchw)};
    a[1] = {DNNL_ARG_WEIGHTS, Desc(w, dnnl_f32, dnnl_oihw)};
    a[2] = {DNNL_ARG_DIFF_SRC, Desc(x, dnnl_f32, dnnl_nchw)};
  } else {
    CHECK(dnnl_convolution_backward_weights_primitive_desc_create(&pd, r->engine, dnnl_convolution_direct, any_x,
                                                                  any_dw, nullptr, any_y, strides, dilates,
                                                                  pad_l, pad_r, fwd, attr));
    a[0] = {DNNL_ARG_SRC, Desc(x, dnnl_f32, dnnl_nchw)};
    a[1] = {DNNL_ARG_DIFF_DST, Desc(y, dnnl_f32, dnnl_nchw)};
    a[2] = {DNNL_ARG_DIFF_WEIGHTS, Desc(w, dnnl_f32, dnnl_oihw)};
  }
  for (int i = 0; i < 3; ++i) {
    if (!FinishArg(r, pd, &a[i], i == 2)) return nullptr;
  }
  plan->scratch_bytes = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
  CHECK(dnnl_primitive_create(&plan->conv, pd));
  if (pd != fwd) dnnl_primitive_desc_destroy(pd);
  dnnl_primitive_desc_destroy(fwd);
  dnnl_primitive_attr_destroy(attr);
  for (auto md : {any_x, any_w, any_y, any_dw}) dnnl_memory_desc_destroy(md);
  return plan.release();
}

Plan *GetPlan(Runtime *r, Kind kind, const int64_t *x, const int64_t *w, int64_t stride, int64_t pad, bool bf16) {
  const std::array<int64_t, 11> key = {kind, x[0], x[1], x[2], x[3], w[0], w[2], w[3], stride, pad, bf16};
  std::lock_guard<std::mutex> lock(r->cache_mu);
  auto &slot = r->plans[key];
  if (!slot) slot.reset(MakePlan(r, kind, x, w, stride, pad, bf16));
  return slot.get();
}

// Per-thread scratch buffers (blocked copies of the three tensors and the scratchpad), grown as
// needed and reused, so concurrent kernels never share one.
struct Buffers {
  std::array<std::vector<char>, 4> bytes;
  void *Get(int i, size_t n) {
    if (bytes[i].size() < n) bytes[i].resize(n);
    return bytes[i].data();
  }
};

bool Reorder(dnnl_stream_t s, Runtime *r, const Arg &arg, void *plain, void *inner, bool to_plain) {
  dnnl_memory_t p = nullptr, q = nullptr;
  bool ok = dnnl_memory_create(&p, arg.plain, r->engine, plain) == dnnl_success &&
            dnnl_memory_create(&q, arg.inner, r->engine, inner) == dnnl_success;
  if (ok) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, to_plain ? q : p}, {DNNL_ARG_TO, to_plain ? p : q}};
    ok = dnnl_primitive_execute(arg.reorder, s, 2, args) == dnnl_success;
  }
  if (p) dnnl_memory_destroy(p);
  if (q) dnnl_memory_destroy(q);
  return ok;
}

bool Execute(Runtime *r, Plan *plan, void *in0, void *in1, void *out) {
  thread_local Buffers buffers;
  thread_local dnnl_stream_t stream = nullptr;
  if (!stream && dnnl_threadpool_interop_stream_create(&stream, r->engine, r->pool.get()) != dnnl_success)
    return false;
  void *user[3] = {in0, in1, out}, *inner[3];
  dnnl_memory_t mem[4] = {};
  dnnl_exec_arg_t args[4];
  bool ok = true;
  for (int i = 0; i < 3 && ok; ++i) {
    const Arg &a = plan->args[i];
    inner[i] = a.reorder ? buffers.Get(i, dnnl_memory_desc_get_size(a.inner)) : user[i];
    if (a.reorder && i < 2) ok = Reorder(stream, r, a, user[i], inner[i], false);
    ok = ok && dnnl_memory_create(&mem[i], a.inner, r->engine, inner[i]) == dnnl_success;
    args[i] = {a.dnnl_arg, mem[i]};
  }
  int nargs = 3;
  if (ok && plan->scratch_bytes) {
    dnnl_memory_desc_t md = nullptr;
    const dnnl_dims_t n = {static_cast<int64_t>(plan->scratch_bytes)};
    ok = dnnl_memory_desc_create_with_tag(&md, 1, n, dnnl_u8, dnnl_a) == dnnl_success &&
         dnnl_memory_create(&mem[3], md, r->engine, buffers.Get(3, plan->scratch_bytes)) == dnnl_success;
    if (md) dnnl_memory_desc_destroy(md);
    args[nargs++] = {DNNL_ARG_SCRATCHPAD, mem[3]};
  }
  ok = ok && dnnl_primitive_execute(plan->conv, stream, nargs, args) == dnnl_success;
  if (ok && plan->args[2].reorder) ok = Reorder(stream, r, plan->args[2], user[2], inner[2], true);
  ok = ok && dnnl_stream_wait(stream) == dnnl_success;
  for (auto m : mem)
    if (m) dnnl_memory_destroy(m);
  return ok;
}

// Shared body of the three entry points: params holds the inputs then the output.
int Run(Kind kind, int nparam, void **params, int64_t **shapes) {
  const int cfg_index = nparam - 2;
  const int32_t *cfg = static_cast<const int32_t *>(params[cfg_index]);
  Runtime *r = GetRuntime();
  if (!r) return 1;
  Plan *plan = GetPlan(r, kind, shapes[0], shapes[1], cfg[0], cfg[1], cfg[2] != 0);
  if (!plan) return 1;
  void *out = params[nparam - 1];
  bool ok = kind == kForward        ? Execute(r, plan, params[0], params[1], out)
            : kind == kBackwardData ? Execute(r, plan, params[2], params[1], out)
                                    : Execute(r, plan, params[0], params[2], out);
  return ok ? 0 : 1;
}

}  // namespace

extern "C" {

int mindcv_conv_forward(int nparam, void **params, int *, int64_t **shapes, const char **, void *, void *) {
  return Run(kForward, nparam, params, shapes);
}

int mindcv_conv_backward_data(int nparam, void **params, int *, int64_t **shapes, const char **, void *, void *) {
  return Run(kBackwardData, nparam, params, shapes);
}

int mindcv_conv_backward_weights(int nparam, void **params, int *, int64_t **shapes, const char **, void *,
                                 void *) {
  return Run(kBackwardWeights, nparam, params, shapes);
}

// The loaded oneDNN's version and CPU runtime, for the load-time check: {major, minor, patch, runtime}.
void mindcv_dnnl_version(int *out) {
  const dnnl_version_t *v = dnnl_version();
  out[0] = v->major;
  out[1] = v->minor;
  out[2] = v->patch;
  out[3] = static_cast<int>(v->cpu_runtime);
}

}  // extern "C"
