// DenseNet's memory-efficient bottleneck, concat -> BatchNorm (batch statistics) -> ReLU ->
// convolution, for MindSpore `ops.Custom(func_type="aot")` on CPU via oneDNN. A dense layer runs
// it twice: on its chunks with conv1 (1x1), then on conv1's output alone with conv2 (3x3).
//
// Why: a dense layer's input is the concatenation of the block input and every earlier layer's
// output. Stored, those concatenations and their BN-ReLU outputs make training memory grow with
// the square of the depth. These ops take the chunks themselves and build the concatenation and
// the BN-ReLU output in scratch memory they do not return, so MindSpore keeps only the chunks
// (once) between forward and backward; the backward op rebuilds both from the chunks
// (torchvision's memory_efficient=True, which also keeps the 3x3 convolution's input: here the
// second call rebuilds that from conv1's output too, so a layer keeps 128 + 32 channels, not
// 288). The arithmetic is the library's own BatchNorm and convolution entry points
// (batch_norm.cc, conv2d.cc) on that scratch, so the results equal the stored path's. Entry
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
// gamma, beta, mean, var: C elements (mean and the biased var of the batch); w: (O, C, S, S), S
// odd; bn_cfg: float32 {epsilon, relu} as batch_norm.cc's (relu must be 1); conv_cfg: int32
// {stride, padding, bf16} as conv2d.cc's (stride 1, padding S / 2: the convolution keeps its
// input's H and W). The scratch is the ops' own (Scratch says how it is kept): one
// concatenation-sized buffer, a quarter-sized one for a transition, and small ones; the shared
// pool would keep the largest of each between calls (onednn_runtime.h), hundreds of MB at batch
// 64. The caller updates the moving statistics. Every shape and dtype is
// checked first: on a mismatch the call writes nothing and returns 1, the reason on stderr.

#include <sys/mman.h>

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <numeric>
#include <vector>

#include "onednn_runtime.h"

