// Max and average pooling on oneDNN's kernels, for MindSpore `ops.Custom(func_type="aot")` on CPU.
//
// Why: MindSpore 2.10 pools NCHW tensors on oneDNN's generic `simple_nchw` kernel, 10-40x slower
// than oneDNN's JIT kernels on the blocked layout (docs/performance.md, issue 20). DenseNet's stem
// max pool and its transitions' average pools run here on blocked activations, which the dense
// blocks around them already use. Entry points (inputs then outputs; float32 activations, NCHW or
// blocked as (N, C/B, H, W, B), the output in x's layout):
//   mindcv_pool_forward(x, cfg) -> y, ws        (ws: where each maximum came from)
//   mindcv_pool_backward(dy, ws, cfg) -> dx
// cfg is int32 {max, kernel, stride, pad} (int32, as the convolutions' cfg: mixed precision casts
// float tensors to float16): max != 0 for max pooling (padding never wins),
// else average pooling over the window's unpadded elements. ws is uint8 of shape (H, W, K): x's
// height and width, which dx needs and dy alone cannot give (7 and 6 both pool to 3), and room
// for oneDNN's workspace (K = mindcv_pool_ws_depth(...), 1 for average pooling, which keeps
// none). Every shape and dtype is checked first: on a mismatch the call writes nothing and
// returns 1, the reason on stderr.

#include "onednn_runtime.h"

namespace {

using namespace mindcv;

// One forward for training and inference alike: a model in inference mode may be differentiated
// too (input gradients), and the workspace costs a byte per output element.
enum Kind { kForward, kBackward };
const char *const kKindNames[] = {"pooling forward", "pooling backward"};

struct ForwardParams {
  static constexpr int kX = 0, kCfg = 1, kY = 2, kWs = 3, kCount = 4;
};
struct BackwardParams {
  static constexpr int kDy = 0, kWs = 1, kCfg = 2, kDx = 3, kCount = 4;
};

// The window of one pooling, read from cfg.
struct Window {
  bool max = false;
  int64_t kernel = 0, stride = 0, pad = 0;

