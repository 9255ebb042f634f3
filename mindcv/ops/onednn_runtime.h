// What the native ops share: one oneDNN CPU engine on one thread pool, a stream per calling
// thread, RAII owners for oneDNN's handles, the plan cache, the scratch memory pool, the checks
// every entry point makes before it writes, and Call, which runs primitives. Every .cc of the
// library includes it; the inline functions' statics are one object per library, so all ops
// share the engine, the pool and the scratch memory.
//
// Activations cross an op boundary in MindSpore's NCHW or in oneDNN's nChw8c / nChw16c (the
// channel block B = 8 or 16, ChannelBlock()) as a 5-D tensor (N, C/B, H, W, B).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <sched.h>
#include <thread>
#include <vector>

#include "oneapi/dnnl/dnnl.h"
#include "oneapi/dnnl/dnnl_threadpool.h"
#include "oneapi/dnnl/dnnl_threadpool_iface.hpp"

namespace mindcv {

// ---- Owners: every oneDNN handle is held by one of these and destroyed with it.

template <auto Destroy>
struct Destroyer {
  template <typename T>
  void operator()(T *handle) const {
    Destroy(handle);
  }
};
template <typename T, auto Destroy>
using Owner = std::unique_ptr<T, Destroyer<Destroy>>;

using EngineHandle = Owner<dnnl_engine, dnnl_engine_destroy>;
using Stream = Owner<dnnl_stream, dnnl_stream_destroy>;
using MemoryDesc = Owner<dnnl_memory_desc, dnnl_memory_desc_destroy>;
using Memory = Owner<dnnl_memory, dnnl_memory_destroy>;
using Attr = Owner<dnnl_primitive_attr, dnnl_primitive_attr_destroy>;
using PrimitiveDesc = Owner<dnnl_primitive_desc, dnnl_primitive_desc_destroy>;
using Primitive = Owner<dnnl_primitive, dnnl_primitive_destroy>;

// Calls a oneDNN create function, whose first parameter receives the new handle, and gives the
// handle to `out` (left empty on failure). Returns the function's status.
template <typename T, auto Destroy, typename Create, typename... Args>
dnnl_status_t Make(Owner<T, Destroy> &out, Create create, Args... args) {
  T *handle = nullptr;
  const dnnl_status_t status = create(&handle, args...);
  out.reset(status == dnnl_success ? handle : nullptr);
  return status;
}

// Returns the status from the enclosing function when a oneDNN call fails.
#define MINDCV_TRY(call)                                \
  do {                                                  \
    const dnnl_status_t status_ = (call);               \
    if (status_ != dnnl_success) return status_;        \
  } while (0)

// oneDNN's THREADPOOL runtime runs single-threaded unless given a pool: this is a small fixed one.
// parallel_for calls are serialized, because MindSpore runs backward-data and backward-weights
// concurrently and each already uses every core. A network's primitives come back to back, a few
// microseconds apart at batch 1, so the workers and the caller spin briefly before they sleep on
// a condition variable: a futex wake-up per call cost more than the work of many of them.
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
      std::lock_guard<std::mutex> lock(mu_);  // a worker about to sleep sees the new generation
      fn_ = &fn;
      n_ = n;
      next_ = 0;
      busy_ = static_cast<int>(workers_.size());
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    in_pool_ = true;
    RunShare();
    in_pool_ = false;
    if (Spin([this] { return busy_.load(std::memory_order_acquire) == 0; })) return;
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return busy_.load(std::memory_order_acquire) == 0; });
  }

 private:
  // How long a thread polls before it sleeps: at batch 1, 0, 50 and 200 us gave DenseNet-121
  // 45-48, 39-42 and 40-42 ms (Xeon, 2 threads; docs/performance.md).
  static constexpr std::chrono::microseconds kSpin{50};

  // Polls `ready` for up to kSpin; true once it holds.
  template <typename Ready>
  static bool Spin(Ready ready) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    do {
      for (int i = 0; i < 64; ++i) {
        if (ready()) return true;
        CpuRelax();
      }
    } while (std::chrono::steady_clock::now() < until);
    return ready();
  }
  static void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }
  void RunShare() {
    for (int i = next_++; i < n_; i = next_++) (*fn_)(i, n_);
  }
  void Work() {
    in_pool_ = true;
    uint64_t seen = 0;
    auto started = [&] { return generation_.load(std::memory_order_acquire) != seen; };
    for (;;) {
      if (!Spin(started)) {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return stop_ || started(); });
        if (stop_) return;
      }
      seen = generation_.load(std::memory_order_acquire);
      RunShare();
      if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mu_);  // the caller checks busy_ under it before sleeping
        done_.notify_one();
      }
    }
  }

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex run_mu_, mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int, int)> *fn_ = nullptr;
  int n_ = 0;
  std::atomic<int> next_{0}, busy_{0};
  std::atomic<uint64_t> generation_{0};
  bool stop_ = false;
  static inline thread_local bool in_pool_ = false;
};

