// DenseNet's memory-efficient bottleneck, concat -> BatchNorm (batch statistics) -> ReLU ->
// convolution, for MindSpore `ops.Custom(func_type="aot")` on CPU via oneDNN. A dense layer runs
// it twice: on its chunks with conv1 (1x1), then on conv1's output alone with conv2 (3x3).
//
// Why: a dense layer's input is the concatenation of the block input and every earlier layer's
// output. Stored, those concatenations and their BN-ReLU outputs make training memory grow with
// the square of the depth. These ops take the chunks themselves and build the BN-ReLU output of
// their concatenation in scratch memory they do not return, a slice of the batch at a time, so
// MindSpore keeps only the chunks (once) between forward and backward; the backward op rebuilds
// it from the chunks (torchvision's memory_efficient=True, which also keeps the 3x3
// convolution's input: here the second call rebuilds that from conv1's output too, so a layer
// keeps 128 + 32 channels, not 288). The batch statistics, the BN-ReLU and their gradients are
// computed here (ChunkNorm), with oneDNN's formulas; the convolutions are the library's own
// entry points (conv2d.cc). Entry
// points (inputs then outputs; K >= 1 chunks, all float32 activations in one layout with one N,
// H, W; C their total channels; O the convolution's output channels):
//   mindcv_dense_bottleneck(chunk_1..K, gamma, beta, w, bn_cfg, conv_cfg) -> y, mean, var
//   mindcv_dense_bottleneck_backward(chunk_1..K, gamma, beta, w, bn_cfg, conv_cfg, dy)
//       -> dchunk_1..K, dgamma, dbeta, dw
//   mindcv_dense_transition(...), mindcv_dense_transition_backward(...): the same parameters,
//       with a 2x2 average pool (stride 2, an odd last row or column dropped) between the ReLU
//       and a 1x1 convolution, so y is (N, O, H/2, W/2): a transition layer (BN, ReLU, pool,
//       conv, as densenet.py's _Transition) on a block's chunks, which keeps neither the block's
//       concatenation, its BN-ReLU output nor the pooled tensor.
//   mindcv_dense_bottleneck_stored(chunk_1..K, gamma, beta, w, bn_cfg, conv_cfg) -> y, mean, var,
//       normed; mindcv_dense_bottleneck_stored_known(..., conv_cfg, known_mean, known_var) -> the
//       same; mindcv_dense_bottleneck_stored_backward(chunk_1..K, gamma, beta, w, bn_cfg,
//       conv_cfg, mean, var, normed, dy) -> dchunk_1..K, dgamma, dbeta, dw: the default
//       (not memory-efficient) layer's bottleneck. It returns the BN-ReLU output `normed` (the
//       concatenation's shape), which MindSpore keeps for the backward instead of it being
//       rebuilt, and still builds no concatenation; with known_mean and known_var (the
//       statistics of all chunks but the last, which the previous layer of the block returned)
//       it computes only the last chunk's. Against Concat, then BatchNorm-ReLU: no copy of the
//       concatenation, two statistics passes over it fewer, and one concatenation-sized tensor
//       kept per layer instead of two.
//   mindcv_dense_transition_stored[_known](chunk_1..K, gamma, beta, w, bn_cfg, conv_cfg[,
//       known_mean, known_var]) -> y, mean, var, pooled; mindcv_dense_transition_stored_backward(
//       chunk_1..K, ..., conv_cfg, mean, var, pooled, dy) -> as the bottleneck's: the same for a
//       transition on a block's chunks (the statistics known from the block's last layer), which
//       keeps the pooled BN-ReLU output (a quarter of the concatenation) for the backward.
//   mindcv_dense_bottleneck_fixed(chunk_1..K, gamma, beta, w, bn_cfg, conv_cfg, mean, var) -> y;
//       mindcv_dense_bottleneck_fixed_backward(chunk_1..K, ..., conv_cfg, mean, var, dy) ->
//       dchunk_1..K, dgamma, dbeta, dw; mindcv_dense_transition_fixed[_backward]: the same for a
//       transition. Eval mode: mean and var are the moving statistics, constants, so a dense
//       layer is one op on its chunks, where Concat, then BatchNorm-ReLU, then the convolution
//       were three (launch overhead ruled batch-1 inference) and copied the concatenation.
// gamma, beta, mean, var: C elements (mean and the biased var of the batch); w: (O, C, S, S), S
// odd; bn_cfg: float32 {epsilon, relu} as batch_norm.cc's (relu must be 1); conv_cfg: int32
// {stride, padding, bf16} as conv2d.cc's (stride 1, padding S / 2: the convolution keeps its
// input's H and W). The scratch is the ops' own (Scratch says how it is kept): a slice of the
// concatenation (Layer::kSliceBytes), a quarter of that for a transition, and small ones; the
// shared pool would keep the largest of each between calls (onednn_runtime.h). The caller
// updates the moving statistics. Every shape and dtype is
// checked first: on a mismatch the call writes nothing and returns 1, the reason on stderr.

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <numeric>
#include <vector>

#include "onednn_runtime.h"

extern "C" {  // the library's own entry points (conv2d.cc)
int mindcv_conv_forward(int, void **, int *, int64_t **, const char **, void *, void *);
int mindcv_conv_backward_data(int, void **, int *, int64_t **, const char **, void *, void *);
int mindcv_conv_backward_weights(int, void **, int *, int64_t **, const char **, void *, void *);
}