  // False unless 1 <= kernel <= 64, 1 <= stride <= 64 and 0 <= pad < kernel.
  bool Set(int64_t is_max, int64_t k, int64_t s, int64_t p) {
    max = is_max != 0, kernel = k, stride = s, pad = p;
    return kernel >= 1 && kernel <= 64 && stride >= 1 && stride <= 64 && pad >= 0 && pad < kernel;
  }
  bool Read(const int32_t *cfg) { return Set(cfg[0], cfg[1], cfg[2], cfg[3]); }
  // The pooled size of an input size, < 1 if the window does not fit (C++'s division truncates
  // toward 0, so a window wider than the padded input is caught first).
  int64_t Out(int64_t size) const { return size + 2 * pad < kernel ? 0 : (size + 2 * pad - kernel) / stride + 1; }
};

// The primitive of `kind` for input `dims` (N, C, H, W) in layout `tag`: the backward needs the
// forward's description as its hint.
dnnl_status_t MakePool(Engine &engine, Kind kind, const int64_t *dims, dnnl_format_tag_t tag, const Window &w,
                       Op &op) {
  const int64_t out[4] = {dims[0], dims[1], w.Out(dims[2]), w.Out(dims[3])};
  MemoryDesc src = Desc(4, dims, dnnl_f32, tag), dst = Desc(4, out, dnnl_f32, tag);
  const dnnl_dims_t kernel = {w.kernel, w.kernel}, stride = {w.stride, w.stride};
  const dnnl_dims_t dilation = {0, 0}, pad = {w.pad, w.pad};
  const auto alg = w.max ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding;
  Attr attr;
  MINDCV_TRY(UserScratchpad(attr));
  PrimitiveDesc fwd, bwd;
  MINDCV_TRY(Make(fwd, dnnl_pooling_forward_primitive_desc_create, engine.handle.get(), dnnl_forward_training, alg,
                  src.get(), dst.get(), stride, kernel, dilation, pad, pad, attr.get()));
  if (kind == kForward) return op.Build(fwd.get());
  MINDCV_TRY(Make(bwd, dnnl_pooling_backward_primitive_desc_create, engine.handle.get(), alg, src.get(), dst.get(),
                  stride, kernel, dilation, pad, pad, fwd.get(), attr.get()));
  return op.Build(bwd.get());
}

// The primitive of `kind` for input `dims` in layout `tag`, made at first use.
const Op *GetPlan(Engine &engine, Kind kind, const int64_t *dims, dnnl_format_tag_t tag, const Window &w) {
  static auto &cache = *new PlanCache<Op, 10>();  // never freed, like the engine its plans use
  return cache.Get({kind, dims[0], dims[1], dims[2], dims[3], tag, w.max, w.kernel, w.stride, w.pad},
                   [&](Op *op) { return MakePool(engine, kind, dims, tag, w, *op); });
}

// K of ws (H, W, K) for input `dims`: enough bytes for the forward's workspace, at least
// one per input pixel. -1 if no plan.
int64_t WorkspaceDepth(Engine &engine, const int64_t *dims, dnnl_format_tag_t tag, const Window &w) {
  const Op *op = GetPlan(engine, kForward, dims, tag, w);
  if (!op) return -1;
  const int64_t plane = dims[2] * dims[3];
  return std::max<int64_t>(1, (static_cast<int64_t>(op->workspace_bytes) + plane - 1) / plane);
}

// Checks and runs one entry point.
int Pool(Kind kind, const Params &p) {
  using F = ForwardParams;
  using B = BackwardParams;
  const char *op = kKindNames[kind];
  if (p.count != (kind == kForward ? F::kCount : B::kCount)) return Fail(op, "wrong parameter count");
  const int cfg_index = kind == kBackward ? B::kCfg : F::kCfg;
  if (!p.Is(cfg_index, {4}, "int32")) return Fail(op, "cfg is not an int32 {max, kernel, stride, pad}");
  Window w;
  if (!w.Read(static_cast<const int32_t *>(p.data[cfg_index])))
    return Fail(op, "cfg needs kernel and stride in [1, 64] and 0 <= pad < kernel");

  // x: the forward's input; for the backward, dy's batch, channels and layout with ws's H and W.
  Activation x, y;
  if (kind == kBackward) {
    if (!y.Read(p, B::kDy)) return Fail(op, "dy is not a float32 (N, C, H, W) or (N, C/B, H, W, B) tensor");
    if (p.ndims[B::kWs] != 3 || std::strcmp(p.dtypes[B::kWs], "uint8") != 0)
      return Fail(op, "ws is not the uint8 (H, W, K) of the forward");
    x = y;
    x.dims[2] = p.shapes[B::kWs][0], x.dims[3] = p.shapes[B::kWs][1];
  } else if (!x.Read(p, F::kX)) {
    return Fail(op, "x is not a float32 (N, C, H, W) or (N, C/B, H, W, B) tensor, B 8 or 16");
  }
  const int64_t out_h = w.Out(x.dims[2]), out_w = w.Out(x.dims[3]);
  if (std::min({x.dims[2], x.dims[3], out_h, out_w}) < 1) return Fail(op, "the window does not fit x");
  const int y_index = kind == kBackward ? B::kDy : F::kY;
  if (!x.Matches(p, y_index, x.dims[1], out_h, out_w)) return Fail(op, "y or dy is not x pooled, in x's layout");
  if (kind == kBackward && !x.Matches(p, B::kDx)) return Fail(op, "dx is not of x's shape");

  Engine *engine = GetEngine();
  if (!engine) return Fail(op, "oneDNN has no CPU engine");
  const int ws_index = kind == kForward ? F::kWs : B::kWs;
  const int64_t depth = WorkspaceDepth(*engine, x.dims, x.tag, w);
  if (depth < 1 || !p.Is(ws_index, {x.dims[2], x.dims[3], depth}, "uint8"))
    return Fail(op, "ws is not a uint8 (H, W, mindcv_pool_ws_depth(x)) tensor");
  Call call(*engine);
  if (!call.ok()) return Fail(op, "oneDNN could not make a stream");
  const Op *plan = GetPlan(*engine, kind, x.dims, x.tag, w);
  if (!plan) return Fail(op, "oneDNN could not make the primitive");
  const int64_t out[4] = {x.dims[0], x.dims[1], out_h, out_w};
  MemoryDesc src = Desc(4, x.dims, dnnl_f32, x.tag), dst = Desc(4, out, dnnl_f32, x.tag);
  Scratch scratch({plan->scratchpad_bytes});
  void **d = p.data;
  void *workspace = d[ws_index];
  bool ok = src && dst && scratch.ok();
  if (kind == kBackward) {
    ok = ok && call.Execute(*plan,
                            {{DNNL_ARG_DIFF_DST, dst.get(), d[B::kDy]}, {DNNL_ARG_DIFF_SRC, src.get(), d[B::kDx]}},
                            scratch.Piece(0), workspace);
  } else {
    ok = ok && call.Execute(*plan, {{DNNL_ARG_SRC, src.get(), d[F::kX]}, {DNNL_ARG_DST, dst.get(), d[F::kY]}},
                            scratch.Piece(0), workspace);
  }
  ok = call.Wait() && ok;
  return ok ? 0 : Fail(op, "oneDNN failed to run it");
}

}  // namespace

extern "C" {

int mindcv_pool_forward(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  return Pool(kForward, {n, params, ndims, shapes, dtypes});
}

int mindcv_pool_backward(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  return Pool(kBackward, {n, params, ndims, shapes, dtypes});
}

// K of ws (H, W, K) for x of (N, C, H, W) in blocks of `block` channels (0: NCHW) and the window
// {max, kernel, stride, pad}; -1 if the window does not fit or no plan can be made. pooling.py
// sizes the ws output with it.
int64_t mindcv_pool_ws_depth(int64_t n, int64_t c, int64_t h, int64_t w, int64_t block, int64_t max, int64_t kernel,
                             int64_t stride, int64_t pad) {
  Engine *engine = GetEngine();
  Window window;
  const int64_t dims[4] = {n, c, h, w};
  const bool layout_ok = (block == 0 || block == 8 || block == 16) && (block == 0 || c % block == 0);
  if (!engine || !window.Set(max, kernel, stride, pad) || std::min({n, c, h, w}) < 1 || !layout_ok ||
      std::min(window.Out(h), window.Out(w)) < 1)
    return -1;
  return WorkspaceDepth(*engine, dims, block ? BlockedTag(block) : dnnl_nchw, window);
}

}  // extern "C"