inline int CpuCount() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::thread::hardware_concurrency());
}

struct Engine {
  EngineHandle handle;
  ThreadPool pool{CpuCount()};
};

// The library's engine and pool, created at first use and never freed: the cached plans'
// primitives, also never freed, refer to it (destroying them at exit would race MindSpore's
// own teardown). Null if oneDNN cannot make a CPU engine.
inline Engine *GetEngine() {
  static Engine *shared = [] {
    auto engine = std::make_unique<Engine>();
    const bool made = Make(engine->handle, dnnl_engine_create, dnnl_cpu, size_t{0}) == dnnl_success;
    return made ? engine.release() : nullptr;
  }();
  return shared;
}

// The calling thread's stream on the shared pool (MindSpore calls kernels from several
// threads), released when the thread ends.
inline dnnl_stream_t ThreadStream(Engine &engine) {
  thread_local Stream stream;
  if (!stream) {
    dnnl::threadpool_interop::threadpool_iface *pool = &engine.pool;  // what oneDNN reads the void * as
    Make(stream, dnnl_threadpool_interop_stream_create, engine.handle.get(), static_cast<void *>(pool));
  }
  return stream.get();
}

// Channels per block of the blocked layout, from the ISA oneDNN runs at (which honours
// ONEDNN_MAX_CPU_ISA): 16 where its AVX-512 kernels run, 8 for its AVX2 ones.
inline int ChannelBlock() {
  const unsigned isa = dnnl_get_effective_cpu_isa();
  return (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core ? 16 : 8;
}

inline dnnl_format_tag_t BlockedTag(int64_t block) { return block == 16 ? dnnl_nChw16c : dnnl_nChw8c; }

inline MemoryDesc Desc(int ndims, const int64_t *dims, dnnl_data_type_t type, dnnl_format_tag_t tag) {
  dnnl_dims_t d = {};
  std::copy(dims, dims + ndims, d);
  MemoryDesc md;
  Make(md, dnnl_memory_desc_create_with_tag, ndims, d, type, tag);
  return md;
}

// The descriptor of `bytes` untyped bytes (scratchpads, workspaces).
inline MemoryDesc Bytes(size_t bytes) {
  const int64_t n = static_cast<int64_t>(bytes);
  return Desc(1, &n, dnnl_u8, dnnl_a);
}

// ---- The checks every entry point makes before it reads or writes anything.

// The arguments of one aot call: inputs then outputs, each with its rank, shape and dtype name.
struct Params {
  int count;
  void **data;
  const int *ndims;
  int64_t *const *shapes;
  const char *const *dtypes;

  // Whether parameter i is float32 (or `dtype`) with exactly `shape`.
  bool Is(int i, std::initializer_list<int64_t> shape, const char *dtype = "float32") const {
    return Is(i, static_cast<int>(shape.size()), shape.begin(), dtype);
  }
  bool Is(int i, int rank, const int64_t *shape, const char *dtype = "float32") const {
    return ndims[i] == rank && std::equal(shape, shape + rank, shapes[i]) && std::strcmp(dtypes[i], dtype) == 0;
  }
  bool SameAs(int i, int j) const { return Is(i, ndims[j], shapes[j], dtypes[j]); }
};

// An activation tensor: NCHW, or nChw8c / nChw16c as (N, C/B, H, W, B).
struct Activation {
  int64_t dims[4] = {};  // N, C, H, W
  int64_t block = 0;     // B, 0 for NCHW
  dnnl_format_tag_t tag = dnnl_nchw;

  // Reads parameter i; false unless it is a float32 activation with no empty dimension.
  bool Read(const Params &p, int i) {
    const int rank = p.ndims[i];
    const int64_t *s = p.shapes[i];
    if ((rank != 4 && rank != 5) || std::strcmp(p.dtypes[i], "float32") != 0) return false;
    block = rank == 5 ? s[4] : 0;
    if (rank == 5 && block != 8 && block != 16) return false;
    tag = rank == 5 ? BlockedTag(block) : dnnl_nchw;
    const int64_t d[4] = {s[0], rank == 5 ? s[1] * block : s[1], s[2], s[3]};
    std::copy(d, d + 4, dims);
    return std::all_of(d, d + 4, [](int64_t n) { return n > 0; });
  }
  // Whether parameter i is the tensor of `channels` x `height` x `width` (N unchanged) in this layout.
  bool Matches(const Params &p, int i, int64_t channels, int64_t height, int64_t width) const {
    if (block == 0) return p.Is(i, {dims[0], channels, height, width});
    return channels % block == 0 && p.Is(i, {dims[0], channels / block, height, width, block});
  }
  bool Matches(const Params &p, int i) const { return Matches(p, i, dims[1], dims[2], dims[3]); }
};

// Says why a call was refused or failed, and returns the entry point's error code.
inline int Fail(const char *op, const char *why) {
  std::fprintf(stderr, "mindcv native op: %s: %s\n", op, why);
  return 1;
}

// ---- Plans: the primitives of one entry point for one shape, made once.

// A primitive with the scratchpad and workspace it needs (none: size 0).
struct Op {
  Primitive primitive;
  MemoryDesc scratchpad, workspace;
  size_t scratchpad_bytes = 0, workspace_bytes = 0;

  dnnl_status_t Build(const_dnnl_primitive_desc_t pd) {
    scratchpad_bytes = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
    workspace_bytes = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_workspace_md, 0));
    if (scratchpad_bytes) scratchpad = Bytes(scratchpad_bytes);
    if (workspace_bytes) workspace = Bytes(workspace_bytes);
    return Make(primitive, dnnl_primitive_create, pd);
  }
};