namespace {

using namespace mindcv;

using EntryPoint = int (*)(int, void **, int *, int64_t **, const char **, void *, void *);

// One tensor handed to another entry point: its data, shape and dtype.
struct Arg {
  void *data;
  std::vector<int64_t> shape;
  const char *dtype = "float32";
};

// Calls `entry` on `args` (inputs then outputs) as MindSpore would; true on success.
bool Call(EntryPoint entry, std::vector<Arg> args) {
  std::vector<void *> data;
  std::vector<int> ndims;
  std::vector<int64_t *> shapes;
  std::vector<const char *> dtypes;
  for (Arg &a : args) {
    data.push_back(a.data);
    ndims.push_back(static_cast<int>(a.shape.size()));
    shapes.push_back(a.shape.data());
    dtypes.push_back(a.dtype);
  }
  return entry(static_cast<int>(args.size()), data.data(), ndims.data(), shapes.data(), dtypes.data(), nullptr,
               nullptr) == 0;
}

// What an entry point computes besides the bottleneck: a transition's pool, or (training
// without recomputation) the convolution's input (the BN-ReLU output, pooled by a transition)
// returned for the backward to read instead of rebuilding it, and the statistics of all chunks
// but the last taken as inputs.
struct Variant {
  bool pool = false;
  bool stored = false;  // the convolution's input is an output (forward) or an input (backward)
  bool known = false;   // the forward's inputs end with known_mean, known_var (stored only)
  bool fixed = false;   // eval mode: every channel's statistics are inputs (the moving ones), constants
};

// What both entry points read: the chunks, the parameters, the configuration, checked.
struct Layer {
  int chunks = 0;
  Activation first;                // chunk 1: N, H, W and the layout every chunk shares
  std::vector<int64_t> channels;   // per chunk
  int64_t total = 0, out = 0;      // C and O
  int64_t size = 1;                // S, the convolution's kernel side
  bool pool = false;               // a 2x2 average pool before the convolution (a transition)
  int64_t out_h = 0, out_w = 0;    // the convolution's H and W: x's, halved when pooled
  int64_t block = 1, pixels = 0;  // B (1 for NCHW) and H x W
  int64_t slice = 0;               // images per slice of the batch (kSliceBytes says why)

  // The shape of `n` images (default: all) of `c` channels of h x w (default: the chunks') in
  // the chunks' layout.
  std::vector<int64_t> Shape(int64_t c, int64_t h = 0, int64_t w = 0, int64_t n = 0) const {
    const int64_t *d = first.dims;
    h = h ? h : d[2], w = w ? w : d[3], n = n ? n : d[0];
    if (!first.block) return {n, c, h, w};
    return {n, c / first.block, h, w, first.block};
  }
  // Bytes of one image's concatenation, and of its pooled concatenation (0 without a pool).
  size_t ConcatBytes() const { return static_cast<size_t>(total * pixels) * sizeof(float); }
  size_t PooledBytes() const { return pool ? ConvInputValues() * sizeof(float) : 0; }
  // Values of one image of the convolution's input: the concatenation, pooled by a transition.
  size_t ConvInputValues() const { return static_cast<size_t>(total * out_h * out_w); }

  // Reads and checks the inputs (chunks at 0..K-1, then gamma, beta, w, bn_cfg, conv_cfg);
  // nullptr or why not.
  const char *Read(const Params &p, int k, Variant v) {
    chunks = k, pool = v.pool;
    if (k < 1 || !first.Read(p, 0)) return "chunk 1 is not a float32 (N, C, H, W) or (N, C/B, H, W, B) tensor";
    for (int i = 0; i < k; ++i) {
      Activation a;
      if (!a.Read(p, i) || a.block != first.block || a.dims[0] != first.dims[0] || a.dims[2] != first.dims[2] ||
          a.dims[3] != first.dims[3])
        return "the chunks are not float32 activations of one layout, batch, height and width";
      channels.push_back(a.dims[1]);
    }
    total = std::accumulate(channels.begin(), channels.end(), int64_t{0});
    if (!p.Is(k, {total}) || !p.Is(k + 1, {total})) return "gamma or beta is not a float32 vector of C elements";
    const int64_t *w = p.shapes[k + 2];
    if (p.ndims[k + 2] != 4 || w[0] < 1 || w[2] < 1 || w[2] % 2 == 0 || !p.Is(k + 2, {w[0], total, w[2], w[2]}))
      return "w is not a float32 (O, C, S, S) tensor, S odd";
    out = w[0], size = w[2];
    if (first.block && out % first.block) return "O is not a multiple of the channel block";
    if (!p.Is(k + 3, {2})) return "bn_cfg is not a float32 {epsilon, relu}";
    const float *bn = static_cast<const float *>(p.data[k + 3]);
    if (!(bn[0] > 0.f) || bn[1] != 1.f) return "bn_cfg must hold a positive epsilon and relu 1";
    if (!p.Is(k + 4, {3}, "int32")) return "conv_cfg is not an int32 {stride, padding, bf16}";
    const int32_t *conv = static_cast<const int32_t *>(p.data[k + 4]);
    if (conv[0] != 1 || conv[1] != size / 2 || (conv[2] != 0 && conv[2] != 1))
      return "conv_cfg must hold stride 1, padding S / 2 and bf16 0 or 1";
    const int64_t *d = first.dims;
    if (pool && (size != 1 || d[2] < 2 || d[3] < 2)) return "a transition needs a 1x1 convolution and H, W >= 2";
    out_h = pool ? d[2] / 2 : d[2], out_w = pool ? d[3] / 2 : d[3];
    block = first.block ? first.block : 1, pixels = d[2] * d[3];
    slice = std::clamp<int64_t>(static_cast<int64_t>(kSliceBytes / ConcatBytes()), 1, d[0]);
    if (v.stored && !v.pool) slice = d[0];  // the stored BN-ReLU output is the whole batch's
    return nullptr;
  }

