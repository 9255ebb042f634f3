// What the native ops share: one oneDNN CPU engine, one thread pool, a stream per calling thread,
// and small helpers. Every .cc of the library includes it; the inline functions' statics are one
// object per library, so all ops run on the same engine and pool.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <sched.h>
#include <thread>
#include <vector>

#include "oneapi/dnnl/dnnl.h"
#include "oneapi/dnnl/dnnl_threadpool.h"
#include "oneapi/dnnl/dnnl_threadpool_iface.hpp"

namespace mindcv {

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
  static inline thread_local bool in_pool_ = false;
};

inline int CpuCount() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::thread::hardware_concurrency());
}

// Returns nullptr from the enclosing function when a oneDNN call fails, naming the call.
#define MINDCV_CHECK(call)                                                      \
  do {                                                                          \
    dnnl_status_t status_ = (call);                                             \
    if (status_ != dnnl_success) {                                              \
      std::fprintf(stderr, "mindcv native op: %s failed (%d)\n", #call, int(status_)); \
      return nullptr;                                                           \
    }                                                                           \
  } while (0)

struct Engine {
  dnnl_engine_t engine = nullptr;
  std::unique_ptr<ThreadPool> pool;
};

// The library's engine and pool, created at first use and never freed (primitives outlive calls).
inline Engine *GetEngine() {
  static Engine *shared = [] {
    auto *e = new Engine();
    if (dnnl_engine_create(&e->engine, dnnl_cpu, 0) != dnnl_success) return static_cast<Engine *>(nullptr);
    e->pool = std::make_unique<ThreadPool>(CpuCount());
    return e;
  }();
  return shared;
}

// The calling thread's stream on the shared pool (MindSpore calls kernels from several threads).
inline dnnl_stream_t ThreadStream(Engine *e) {
  thread_local dnnl_stream_t stream = nullptr;
  if (!stream && dnnl_threadpool_interop_stream_create(&stream, e->engine, e->pool.get()) != dnnl_success)
    return nullptr;
  return stream;
}

// oneDNN's layout of `block` channels per block: nChw16c (AVX-512 kernels) or nChw8c (AVX2).
inline dnnl_format_tag_t BlockedLayout(int64_t block) { return block == 8 ? dnnl_nChw8c : dnnl_nChw16c; }

// Activation layouts at an op's boundary: MindSpore's NCHW, or oneDNN's nChw16c / nChw8c held in
// a MindSpore tensor of shape (N, C/B, H, W, B). `shape` is the tensor's; `dims` gets N, C, H, W.
inline dnnl_format_tag_t ActivationLayout(int ndims, const int64_t *shape, int64_t *dims) {
  const bool blocked = ndims == 5;
  dims[0] = shape[0];
  dims[1] = blocked ? shape[1] * shape[4] : shape[1];
  dims[2] = shape[2];
  dims[3] = shape[3];
  return blocked ? BlockedLayout(shape[4]) : dnnl_nchw;
}

inline dnnl_memory_desc_t Desc(int ndims, const int64_t *dims, dnnl_data_type_t type, dnnl_format_tag_t tag) {
  dnnl_dims_t d = {};
  for (int i = 0; i < ndims; ++i) d[i] = dims[i];
  dnnl_memory_desc_t md = nullptr;
  return dnnl_memory_desc_create_with_tag(&md, ndims, d, type, tag) == dnnl_success ? md : nullptr;
}

// A memory object over `data`, destroyed with this wrapper.
struct Memory {
  dnnl_memory_t handle = nullptr;
  Memory(const_dnnl_memory_desc_t md, Engine *e, void *data) {
    if (dnnl_memory_create(&handle, md, e->engine, data) != dnnl_success) handle = nullptr;
  }
  ~Memory() {
    if (handle) dnnl_memory_destroy(handle);
  }
  Memory(const Memory &) = delete;
  Memory &operator=(const Memory &) = delete;
};

// Runs `reorder` from `from` (laid out as from_md) into `to` (to_md) on stream `s`, without waiting.
inline bool ExecuteReorder(Engine *e, dnnl_stream_t s, dnnl_primitive_t reorder, const_dnnl_memory_desc_t from_md,
                           void *from, const_dnnl_memory_desc_t to_md, void *to) {
  Memory source(from_md, e, from), target(to_md, e, to);
  if (!source.handle || !target.handle) return false;
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, source.handle}, {DNNL_ARG_TO, target.handle}};
  return dnnl_primitive_execute(reorder, s, 2, args) == dnnl_success;
}

// Per-thread byte buffers (scratchpads, blocked copies), grown as needed and reused.
template <int N>
struct Buffers {
  std::vector<char> bytes[N];
  void *Get(int i, size_t n) {
    if (bytes[i].size() < n) bytes[i].resize(n);
    return bytes[i].data();
  }
};

}  // namespace mindcv