// A primitive attribute asking for a user-provided scratchpad (Call passes it from Scratch).
inline dnnl_status_t UserScratchpad(Attr &attr) {
  MINDCV_TRY(Make(attr, dnnl_primitive_attr_create));
  return dnnl_primitive_attr_set_scratchpad_mode(attr.get(), dnnl_scratchpad_mode_user);
}

// Plans by key (kind, shape, options), made at first use and shared by concurrently running
// kernels. A plan that failed is not kept, so its failure is reported on every call.
template <typename Plan, size_t N>
class PlanCache {
 public:
  using Key = std::array<int64_t, N>;

  // The plan for `key`; `make(Plan *)` fills a new one and returns oneDNN's status.
  template <typename MakePlan>
  const Plan *Get(const Key &key, MakePlan make) {
    std::lock_guard<std::mutex> lock(mu_);
    auto &slot = plans_[key];
    if (!slot) {
      auto plan = std::make_unique<Plan>();
      if (make(plan.get()) == dnnl_success) slot = std::move(plan);
    }
    return slot.get();
  }

 private:
  std::mutex mu_;
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

// ---- Scratch memory: reorder copies, scratchpads and workspaces.

// Regions of memory lent to calls. A call borrows one and gives it back when done; the pool keeps
// the kKept largest for later calls and frees the rest, so the memory held between calls is
// bounded by kKept times the largest call, however many threads have run one.
class ScratchPool {
 public:
  static constexpr size_t kKept = 4;  // about the number of kernels MindSpore runs at once
  static constexpr size_t kAlign = 64;

  struct Free {
    void operator()(char *p) const { std::free(p); }
  };
  struct Region {
    std::unique_ptr<char, Free> data;
    size_t size = 0;
  };