  // The weight's shape, (O, C, S, S).
  std::vector<int64_t> WeightShape() const { return {out, total, size, size}; }

  // The bytes of scratch a slice of the batch may take: the concatenation is rebuilt a slice of
  // images at a time, so the scratch is not the whole concatenation (transition 1's is 205 MB at
  // batch 64), which added to MindSpore's own memory at the step's peak.
  static constexpr size_t kSliceBytes = size_t{32} << 20;
};

// The pooling of a transition on tensors of the chunks' layout, seen as N x C/B planes (N x C
// for NCHW) of H x W pixels of B values (1 for NCHW): each output value is the mean of a 2x2
// window, stride 2, as MindSpore's AvgPool2d(2, 2); an odd last row or column is in no window.
struct Pooling {
  int64_t planes, h, w, oh, ow, b;

  // Over `images` images of the chunks' shape.
  Pooling(const Layer &l, int64_t images)
      : planes(images * l.total / l.block),
        h(l.first.dims[2]),
        w(l.first.dims[3]),
        oh(l.out_h),
        ow(l.out_w),
        b(l.block) {}

  // Runs fn(plane) for every plane on the library's thread pool.
  template <typename Fn>
  void ForEachPlane(Fn fn) const {
    GetEngine()->pool.parallel_for(static_cast<int>(planes), [&](int i, int) { fn(i); });
  }

  void Forward(const float *x, float *y) const {
    ForEachPlane([&](int64_t p) {
      const float *in = x + p * h * w * b;
      float *out = y + p * oh * ow * b;
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          const float *top = in + (2 * i * w + 2 * j) * b, *bottom = top + w * b;
          float *o = out + (i * ow + j) * b;
          for (int64_t c = 0; c < b; ++c) o[c] = (top[c] + top[b + c] + bottom[c] + bottom[b + c]) * 0.25f;
        }
    });
  }

  // dx from dy: a quarter of each output's gradient to each pixel of its window, 0 elsewhere.
  void Backward(const float *dy, float *dx) const {
    ForEachPlane([&](int64_t p) {
      const float *g = dy + p * oh * ow * b;
      float *d = dx + p * h * w * b;
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < w; ++j) {
          float *o = d + (i * w + j) * b;
          if (i / 2 < oh && j / 2 < ow) {
            const float *from = g + ((i / 2) * ow + j / 2) * b;
            for (int64_t c = 0; c < b; ++c) o[c] = from[c] * 0.25f;
          } else {
            std::fill(o, o + b, 0.f);
          }
        }
    });
  }
};

int Fail(const char *why) { return mindcv::Fail("dense bottleneck", why); }

// One anonymous mapping of the kernel's pages. Not malloc: glibc serves a freed block's size from
// its heap after the first free of a block that size (its mmap threshold rises to it, up to 32
// MB), and these blocks grow from call to call (each dense layer's concatenation is larger than
// the last), so the heap kept every freed one resident: at batch 32 that was 576 MB of
// densenet121's peak RSS. Huge pages where the kernel gives them on request: a 200 MB region is
// then 100 page faults, not 50,000.
struct Region {
  char *data = nullptr;
  size_t size = 0;

  // Makes the region `bytes` long (rounded up to pages), keeping the pages it has: mremap moves
  // them rather than copying. False, and the region unchanged, when out of memory.
  bool Resize(size_t bytes) {
    bytes = (std::max<size_t>(bytes, 1) + kPage - 1) / kPage * kPage;
    if (data && bytes == size) return true;
    void *p = data ? mremap(data, size, bytes, MREMAP_MAYMOVE)
                   : mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    data = static_cast<char *>(p), size = bytes;
    if (size >= kHugePage) madvise(data, size, MADV_HUGEPAGE);  // advice only: failure is harmless
    return true;
  }
  void Release() {
    if (data) munmap(data, size);
    data = nullptr, size = 0;
  }

  static constexpr size_t kPage = 4096, kHugePage = size_t{2} << 20;
};

// The scratch of one call, in parts (each 64-byte aligned), held for the call (RAII). Calls take
// it from one region kept between them, so its pages are not handed back to the kernel and
// faulted in again, zero-filled, by the next call: per call, that zeroing was a tenth of a
// memory-efficient train step (profiled). The kept region follows the calls' sizes, grown when a
// call needs more and shrunk to fit when kShrinkAfter calls in a row need less than half of it,
// so between calls it holds at most twice the largest scratch of the last few calls (the layers
// of a block grow by a few channels each; the blocks after a transition are a quarter of the
// size). Not after one small call: eval mode alternates a layer's bottleneck (its whole
// concatenation) with its norm2-conv2 (128 channels), and shrinking then growing the region each
// time faulted its pages in again at every call (profiled: slower than the ops it replaced). A
// call that finds the kept region in use (MindSpore may run two kernels at once) maps a region of
// its own for the call.
class Scratch {
 public:
  explicit Scratch(std::initializer_list<size_t> parts) {
    size_t total = 0;
    for (size_t bytes : parts) offsets_.push_back(total), total += (bytes + 63) / 64 * 64;
    if (total == 0) {  // a call with no scratch (a stored forward) leaves the kept region to the
      region_ = &own_;  // calls that need it: shrinking it made each backward fault it in again
      ok_ = true;
      return;
    }
    {
      std::lock_guard<std::mutex> lock(kept_.mu);
      region_ = kept_.busy ? &own_ : &kept_.region;
      kept_.busy = true;
    }
    const size_t size = region_->size;
    const bool small = size >= total && total < size / 2;
    if (region_ == &kept_.region) kept_.small_calls = small ? kept_.small_calls + 1 : 0;
    const bool shrink = small && (region_ != &kept_.region || kept_.small_calls >= kShrinkAfter);
    ok_ = (size >= total && !shrink) || region_->Resize(total);
  }
  ~Scratch() {
    if (region_ == &own_) {
      own_.Release();
      return;
    }
    std::lock_guard<std::mutex> lock(kept_.mu);
    kept_.busy = false;
  }
  Scratch(const Scratch &) = delete;
  Scratch &operator=(const Scratch &) = delete;