extern "C" {  // the library's own entry points (batch_norm.cc, conv2d.cc)
int mindcv_bn_forward(int, void **, int *, int64_t **, const char **, void *, void *);
int mindcv_bn_backward(int, void **, int *, int64_t **, const char **, void *, void *);
int mindcv_conv_forward(int, void **, int *, int64_t **, const char **, void *, void *);
int mindcv_conv_backward_data(int, void **, int *, int64_t **, const char **, void *, void *);
int mindcv_conv_backward_weights(int, void **, int *, int64_t **, const char **, void *, void *);
int64_t mindcv_bn_relu_workspace_bytes(int64_t, int64_t, int64_t, int64_t, int64_t);
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

// What both entry points read: the chunks, the parameters, the configuration, checked.
struct Layer {
  int chunks = 0;
  Activation first;                // chunk 1: N, H, W and the layout every chunk shares
  std::vector<int64_t> channels;   // per chunk
  int64_t total = 0, out = 0;      // C and O
  int64_t size = 1;                // S, the convolution's kernel side
  bool pool = false;               // a 2x2 average pool before the convolution (a transition)
  int64_t out_h = 0, out_w = 0;    // the convolution's H and W: x's, halved when pooled
  std::vector<int64_t> concat_shape, conv_in_shape, y_shape;
  size_t concat_bytes = 0, pooled_bytes = 0, ws_bytes = 0;  // ws: BN-ReLU's workspace, a bit per element

  // The shape of `c` channels of h x w (default: the chunks') in the chunks' layout.
  std::vector<int64_t> Shape(int64_t c, int64_t h = 0, int64_t w = 0) const {
    const int64_t *d = first.dims;
    h = h ? h : d[2], w = w ? w : d[3];
    if (!first.block) return {d[0], c, h, w};
    return {d[0], c / first.block, h, w, first.block};
  }

  // Reads and checks the inputs (chunks at 0..K-1, then gamma, beta, w, bn_cfg, conv_cfg);
  // nullptr or why not.
  const char *Read(const Params &p, int k, bool pooled) {
    chunks = k, pool = pooled;
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
    const int64_t ws = mindcv_bn_relu_workspace_bytes(d[0], total, d[2], d[3], first.block);
    if (ws < 1) return "oneDNN has no BatchNorm-ReLU for the concatenation";
    out_h = pool ? d[2] / 2 : d[2], out_w = pool ? d[3] / 2 : d[3];
    concat_shape = Shape(total), conv_in_shape = Shape(total, out_h, out_w), y_shape = Shape(out, out_h, out_w);
    concat_bytes = static_cast<size_t>(d[0] * total * d[2] * d[3]) * sizeof(float);
    pooled_bytes = pool ? static_cast<size_t>(d[0] * total * out_h * out_w) * sizeof(float) : 0;
    ws_bytes = static_cast<size_t>(ws);
    return nullptr;
  }

  // The weight's shape, (O, C, S, S).
  std::vector<int64_t> WeightShape() const { return {out, total, size, size}; }

  // Copies the chunks into `concat`, or `concat` back out to them (`split`). Per image a chunk
  // is contiguous in both layouts (its C x H x W values, blocks included), so each is one copy.
  void Concat(void **chunk_data, char *concat, bool split) const {
    const size_t pixel = static_cast<size_t>(first.dims[2] * first.dims[3]) * sizeof(float);
    for (int64_t n = 0; n < first.dims[0]; ++n) {
      char *at = concat + n * total * pixel;
      for (int i = 0; i < chunks; ++i) {
        char *chunk = static_cast<char *>(chunk_data[i]) + n * channels[i] * pixel;
        split ? std::memcpy(chunk, at, channels[i] * pixel) : std::memcpy(at, chunk, channels[i] * pixel);
        at += channels[i] * pixel;
      }
    }
  }
};

// The pooling of a transition on tensors of the chunks' layout, seen as N x C/B planes (N x C
// for NCHW) of H x W pixels of B values (1 for NCHW): each output value is the mean of a 2x2
// window, stride 2, as MindSpore's AvgPool2d(2, 2); an odd last row or column is in no window.
struct Pooling {
  int64_t planes, h, w, oh, ow, b;

  explicit Pooling(const Layer &l)
      : planes(l.first.dims[0] * l.total / (l.first.block ? l.first.block : 1)),
        h(l.first.dims[2]),
        w(l.first.dims[3]),
        oh(l.out_h),
        ow(l.out_w),
        b(l.first.block ? l.first.block : 1) {}

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

// BN-ReLU of x (the concatenation, or the one chunk) into `normed` (which may be x: oneDNN's
// BatchNorm runs in place), the batch statistics into `mean` and `var`, the ReLU's workspace
// into `ws`: the forward pass up to the convolution.
bool Normalize(const Layer &l, void **d, void *x, void *normed, void *mean, void *var, void *ws) {
  const int k = l.chunks;
  return Call(mindcv_bn_forward, {{x, l.concat_shape},
                                  {d[k], {l.total}},
                                  {d[k + 1], {l.total}},
                                  {d[k + 3], {2}},
                                  {normed, l.concat_shape},
                                  {mean, {l.total}},
                                  {var, {l.total}},
                                  {ws, {static_cast<int64_t>(l.ws_bytes)}, "uint8"}});
}

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
// call needs more and shrunk to fit when a call needs less than half of it, so between calls it
// holds at most twice the last call's scratch (the layers of a block grow by a few channels each;
// the blocks after a transition are a quarter of the size). A call that finds the kept region in
// use (MindSpore may run two kernels at once) maps a region of its own for the call.
class Scratch {
 public:
  explicit Scratch(std::initializer_list<size_t> parts) {
    size_t total = 0;
    for (size_t bytes : parts) offsets_.push_back(total), total += (bytes + 63) / 64 * 64;
    {
      std::lock_guard<std::mutex> lock(kept_.mu);
      region_ = kept_.busy ? &own_ : &kept_.region;
      kept_.busy = true;
    }
    const size_t size = region_->size;
    ok_ = (size >= total && total >= size / 2) || region_->Resize(total);
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
  };
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

// d[j] = g[j] where the BatchNorm of x[j], (x[j] - mean) * scale + beta, is positive, else 0, for
// j < count: the ReLU's gradient. g and d may be one array. Compiled for AVX-512, AVX2 and the
// baseline, chosen at load time by the CPU (the library is built once for every CPU); the inner
// loop of kLanes is what the compiler vectorizes.
__attribute__((target_clones("avx512f", "avx2", "default"))) void ReluGradient(const float *x, const float *g,
                                                                                  float *d, int64_t count,
                                                                                  const Lanes &lanes) {
  int64_t j = 0;
  for (; j + kLanes <= count; j += kLanes) {
    float v[kLanes];
    std::memcpy(v, g + j, sizeof(v));  // loaded whole, so the selection below is branch-free
    for (int i = 0; i < kLanes; ++i)
      v[i] = (x[j + i] - lanes.mean[i]) * lanes.scale[i] + lanes.beta[i] > 0.f ? v[i] : 0.f;
    std::memcpy(d + j, v, sizeof(v));
  }
  for (; j < count; ++j) {
    const int i = static_cast<int>(j % kLanes);
    d[j] = (x[j] - lanes.mean[i]) * lanes.scale[i] + lanes.beta[i] > 0.f ? g[j] : 0.f;
  }
}

// Each chunk's part of `grad` (the gradient of the concatenation's BN-ReLU output) where the ReLU
// passed, 0 elsewhere, into that chunk's gradient (which may be `grad` itself with one chunk).
// Where it passed is recomputed from the chunks, the batch statistics and gamma, beta, eps as
// oneDNN's BatchNorm computes its output; a mask taken from that output instead cost a scalar
// pass over the concatenation and a buffer (a third of the memory-efficient step, profiled).
void ReluGradientToChunks(const Layer &l, void **chunks, const float *gamma, const float *beta, const float *mean,
                          const float *var, float eps, const float *grad, void **dchunks) {
  const int64_t b = l.first.block ? l.first.block : 1, pixels = l.first.dims[2] * l.first.dims[3];
  const int64_t planes = l.total / b;  // of the concatenation, per image
  std::vector<int> chunk_of(planes);   // each plane's chunk, and its first plane
  std::vector<int64_t> first_plane(l.chunks);
  for (int i = 0, at = 0; i < l.chunks; ++i) {
    first_plane[i] = at;
    for (int64_t q = 0; q < l.channels[i] / b; ++q) chunk_of[at++] = i;
  }
  GetEngine()->pool.parallel_for(static_cast<int>(l.first.dims[0] * planes), [&](int task, int) {
    const int64_t n = task / planes, q = task % planes;
    const int i = chunk_of[q];
    Lanes lanes;
    for (int lane = 0; lane < kLanes; ++lane) {
      const int64_t c = q * b + lane % b;
      lanes.mean[lane] = mean[c];
      lanes.scale[lane] = gamma[c] * (1.f / std::sqrt(var[c] + eps));
      lanes.beta[lane] = beta[c];
    }
    const int64_t values = pixels * b, at = (n * l.channels[i] / b + q - first_plane[i]) * values;
    ReluGradient(static_cast<const float *>(chunks[i]) + at, grad + (n * planes + q) * values,
                 static_cast<float *>(dchunks[i]) + at, values, lanes);
  });
}

int Forward(const Params &p, bool pool) {
  const int k = p.count - 8;  // K chunks, 5 more inputs, 3 outputs
  Layer l;
  if (const char *why = l.Read(p, k, pool)) return Fail(why);
  const int y = k + 5, mean = k + 6, var = k + 7;
  if (!l.first.Matches(p, y, l.out, l.out_h, l.out_w) || !p.Is(mean, {l.total}) || !p.Is(var, {l.total}))
    return Fail("y, mean or var is not shaped as the bottleneck's output and statistics");
  Scratch scratch({l.concat_bytes, l.ws_bytes, l.pooled_bytes});
  if (!scratch.ok()) return Fail("out of memory for its scratch");
  char *normed = scratch[0], *ws = scratch[1], *pooled = scratch[2];  // normed: the concatenation, normalized in place
  void **d = p.data;
  void *x = normed;
  if (k == 1) x = d[0];  // one chunk: normalized from where it is, not copied
  else l.Concat(d, normed, false);
  if (!Normalize(l, d, x, normed, d[mean], d[var], ws)) return Fail("its BatchNorm failed");
  char *conv_in = normed;
  if (pool) {
    Pooling(l).Forward(reinterpret_cast<float *>(normed), reinterpret_cast<float *>(pooled));
    conv_in = pooled;
  }
  const bool ok = Call(mindcv_conv_forward, {{conv_in, l.conv_in_shape},
                                             {d[k + 2], l.WeightShape()},
                                             {d[k + 4], {3}, "int32"},
                                             {d[y], l.y_shape}});
  return ok ? 0 : Fail("its convolution failed");
}

int Backward(const Params &p, bool pool) {
  const int k = (p.count - 9) / 2;  // K chunks, 6 more inputs; K gradients, 3 more
  Layer l;
  if (p.count < 11 || p.count % 2 == 0) return Fail("wrong parameter count");
  if (const char *why = l.Read(p, k, pool)) return Fail(why);
  const int dy = k + 5, dchunk = k + 6, dgamma = 2 * k + 6, dbeta = 2 * k + 7, dw = 2 * k + 8;
  if (!l.first.Matches(p, dy, l.out, l.out_h, l.out_w)) return Fail("dy is not shaped as y");
  for (int i = 0; i < k; ++i)
    if (!p.SameAs(dchunk + i, i)) return Fail("a chunk's gradient is not shaped as the chunk");
  if (!p.Is(dgamma, {l.total}) || !p.Is(dbeta, {l.total}) || !p.SameAs(dw, k + 2))
    return Fail("dgamma, dbeta or dw is not shaped as gamma, beta or w");
  const int64_t *dims = l.first.dims;
  const size_t vector_bytes = static_cast<size_t>(l.total) * sizeof(float);
  size_t chunk_ws_bytes = 0;  // the BN backward of one chunk wants a ws (unused without relu)
  for (int64_t c : l.channels) {
    const int64_t ws = mindcv_bn_relu_workspace_bytes(dims[0], c, dims[2], dims[3], l.first.block);
    if (ws < 1) return Fail("oneDNN has no BatchNorm for a chunk");
    chunk_ws_bytes = std::max(chunk_ws_bytes, static_cast<size_t>(ws));
  }
  // One concatenation-sized buffer, `normed`: the BN-ReLU output the convolution's backward
  // reads (a transition pools it into `pooled` first), then the gradient of the concatenation
  // (a transition's convolution writes its gradient over `pooled`, unpooled into `normed`). The
  // ReLU's gradient is recomputed from the chunks (ReluGradientToChunks). The BatchNorm's backward then
  // runs per chunk, in place in the chunks' gradients (BatchNorm is per channel, so that is the
  // concatenation's), reading x from the chunks themselves: no copy of the concatenation is
  // needed after the convolution's backward. With one chunk the gradient goes straight to its
  // output. (Two concatenation-sized buffers before: the largest call's scratch was 2x.)
  Scratch scratch({l.concat_bytes, l.pooled_bytes, 2 * vector_bytes + std::max(l.ws_bytes, chunk_ws_bytes)});
  if (!scratch.ok()) return Fail("out of memory for its scratch");
  char *normed = scratch[0], *pooled = scratch[1], *small = scratch[2];
  void **d = p.data;
  void *mean = small, *var = small + vector_bytes, *ws = small + 2 * vector_bytes;
  void *x = k == 1 ? d[0] : normed;
  if (k > 1) l.Concat(d, normed, false);
  if (!Normalize(l, d, x, normed, mean, var, ws)) return Fail("its BatchNorm failed");
  char *conv_in = normed;
  if (pool) {
    Pooling(l).Forward(reinterpret_cast<float *>(normed), reinterpret_cast<float *>(pooled));
    conv_in = pooled;
  }
  // the convolution's input gradient: over its input (read for its shape only by then), or,
  // with one chunk and no pool, straight into the chunk's gradient
  char *dconv_in = pool ? pooled : k == 1 ? static_cast<char *>(d[dchunk]) : normed;
  const Arg w{d[k + 2], l.WeightShape()}, conv_cfg{d[k + 4], {3}, "int32"}, dy_arg{d[dy], l.y_shape};
  bool ok =
      Call(mindcv_conv_backward_weights, {{conv_in, l.conv_in_shape}, w, dy_arg, conv_cfg, {d[dw], w.shape}}) &&
      Call(mindcv_conv_backward_data, {{conv_in, l.conv_in_shape}, w, dy_arg, conv_cfg, {dconv_in, l.conv_in_shape}});
  if (!ok) return Fail("its convolution failed");
  const float *grad = reinterpret_cast<const float *>(dconv_in);
  if (pool) {
    Pooling(l).Backward(reinterpret_cast<const float *>(pooled), reinterpret_cast<float *>(normed));
    grad = reinterpret_cast<const float *>(normed);
  }
  const float eps = static_cast<const float *>(d[k + 3])[0];
  ReluGradientToChunks(l, d, static_cast<const float *>(d[k]), static_cast<const float *>(d[k + 1]),
                       static_cast<const float *>(mean), static_cast<const float *>(var), eps, grad, d + dchunk);
  const float no_relu[2] = {eps, 0.f};  // the ReLU's gradient is applied
  int64_t at = 0;
  for (int i = 0; i < k && ok; ++i) {
    const int64_t c = l.channels[i];
    const std::vector<int64_t> shape = l.Shape(c);
    const auto slice = [&](void *v) { return Arg{static_cast<float *>(v) + at, {c}}; };
    ok = Call(mindcv_bn_backward,
              {{d[i], shape},
               {ws, {mindcv_bn_relu_workspace_bytes(dims[0], c, dims[2], dims[3], l.first.block)}, "uint8"},
               {d[dchunk + i], shape},
               slice(d[k]),
               slice(mean),
               slice(var),
               {const_cast<float *>(no_relu), {2}},
               {d[dchunk + i], shape},
               slice(d[dgamma]),
               slice(d[dbeta])});
    at += c;
  }
  return ok ? 0 : Fail("its BatchNorm failed");
}

}  // namespace

extern "C" {

int mindcv_dense_bottleneck(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  return Forward({n, params, ndims, shapes, dtypes}, false);
}

int mindcv_dense_bottleneck_backward(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                                     void *) {
  return Backward({n, params, ndims, shapes, dtypes}, false);
}

int mindcv_dense_transition(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  return Forward({n, params, ndims, shapes, dtypes}, true);
}

int mindcv_dense_transition_backward(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                                     void *) {
  return Backward({n, params, ndims, shapes, dtypes}, true);
}

}  // extern "C"