  // A region of at least `bytes` (data null when out of memory).
  Region Borrow(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto fits = std::find_if(kept_.begin(), kept_.end(), [&](const Region &r) { return r.size >= bytes; });
      if (fits != kept_.end()) {
        Region region = std::move(*fits);
        kept_.erase(fits);
        return region;
      }
    }
    Region region;
    region.size = RoundUp(std::max<size_t>(bytes, 1));
    region.data.reset(static_cast<char *>(std::aligned_alloc(kAlign, region.size)));
    return region;
  }

  void GiveBack(Region region) {
    if (!region.data) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto larger = std::find_if(kept_.begin(), kept_.end(), [&](const Region &r) { return r.size > region.size; });
    kept_.insert(larger, std::move(region));  // kept_ stays sorted by size, smallest first
    if (kept_.size() > kKept) kept_.erase(kept_.begin());
  }

  static size_t RoundUp(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

 private:
  std::mutex mu_;
  std::vector<Region> kept_;
};

inline ScratchPool &SharedScratch() {
  static ScratchPool *pool = new ScratchPool();  // never freed, like the engine
  return *pool;
}

// One call's scratch memory: up to kPieces pieces of the given sizes (0: none), carved from one
// borrowed region, which goes back to the pool with this object.
class Scratch {
 public:
  static constexpr int kPieces = 4;

  explicit Scratch(std::initializer_list<size_t> sizes) {
    size_t total = 0;
    int i = 0;
    for (size_t size : sizes) {
      offsets_[i++] = size ? total : kNone;
      total += ScratchPool::RoundUp(size);
    }
    region_ = SharedScratch().Borrow(total);
  }
  ~Scratch() { SharedScratch().GiveBack(std::move(region_)); }
  Scratch(const Scratch &) = delete;
  Scratch &operator=(const Scratch &) = delete;

  bool ok() const { return region_.data != nullptr; }
  void *Piece(int i) const { return offsets_[i] == kNone ? nullptr : region_.data.get() + offsets_[i]; }

 private:
  static constexpr size_t kNone = ~size_t{0};
  std::array<size_t, kPieces> offsets_{kNone, kNone, kNone, kNone};
  ScratchPool::Region region_;
};

// ---- Running primitives.

// One oneDNN argument of an execution: which one, its layout and its data.
struct Tensor {
  int arg;
  const_dnnl_memory_desc_t md;
  void *data;
};

// One entry point's work on the calling thread's stream.
class Call {
 public:
  explicit Call(Engine &engine) : engine_(engine), stream_(ThreadStream(engine)) {}
  bool ok() const { return stream_ != nullptr; }

  // Runs `op` on `tensors`, with its scratchpad and workspace at the given addresses.
  bool Execute(const Op &op, std::initializer_list<Tensor> tensors, void *scratchpad = nullptr,
               void *workspace = nullptr) {
    std::vector<Tensor> all(tensors);
    if (op.scratchpad_bytes) all.push_back({DNNL_ARG_SCRATCHPAD, op.scratchpad.get(), scratchpad});
    if (op.workspace_bytes) all.push_back({DNNL_ARG_WORKSPACE, op.workspace.get(), workspace});
    return Execute(op.primitive.get(), all);
  }

  // Runs a reorder from `from` (laid out as from_md) into `to` (to_md).
  bool Reorder(dnnl_primitive_t reorder, const_dnnl_memory_desc_t from_md, void *from,
               const_dnnl_memory_desc_t to_md, void *to) {
    return Execute(reorder, {{DNNL_ARG_FROM, from_md, from}, {DNNL_ARG_TO, to_md, to}});
  }

  // Waits for everything this call ran; the scratch memory can then be given back.
  bool Wait() { return dnnl_stream_wait(stream_) == dnnl_success; }

 private:
  bool Execute(dnnl_primitive_t primitive, const std::vector<Tensor> &tensors) {
    std::vector<Memory> memories(tensors.size());
    std::vector<dnnl_exec_arg_t> args;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const Tensor &t = tensors[i];
      if (!t.data || Make(memories[i], dnnl_memory_create, t.md, engine_.handle.get(), t.data) != dnnl_success)
        return false;
      args.push_back({t.arg, memories[i].get()});
    }
    return dnnl_primitive_execute(primitive, stream_, static_cast<int>(args.size()), args.data()) == dnnl_success;
  }

  Engine &engine_;
  dnnl_stream_t stream_;
};

}  // namespace mindcv