  bool ok() const { return ok_; }
  char *operator[](size_t part) const { return region_->data + offsets_[part]; }

 private:
  struct Kept {
    std::mutex mu;
    Region region;
    bool busy = false;
    int small_calls = 0;  // in a row, each needing less than half the region
  };
  static constexpr int kShrinkAfter = 4;
  static Kept kept_;
  std::vector<size_t> offsets_;
  Region own_, *region_ = nullptr;
  bool ok_ = false;
};
Scratch::Kept Scratch::kept_;

// Per-channel constants of a run of values, repeating every kLanes values: a plane of a blocked
// tensor cycles through its B channels (B divides kLanes), an NCHW plane has one channel.
constexpr int kLanes = 16;
struct Lanes {
  float mean[kLanes], scale[kLanes], beta[kLanes];
};

// The element-wise loops below are compiled for AVX-512, AVX2 and the baseline and the loader
// picks the CPU's (the library is built once for every CPU); their inner loops of kLanes are
// what the compiler vectorizes.
#define MINDCV_VECTORIZED __attribute__((target_clones("avx512f", "avx2", "default")))

// sums[i] += x[j] for j = i (mod kLanes), j < count, in double. (Each block of kLanes values is
// copied to a local array first, in this and the loops below, so the compiler sees that input
// and output do not overlap and vectorizes.)
MINDCV_VECTORIZED void SumLanes(const float *x, int64_t count, double *sums) {
  double acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= count; j += kLanes) {
    float v[kLanes];
    std::memcpy(v, x + j, sizeof(v));
    for (int i = 0; i < kLanes; ++i) acc[i] += v[i];
  }
  for (; j < count; ++j) acc[j % kLanes] += x[j];
  for (int i = 0; i < kLanes; ++i) sums[i] += acc[i];
}

// squares[i] += (x[j] - mean[i])^2 for j = i (mod kLanes), j < count, in double.
MINDCV_VECTORIZED void SquaredDeviationLanes(const float *x, int64_t count, const double *mean, double *squares) {
  double acc[kLanes] = {}, m[kLanes];
  std::memcpy(m, mean, sizeof(m));
  int64_t j = 0;
  for (; j + kLanes <= count; j += kLanes) {
    float v[kLanes];
    std::memcpy(v, x + j, sizeof(v));
    for (int i = 0; i < kLanes; ++i) acc[i] += (v[i] - m[i]) * (v[i] - m[i]);
  }
  for (; j < count; ++j) acc[j % kLanes] += (x[j] - m[j % kLanes]) * (x[j] - m[j % kLanes]);
  for (int i = 0; i < kLanes; ++i) squares[i] += acc[i];
}

// y[j] = max((x[j] - mean) * scale + beta, 0) for j < count: BatchNorm (given statistics) and ReLU.
MINDCV_VECTORIZED void NormalizeRelu(const float *x, float *y, int64_t count, const Lanes &lanes) {
  int64_t j = 0;
  for (; j + kLanes <= count; j += kLanes) {
    float v[kLanes];
    std::memcpy(v, x + j, sizeof(v));
    for (int i = 0; i < kLanes; ++i) v[i] = std::max((v[i] - lanes.mean[i]) * lanes.scale[i] + lanes.beta[i], 0.f);
    std::memcpy(y + j, v, sizeof(v));
  }
  for (; j < count; ++j) {
    const int i = static_cast<int>(j % kLanes);
    y[j] = std::max((x[j] - lanes.mean[i]) * lanes.scale[i] + lanes.beta[i], 0.f);
  }
}

// d[j] = g[j] where (x[j] - mean) * scale + beta, x's BatchNorm, is positive, else 0, for
// j < count: the ReLU's gradient; and, per lane i (j = i mod kLanes), in double, sum_g[i] += d[j]
// and sum_gx[i] += d[j] * (x[j] - mean): the two sums the BatchNorm's backward needs. g and d
// may be one array.
MINDCV_VECTORIZED void ReluGradientSums(const float *x, const float *g, float *d, int64_t count, const Lanes &lanes,
                                        double *sum_g, double *sum_gx) {
  // float partial sums over runs of kRun blocks, added to double ones after each run: a double
  // in the inner loop keeps the compiler from vectorizing it (measured: scalar code, 20% slower
  // training), and a float sum of kRun values loses nothing measurable
  constexpr int kRun = 64;
  double total_g[kLanes] = {}, total_gx[kLanes] = {};
  float acc_g[kLanes] = {}, acc_gx[kLanes] = {};
  const auto flush = [&] {
    for (int i = 0; i < kLanes; ++i) total_g[i] += acc_g[i], total_gx[i] += acc_gx[i], acc_g[i] = acc_gx[i] = 0.f;
  };
  int64_t j = 0;
  for (int run = 1; j + kLanes <= count; j += kLanes, ++run) {
    float v[kLanes], in[kLanes];
    std::memcpy(v, g + j, sizeof(v));  // loaded whole, so the selection below is branch-free
    std::memcpy(in, x + j, sizeof(in));
    for (int i = 0; i < kLanes; ++i) {
      const float centered = in[i] - lanes.mean[i];
      v[i] = centered * lanes.scale[i] + lanes.beta[i] > 0.f ? v[i] : 0.f;
      acc_g[i] += v[i];
      acc_gx[i] += v[i] * centered;
    }
    std::memcpy(d + j, v, sizeof(v));
    if (run == kRun) flush(), run = 0;
  }
  for (; j < count; ++j) {
    const int i = static_cast<int>(j % kLanes);
    const float centered = x[j] - lanes.mean[i];
    d[j] = centered * lanes.scale[i] + lanes.beta[i] > 0.f ? g[j] : 0.f;
    acc_g[i] += d[j], acc_gx[i] += d[j] * centered;
  }
  flush();
  for (int i = 0; i < kLanes; ++i) sum_g[i] += total_g[i], sum_gx[i] += total_gx[i];
}

// Per-channel constants of the BatchNorm's input gradient, repeating every kLanes values.
struct GradientLanes {
  float mean[kLanes], scale[kLanes], mean_g[kLanes], slope[kLanes];
};

// d[j] = (d[j] - mean_g - (x[j] - mean) * slope) * scale for j < count: the BatchNorm's input
// gradient (batch statistics) from the gradient of its output, in place, as oneDNN computes it:
// scale = gamma / sqrt(var + eps), mean_g = sum(dy) / M, slope = sum(dy * (x - mean)) / (M (var
// + eps)), M values per channel.
MINDCV_VECTORIZED void BatchNormGradient(const float *x, float *d, int64_t count, const GradientLanes &lanes) {
  int64_t j = 0;
  for (; j + kLanes <= count; j += kLanes) {
    float v[kLanes], in[kLanes];
    std::memcpy(v, d + j, sizeof(v));
    std::memcpy(in, x + j, sizeof(in));
    for (int i = 0; i < kLanes; ++i)
      v[i] = (v[i] - lanes.mean_g[i] - (in[i] - lanes.mean[i]) * lanes.slope[i]) * lanes.scale[i];
    std::memcpy(d + j, v, sizeof(v));
  }
  for (; j < count; ++j) {
    const int i = static_cast<int>(j % kLanes);
    d[j] = (d[j] - lanes.mean_g[i] - (x[j] - lanes.mean[i]) * lanes.slope[i]) * lanes.scale[i];
  }
}

// The BatchNorm of the concatenation, computed on the chunks themselves: its batch statistics
// (Compute), then per plane of a slice of images the BN-ReLU output (Apply) or the ReLU's
// gradient (ReluGradientToChunks), with oneDNN's formula, (x - mean) * gamma / sqrt(var + eps)
// + beta. So the concatenation is never built whole: a slice at a time, in the op's scratch.
struct ChunkNorm {
  const Layer &l;
  void **chunks;
  const float *gamma, *beta, *mean, *var;
  float eps;
  // Per plane of the concatenation (C/B per image; C for NCHW), each a run of H x W x B values
  // of one chunk: that chunk, and the plane's place in it.
  std::vector<int> chunk_of;
  std::vector<int64_t> plane_in_chunk;

  ChunkNorm(const Layer &layer, void **d, const float *mean_in, const float *var_in)
      : l(layer),
        chunks(d),
        gamma(static_cast<const float *>(d[layer.chunks])),
        beta(static_cast<const float *>(d[layer.chunks + 1])),
        mean(mean_in),
        var(var_in),
        eps(static_cast<const float *>(d[layer.chunks + 3])[0]) {
    for (int i = 0; i < layer.chunks; ++i)
      for (int64_t p = 0; p < layer.channels[i] / layer.block; ++p) chunk_of.push_back(i), plane_in_chunk.push_back(p);
  }
  int64_t planes() const { return static_cast<int64_t>(chunk_of.size()); }
  int64_t values() const { return l.pixels * l.block; }  // per plane
  // Where image n's plane q is in its chunk.
  const float *Source(int64_t n, int64_t q) const {
    const int i = chunk_of[q];
    return static_cast<const float *>(chunks[i]) + (n * l.channels[i] / l.block + plane_in_chunk[q]) * values();
  }
  Lanes LanesOf(int64_t q) const {
    Lanes lanes;
    for (int lane = 0; lane < kLanes; ++lane) {
      const int64_t c = q * l.block + lane % l.block;
      lanes.mean[lane] = mean[c];
      lanes.scale[lane] = gamma[c] * (1.f / std::sqrt(var[c] + eps));
      lanes.beta[lane] = beta[c];
    }
    return lanes;
  }

  // The mean and biased variance of every channel over the batch (two passes, in double, as
  // oneDNN's BatchNorm: the mean first, then the squared deviations from it) into out_mean and
  // out_var, from plane `first_plane` on (the earlier ones' are known).
  void Compute(float *out_mean, float *out_var, int64_t first_plane = 0) const {
    const int64_t n = l.first.dims[0], b = l.block;
    const double count = static_cast<double>(n * l.pixels);
    GetEngine()->pool.parallel_for(static_cast<int>(planes() - first_plane), [&](int task, int) {
      const int64_t q = first_plane + task;
      double sums[kLanes] = {}, squares[kLanes] = {}, lane_mean[kLanes];
      for (int64_t i = 0; i < n; ++i) SumLanes(Source(i, q), values(), sums);
      double channel_mean[kLanes] = {};  // per channel of the plane: lanes l, l + B, ... share one
      for (int lane = 0; lane < kLanes; ++lane) channel_mean[lane % b] += sums[lane] / count;
      for (int lane = 0; lane < kLanes; ++lane) lane_mean[lane] = channel_mean[lane % b];
      for (int64_t i = 0; i < n; ++i) SquaredDeviationLanes(Source(i, q), values(), lane_mean, squares);
      double channel_var[kLanes] = {};
      for (int lane = 0; lane < kLanes; ++lane) channel_var[lane % b] += squares[lane] / count;
      for (int64_t c = 0; c < b; ++c) {
        out_mean[q * b + c] = static_cast<float>(channel_mean[c]);
        out_var[q * b + c] = static_cast<float>(channel_var[c]);
      }
    });
  }

  // Images n0 .. n0 + count - 1 of the concatenation's BN-ReLU output into `normed`.
  void Apply(int64_t n0, int64_t count, float *normed) const {
    GetEngine()->pool.parallel_for(static_cast<int>(count * planes()), [&](int task, int) {
      const int64_t n = task / planes(), q = task % planes();
      NormalizeRelu(Source(n0 + n, q), normed + (n * planes() + q) * values(), values(), LanesOf(q));
    });
  }

  // For images n0 .. n0 + count - 1: each chunk's part of `grad` (the gradient of the
  // concatenation's BN-ReLU output, those images) where the ReLU passed, 0 elsewhere, into that
  // chunk's gradient (which may be `grad` itself with one chunk); per channel c, the sums of that
  // gradient and of it times (x - mean) added to sums[c] and sums[C + c] (2 C doubles).
  void ReluGradientToChunks(int64_t n0, int64_t count, const float *grad, void **dchunks, double *sums) const {
    const int64_t b = l.block;
    GetEngine()->pool.parallel_for(static_cast<int>(planes()), [&](int q, int) {  // a plane's sums in one task
      double sum_g[kLanes] = {}, sum_gx[kLanes] = {};
      const Lanes lanes = LanesOf(q);
      for (int64_t n = 0; n < count; ++n) {
        const float *x = Source(n0 + n, q);
        float *d = static_cast<float *>(dchunks[chunk_of[q]]) + (x - static_cast<const float *>(chunks[chunk_of[q]]));
        ReluGradientSums(x, grad + (n * planes() + q) * values(), d, values(), lanes, sum_g, sum_gx);
      }
      for (int lane = 0; lane < kLanes; ++lane)
        sums[q * b + lane % b] += sum_g[lane], sums[l.total + q * b + lane % b] += sum_gx[lane];
    });
  }

  // The BatchNorm's backward, in place in the chunks' gradients (the ReLU's, from
  // ReluGradientToChunks over the whole batch, with its `sums`), reading x from the chunks;
  // dgamma and dbeta from the sums. `fixed`: the statistics are constants (eval mode), so the
  // input gradient is the ReLU's times gamma / sqrt(var + eps), without the batch terms.
  void BatchNormGradientOfChunks(void **dchunks, const double *sums, float *dgamma, float *dbeta, bool fixed) const {
    const int64_t n = l.first.dims[0], b = l.block;
    const double count = static_cast<double>(n * l.pixels);
    for (int64_t c = 0; c < l.total; ++c) {
      const double inv_std = 1.0 / std::sqrt(static_cast<double>(var[c]) + eps);
      dgamma[c] = static_cast<float>(sums[l.total + c] * inv_std);
      dbeta[c] = static_cast<float>(sums[c]);
    }
    GetEngine()->pool.parallel_for(static_cast<int>(n * planes()), [&](int task, int) {
      const int64_t image = task / planes(), q = task % planes();
      GradientLanes lanes;
      for (int lane = 0; lane < kLanes; ++lane) {
        const int64_t c = q * b + lane % b;
        const double variance = static_cast<double>(var[c]) + eps;
        lanes.mean[lane] = mean[c];
        lanes.scale[lane] = static_cast<float>(gamma[c] / std::sqrt(variance));
        lanes.mean_g[lane] = fixed ? 0.f : static_cast<float>(sums[c] / count);
        lanes.slope[lane] = fixed ? 0.f : static_cast<float>(sums[l.total + c] / (count * variance));
      }
      const float *x = Source(image, q);
      float *d = static_cast<float *>(dchunks[chunk_of[q]]) + (x - static_cast<const float *>(chunks[chunk_of[q]]));
      BatchNormGradient(x, d, values(), lanes);
    });
  }
};

// The batch in slices of at most l.slice images: fn(first image, images).
template <typename Fn>
bool ForEachSlice(const Layer &l, Fn fn) {
  for (int64_t n0 = 0; n0 < l.first.dims[0]; n0 += l.slice)
    if (!fn(n0, std::min(l.slice, l.first.dims[0] - n0))) return false;
  return true;
}

int Forward(const Params &p, Variant v) {
  // 5 inputs more than the chunks, then y, mean, var: known_mean, known_var inputs with `known`,
  // the convolution's input an output with `stored`; `fixed`: mean and var inputs, y the output
  const int known = v.known ? 2 : 0, k = p.count - 8 - known - (v.stored ? 1 : 0);
  Layer l;
  if (const char *why = l.Read(p, k, v)) return Fail(why);
  const int y = v.fixed ? k + 7 : k + 5 + known, conv_in_out = y + 3;
  const int mean = v.fixed ? k + 5 : y + 1, var = mean + 1;
  if (!l.first.Matches(p, y, l.out, l.out_h, l.out_w) || !p.Is(mean, {l.total}) || !p.Is(var, {l.total}))
    return Fail("y, mean or var is not shaped as the bottleneck's output and statistics");
  if (v.stored && !l.first.Matches(p, conv_in_out, l.total, l.out_h, l.out_w))
    return Fail("the stored convolution input is not shaped as the chunks' concatenation (pooled by a transition)");
  const int64_t prefix = v.known ? l.total - l.channels.back() : 0;  // channels of known statistics
  if (v.known && (k < 2 || !p.Is(k + 5, {prefix}) || !p.Is(k + 6, {prefix})))
    return Fail("known_mean or known_var is not a float32 vector of the channels before the last chunk");
  const bool normed_stored = v.stored && !v.pool, pooled_stored = v.stored && v.pool;
  Scratch scratch({normed_stored ? 0 : l.slice * l.ConcatBytes(), pooled_stored ? 0 : l.slice * l.PooledBytes()});
  if (!scratch.ok()) return Fail("out of memory for its scratch");
  void **d = p.data;
  float *normed = normed_stored ? static_cast<float *>(d[conv_in_out]) : reinterpret_cast<float *>(scratch[0]);
  float *pooled = pooled_stored ? static_cast<float *>(d[conv_in_out]) : reinterpret_cast<float *>(scratch[1]);
  float *batch_mean = static_cast<float *>(d[mean]), *batch_var = static_cast<float *>(d[var]);
  const ChunkNorm norm(l, d, batch_mean, batch_var);
  if (v.known) {  // the earlier chunks' statistics, as the previous layer computed them
    std::memcpy(batch_mean, d[k + 5], prefix * sizeof(float));
    std::memcpy(batch_var, d[k + 6], prefix * sizeof(float));
  }
  if (!v.fixed) norm.Compute(batch_mean, batch_var, prefix / l.block);
  const size_t y_image = static_cast<size_t>(l.out * l.out_h * l.out_w);  // values of y per image
  const bool ok = ForEachSlice(l, [&](int64_t n0, int64_t count) {
    norm.Apply(n0, count, normed);
    float *conv_in = normed;
    if (v.pool) Pooling(l, count).Forward(normed, conv_in = pooled + (pooled_stored ? n0 * l.ConvInputValues() : 0));
    return Call(mindcv_conv_forward, {{conv_in, l.Shape(l.total, l.out_h, l.out_w, count)},
                                      {d[k + 2], l.WeightShape()},
                                      {d[k + 4], {3}, "int32"},
                                      {static_cast<float *>(d[y]) + n0 * y_image, l.Shape(l.out, l.out_h, l.out_w, count)}});
  });
  return ok ? 0 : Fail("its convolution failed");
}

int Backward(const Params &p, Variant v) {
  // between conv_cfg and dy: mean and var (stored or fixed), then the convolution's input (stored)
  const int between = v.stored ? 3 : v.fixed ? 2 : 0;
  const int k = (p.count - 9 - between) / 2;  // K chunks, 6 (+between) more inputs; K gradients, 3 more
  Layer l;
  if (p.count < 11 + between || (p.count - between) % 2 == 0) return Fail("wrong parameter count");
  if (const char *why = l.Read(p, k, v)) return Fail(why);
  const int dy = k + 5 + between, dchunk = dy + 1, dgamma = dchunk + k, dbeta = dgamma + 1, dw = dgamma + 2;
  if (!l.first.Matches(p, dy, l.out, l.out_h, l.out_w)) return Fail("dy is not shaped as y");
  if ((v.stored || v.fixed) && (!p.Is(k + 5, {l.total}) || !p.Is(k + 6, {l.total})))
    return Fail("mean or var is not a float32 vector of C elements");
  if (v.stored && !l.first.Matches(p, k + 7, l.total, l.out_h, l.out_w))
    return Fail("the stored convolution input is not shaped as the forward's output");
  for (int i = 0; i < k; ++i)
    if (!p.SameAs(dchunk + i, i)) return Fail("a chunk's gradient is not shaped as the chunk");
  if (!p.Is(dgamma, {l.total}) || !p.Is(dbeta, {l.total}) || !p.SameAs(dw, k + 2))
    return Fail("dgamma, dbeta or dw is not shaped as gamma, beta or w");
  // Per slice of the batch: the BN-ReLU output of its images' concatenation in `normed` (pooled
  // into `pooled` by a transition), which the convolution's backward reads; then the gradient of
  // that input (in `grad_buffer`, unpooled there by a transition), which ReluGradientToChunks
  // turns into the chunks' gradients where the ReLU passed, summing per channel what the
  // BatchNorm's backward needs. The weights' gradient is summed over the slices (`dw_slice`).
  // The BatchNorm's backward then runs in place in the chunks' gradients (BatchNorm is per
  // channel, so that is the concatenation's), reading x from the chunks themselves: one pass, as
  // the sums are already there. Stored: the forward's statistics and the convolution's input are
  // inputs (the BN-ReLU output read for the whole batch at once).
  const size_t vector_bytes = static_cast<size_t>(l.total) * sizeof(float);
  const size_t weight_values = static_cast<size_t>(l.out * l.total * l.size * l.size);
  Scratch scratch({l.slice * l.ConcatBytes(), l.slice * l.PooledBytes(), 2 * vector_bytes, 2 * l.total * sizeof(double),
                   weight_values * sizeof(float)});
  if (!scratch.ok()) return Fail("out of memory for its scratch");
  void **d = p.data;
  float *normed = reinterpret_cast<float *>(scratch[0]), *pooled = reinterpret_cast<float *>(scratch[1]);
  float *grad_buffer = normed;  // the input's gradient, once the convolution's backward has read its input
  float *stored_conv_in = v.stored ? static_cast<float *>(d[k + 7]) : nullptr;
  float *mean = reinterpret_cast<float *>(scratch[2]), *var = mean + l.total, *dw_slice = reinterpret_cast<float *>(scratch[4]);
  if (v.stored || v.fixed) mean = static_cast<float *>(d[k + 5]), var = static_cast<float *>(d[k + 6]);
  double *sums = reinterpret_cast<double *>(scratch[3]);  // per channel: of the ReLU's gradient, and times x - mean
  std::fill(sums, sums + 2 * l.total, 0.0);
  const ChunkNorm norm(l, d, mean, var);
  if (!v.stored && !v.fixed) norm.Compute(mean, var);
  const std::vector<int64_t> w_shape = l.WeightShape();
  const Arg w{d[k + 2], w_shape}, conv_cfg{d[k + 4], {3}, "int32"};
  float *dw_total = static_cast<float *>(d[dw]);
  const size_t y_image = static_cast<size_t>(l.out * l.out_h * l.out_w);
  const size_t x_image = static_cast<size_t>(l.channels[0] * l.pixels);  // of the one chunk, when k == 1
  bool ok = ForEachSlice(l, [&](int64_t n0, int64_t count) {
    float *conv_in = stored_conv_in ? stored_conv_in + n0 * l.ConvInputValues() : normed;
    if (!v.stored) norm.Apply(n0, count, normed);
    if (!v.stored && v.pool) Pooling(l, count).Forward(normed, conv_in = pooled);
    const std::vector<int64_t> in_shape = l.Shape(l.total, l.out_h, l.out_w, count);
    const Arg dy_arg{static_cast<float *>(d[dy]) + n0 * y_image, l.Shape(l.out, l.out_h, l.out_w, count)};
    // the convolution's input gradient: over its input (read for its shape only by then), or,
    // with one chunk and no pool, straight into the chunk's gradient
    float *dconv_in = v.pool ? pooled : k == 1 ? static_cast<float *>(d[dchunk]) + n0 * x_image : grad_buffer;
    float *dw_out = n0 == 0 ? dw_total : dw_slice;
    if (!Call(mindcv_conv_backward_weights, {{conv_in, in_shape}, w, dy_arg, conv_cfg, {dw_out, w_shape}}) ||
        !Call(mindcv_conv_backward_data, {{conv_in, in_shape}, w, dy_arg, conv_cfg, {dconv_in, in_shape}}))
      return false;
    if (n0 != 0)
      for (size_t i = 0; i < weight_values; ++i) dw_total[i] += dw_slice[i];
    const float *grad = dconv_in;
    if (v.pool) Pooling(l, count).Backward(pooled, grad_buffer), grad = grad_buffer;
    norm.ReluGradientToChunks(n0, count, grad, d + dchunk, sums);
    return true;
  });
  if (!ok) return Fail("its convolution failed");
  norm.BatchNormGradientOfChunks(d + dchunk, sums, static_cast<float *>(d[dgamma]), static_cast<float *>(d[dbeta]),
                                 v.fixed);
  return 0;
}

}  // namespace

extern "C" {

int mindcv_dense_bottleneck(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  return Forward({n, params, ndims, shapes, dtypes}, {});
}

int mindcv_dense_bottleneck_backward(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                                     void *) {
  return Backward({n, params, ndims, shapes, dtypes}, {});
}

int mindcv_dense_transition(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  return Forward({n, params, ndims, shapes, dtypes}, {/*pool=*/true});
}

int mindcv_dense_transition_backward(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                                     void *) {
  return Backward({n, params, ndims, shapes, dtypes}, {/*pool=*/true});
}

int mindcv_dense_bottleneck_stored(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                                   void *) {
  return Forward({n, params, ndims, shapes, dtypes}, {/*pool=*/false, /*stored=*/true});
}

int mindcv_dense_bottleneck_stored_known(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                                         void *, void *) {
  return Forward({n, params, ndims, shapes, dtypes}, {/*pool=*/false, /*stored=*/true, /*known=*/true});
}

int mindcv_dense_transition_stored(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                                   void *) {
  return Forward({n, params, ndims, shapes, dtypes}, {/*pool=*/true, /*stored=*/true});
}

int mindcv_dense_transition_stored_known(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                                         void *, void *) {
  return Forward({n, params, ndims, shapes, dtypes}, {/*pool=*/true, /*stored=*/true, /*known=*/true});
}

int mindcv_dense_transition_stored_backward(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                                            void *, void *) {
  return Backward({n, params, ndims, shapes, dtypes}, {/*pool=*/true, /*stored=*/true});
}

int mindcv_dense_bottleneck_fixed(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                                  void *) {
  return Forward({n, params, ndims, shapes, dtypes}, {/*pool=*/false, /*stored=*/false, /*known=*/false, /*fixed=*/true});
}

int mindcv_dense_bottleneck_fixed_backward(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                                           void *, void *) {
  return Backward({n, params, ndims, shapes, dtypes}, {/*pool=*/false, /*stored=*/false, /*known=*/false, /*fixed=*/true});
}

int mindcv_dense_transition_fixed(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                                  void *) {
  return Forward({n, params, ndims, shapes, dtypes}, {/*pool=*/true, /*stored=*/false, /*known=*/false, /*fixed=*/true});
}

int mindcv_dense_transition_fixed_backward(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                                           void *, void *) {
  return Backward({n, params, ndims, shapes, dtypes}, {/*pool=*/true, /*stored=*/false, /*known=*/false, /*fixed=*/true});
}

int mindcv_dense_bottleneck_stored_backward(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                                            void *, void *) {
  return Backward({n, params, ndims, shapes, dtypes}, {/*pool=*/false, /*stored=*/true});
}

}  // extern "C"
