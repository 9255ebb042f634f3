// Batch normalization (training and inference, forward and backward, ReLU optionally fused) and
// the change between NCHW and the blocked layout, for MindSpore `ops.Custom(func_type="aot")` on
// CPU via oneDNN.
//
// Why: DenseNet's dense blocks keep their activations in oneDNN's blocked layout, nChw8c or
// nChw16c (the channel block of onednn_runtime.h), so the blocked convolutions (conv2d.cc) need
// no reorders; their BatchNorm-ReLU pairs then run here, on oneDNN's kernels for that layout, in
// one pass. Entry points (inputs then outputs; float32; x, y, dy, dx in either activation layout;
// gamma, beta, mean, var of C elements):
//   mindcv_bn_forward(x, gamma, beta, cfg) -> y, mean, var, ws          (biased batch variance)
//   mindcv_bn_backward(x, ws, dy, gamma, mean, var, cfg) -> dx, dgamma, dbeta
//   mindcv_bn_inference(x, gamma, beta, mean, var, cfg) -> y            (the given statistics)
//   mindcv_bn_inference_backward(x, y, dy, gamma, mean, var, cfg) -> dx, dgamma, dbeta  (they are constant)
//   mindcv_to_blocked(x) -> y,  mindcv_to_plain(x) -> y                 (NCHW <-> (N, C/B, H, W, B))
// cfg is float32 {epsilon, relu}: with relu != 0, y = max(bn(x), 0). ws is a uint8 vector of
// mindcv_bn_relu_workspace_bytes(x): with relu, the training forward records there where the
// ReLU passed (oneDNN's workspace), and the training backward reads it to apply the ReLU's
// gradient inside its own pass; without relu it is unused. The inference backward masks dy where
// y is 0 first (y is read only then). The caller updates the moving statistics (blocked.py).
// Every shape and dtype is checked first: on a mismatch the call writes nothing and returns 1,
// the reason on stderr.

#include "onednn_runtime.h"

namespace {

using namespace mindcv;

enum Kind { kForward, kBackward, kInference, kInferenceBackward, kToBlocked, kToPlain };
const char *const kKindNames[] = {"batch norm forward",          "batch norm backward",      "batch norm inference",
                                  "batch norm inference backward", "change to the blocked layout",
                                  "change to NCHW"};

// Parameter positions, inputs then outputs.
struct ForwardParams {
  static constexpr int kX = 0, kGamma = 1, kBeta = 2, kCfg = 3, kY = 4, kMean = 5, kVar = 6, kWs = 7, kCount = 8;
};
struct InferenceParams {
  static constexpr int kX = 0, kGamma = 1, kBeta = 2, kMean = 3, kVar = 4, kCfg = 5, kY = 6, kCount = 7;
};
struct BackwardParams {  // both backward kinds; kY holds ws in the training backward
  static constexpr int kX = 0, kY = 1, kDy = 2, kGamma = 3, kMean = 4, kVar = 5, kCfg = 6, kDx = 7, kDgamma = 8,
                       kDbeta = 9, kCount = 10;
};
struct LayoutParams {
  static constexpr int kX = 0, kY = 1, kCount = 2;
};
enum Cfg { kEpsilon, kRelu, kCfgSize };

// What one entry point runs for one shape: the normalization (or reorder), and for a fused
// ReLU's inference backward the ReLU gradient before it.
struct Plan {
  Op main, relu_backward;
};

// ReLU's gradient from its output (dy where y > 0), for a ReLU fused into the forward pass.
dnnl_status_t MakeReluBackward(Engine &engine, const_dnnl_memory_desc_t md, Op &op) {
  const auto relu = dnnl_eltwise_relu_use_dst_for_bwd;
  Attr attr;
  MINDCV_TRY(UserScratchpad(attr));
  PrimitiveDesc fwd, bwd;
  MINDCV_TRY(Make(fwd, dnnl_eltwise_forward_primitive_desc_create, engine.handle.get(), dnnl_forward_training, relu,
                  md, md, 0.f, 0.f, attr.get()));
  MINDCV_TRY(Make(bwd, dnnl_eltwise_backward_primitive_desc_create, engine.handle.get(), relu, md, md, md, 0.f, 0.f,
                  fwd.get(), attr.get()));
  return op.Build(bwd.get());
}

// The normalization of `kind` for one shape and layout. A fused ReLU is a flag of the forward
// primitives and of the training backward (which reads the forward's workspace); the inference
// backward normalizes the masked gradient without it (its forward, in inference, keeps no workspace).
dnnl_status_t MakeNorm(Engine &engine, Kind kind, const_dnnl_memory_desc_t md, float eps, bool relu, Plan &plan) {
  const bool inference = kind == kInference, backward = kind == kBackward || kind == kInferenceBackward;
  const bool given_stats = inference || kind == kInferenceBackward;
  const unsigned flags = dnnl_use_scale | dnnl_use_shift | (given_stats ? dnnl_use_global_stats : 0u);
  const unsigned fused = flags | (relu && kind != kInferenceBackward ? dnnl_fuse_norm_relu : 0u);
  Attr attr;
  MINDCV_TRY(UserScratchpad(attr));
  PrimitiveDesc fwd, bwd;
  MINDCV_TRY(Make(fwd, dnnl_batch_normalization_forward_primitive_desc_create, engine.handle.get(),
                  inference ? dnnl_forward_inference : dnnl_forward_training, md, md, eps, fused, attr.get()));
  if (!backward) return plan.main.Build(fwd.get());
  MINDCV_TRY(Make(bwd, dnnl_batch_normalization_backward_primitive_desc_create, engine.handle.get(), dnnl_backward,
                  md, md, md, eps, fused, fwd.get(), attr.get()));
  MINDCV_TRY(plan.main.Build(bwd.get()));
  return relu && kind == kInferenceBackward ? MakeReluBackward(engine, md, plan.relu_backward) : dnnl_success;
}

dnnl_status_t MakeReorder(Engine &engine, const_dnnl_memory_desc_t from, const_dnnl_memory_desc_t to, Plan &plan) {
  PrimitiveDesc pd;
  MINDCV_TRY(Make(pd, dnnl_reorder_primitive_desc_create, from, engine.handle.get(), to, engine.handle.get(),
                  const_dnnl_primitive_attr_t{nullptr}));
  return plan.main.Build(pd.get());
}

// The plan of `kind` for activations of `dims` (N, C, H, W) in layout `tag`, made at first use.
const Plan *GetPlan(Engine &engine, Kind kind, const int64_t *dims, dnnl_format_tag_t tag, float eps, bool relu) {
  static auto &cache = *new PlanCache<Plan, 8>();  // never freed, like the engine its plans use
  int32_t eps_bits = 0;
  std::memcpy(&eps_bits, &eps, sizeof(eps));
  return cache.Get({kind, dims[0], dims[1], dims[2], dims[3], tag, eps_bits, relu}, [&](Plan *plan) {
    MemoryDesc md = Desc(4, dims, dnnl_f32, tag), plain = Desc(4, dims, dnnl_f32, dnnl_nchw);
    if (kind == kToBlocked) return MakeReorder(engine, plain.get(), md.get(), *plan);
    if (kind == kToPlain) return MakeReorder(engine, md.get(), plain.get(), *plan);
    return MakeNorm(engine, kind, md.get(), eps, relu, *plan);
  });
}

// Bytes of the ReLU workspace of a training BN-ReLU on activations of `dims` in layout `tag` (the
// training forward's plan with relu; oneDNN keeps a bit per element): the size of every ws
// parameter, with or without relu, so the ops' shapes need not know cfg. -1 if no plan.
int64_t ReluWorkspaceBytes(Engine &engine, const int64_t *dims, dnnl_format_tag_t tag) {
  const Plan *plan = GetPlan(engine, kForward, dims, tag, 1e-5f, true);  // eps does not change it
  return plan ? static_cast<int64_t>(std::max<size_t>(plan->main.workspace_bytes, 1)) : -1;
}

// Runs the forward normalization of x into y with scale and shift, at the positions of parameter
// struct P: the training forward computes the batch's mean and var into its outputs, the inference
// reads the given ones.
template <typename P>
bool Normalize(Call &call, const Op &main, const_dnnl_memory_desc_t md, const_dnnl_memory_desc_t vec, void **d,
               void *scratchpad, void *workspace) {
  return call.Execute(main,
                      {{DNNL_ARG_SRC, md, d[P::kX]},
                       {DNNL_ARG_DST, md, d[P::kY]},
                       {DNNL_ARG_SCALE, vec, d[P::kGamma]},
                       {DNNL_ARG_SHIFT, vec, d[P::kBeta]},
                       {DNNL_ARG_MEAN, vec, d[P::kMean]},
                       {DNNL_ARG_VARIANCE, vec, d[P::kVar]}},
                      scratchpad, workspace);
}

// Checks and runs one normalization entry point.
int Norm(Kind kind, const Params &p) {
  using F = ForwardParams;
  using I = InferenceParams;
  using B = BackwardParams;
  const char *op = kKindNames[kind];
  const bool backward = kind == kBackward || kind == kInferenceBackward;
  const int count = kind == kForward ? F::kCount : kind == kInference ? I::kCount : B::kCount;
  if (p.count != count) return Fail(op, "wrong parameter count");
  Activation x;
  if (!x.Read(p, F::kX)) return Fail(op, "x is not a float32 (N, C, H, W) or (N, C/B, H, W, B) tensor, B 8 or 16");
  const int64_t c = x.dims[1];
  // Tensors of x's shape and vectors of C elements, per kind.
  std::vector<int> like_x, vectors;
  int cfg_index = 0;
  if (kind == kForward) {
    like_x = {F::kY}, vectors = {F::kGamma, F::kBeta, F::kMean, F::kVar}, cfg_index = F::kCfg;
  } else if (kind == kInference) {
    like_x = {I::kY}, vectors = {I::kGamma, I::kBeta, I::kMean, I::kVar}, cfg_index = I::kCfg;
  } else {
    like_x = {B::kDy, B::kDx}, vectors = {B::kGamma, B::kMean, B::kVar, B::kDgamma, B::kDbeta};
    if (kind == kInferenceBackward) like_x.push_back(B::kY);  // the training backward's is ws, checked below
    cfg_index = B::kCfg;
  }
  if (!std::all_of(like_x.begin(), like_x.end(), [&](int i) { return p.SameAs(i, F::kX); }))
    return Fail(op, "y, dy or dx is not of x's shape");
  if (!std::all_of(vectors.begin(), vectors.end(), [&](int i) { return p.Is(i, {c}); }))
    return Fail(op, "gamma, beta, mean, var or their gradients are not float32 vectors of C elements");
  if (!p.Is(cfg_index, {kCfgSize})) return Fail(op, "cfg is not a float32 {epsilon, relu}");
  const float *cfg = static_cast<const float *>(p.data[cfg_index]);
  const bool relu = cfg[kRelu] != 0.f;
  if (!(cfg[kEpsilon] > 0.f)) return Fail(op, "epsilon is not positive");

  Engine *engine = GetEngine();
  if (!engine) return Fail(op, "oneDNN has no CPU engine");
  const int ws_index = kind == kForward ? F::kWs : kind == kBackward ? B::kY : -1;
  if (ws_index >= 0) {
    const int64_t ws_bytes = ReluWorkspaceBytes(*engine, x.dims, x.tag);
    if (ws_bytes < 1 || !p.Is(ws_index, {ws_bytes}, "uint8"))
      return Fail(op, "ws is not a uint8 vector of mindcv_bn_relu_workspace_bytes(x)");
  }
  Call call(*engine);
  if (!call.ok()) return Fail(op, "oneDNN could not make a stream");
  const Plan *plan = GetPlan(*engine, kind, x.dims, x.tag, cfg[kEpsilon], relu);
  if (!plan) return Fail(op, "oneDNN could not make the primitive");
  MemoryDesc md = Desc(4, x.dims, dnnl_f32, x.tag), vec = Desc(1, &c, dnnl_f32, dnnl_a);
  const Op &main = plan->main, &relu_backward = plan->relu_backward;
  // Pieces: the main op's scratchpad, the ReLU gradient's scratchpad and the masked dy (inference
  // backward). The workspace is the caller's ws (training), or none.
  const bool mask = kind == kInferenceBackward && relu;
  const size_t masked_bytes = mask ? dnnl_memory_desc_get_size(md.get()) : 0;
  Scratch scratch({main.scratchpad_bytes, relu_backward.scratchpad_bytes, masked_bytes});
  void **d = p.data;
  void *workspace = main.workspace_bytes ? d[ws_index] : nullptr;
  bool ok = md && vec && scratch.ok();
  auto run = [&](const Op &o, std::initializer_list<Tensor> tensors, void *scratchpad, void *ws) {
    ok = ok && call.Execute(o, tensors, scratchpad, ws);
  };
  if (kind == kForward) {
    ok = ok && Normalize<F>(call, main, md.get(), vec.get(), d, scratch.Piece(0), workspace);
  } else if (kind == kInference) {
    ok = ok && Normalize<I>(call, main, md.get(), vec.get(), d, scratch.Piece(0), nullptr);
  } else {
    void *dy = mask ? scratch.Piece(2) : d[B::kDy];
    if (mask) {
      run(relu_backward,
          {{DNNL_ARG_DIFF_DST, md.get(), d[B::kDy]},
           {DNNL_ARG_DST, md.get(), d[B::kY]},
           {DNNL_ARG_DIFF_SRC, md.get(), dy}},
          scratch.Piece(1), nullptr);
    }
    run(main,
        {{DNNL_ARG_SRC, md.get(), d[B::kX]},
         {DNNL_ARG_DIFF_DST, md.get(), dy},
         {DNNL_ARG_DIFF_SRC, md.get(), d[B::kDx]},
         {DNNL_ARG_SCALE, vec.get(), d[B::kGamma]},
         {DNNL_ARG_MEAN, vec.get(), d[B::kMean]},
         {DNNL_ARG_VARIANCE, vec.get(), d[B::kVar]},
         {DNNL_ARG_DIFF_SCALE, vec.get(), d[B::kDgamma]},
         {DNNL_ARG_DIFF_SHIFT, vec.get(), d[B::kDbeta]}},
        scratch.Piece(0), workspace);
  }
  ok = call.Wait() && ok;
  return ok ? 0 : Fail(op, "oneDNN failed to run it");
}

// Checks and runs a layout change: NCHW x to blocked y, or blocked x to NCHW y.
int ChangeLayout(Kind kind, const Params &p) {
  using L = LayoutParams;
  const char *op = kKindNames[kind];
  if (p.count != L::kCount) return Fail(op, "wrong parameter count");
  const int blocked_index = kind == kToBlocked ? L::kY : L::kX, plain_index = kind == kToBlocked ? L::kX : L::kY;
  Activation blocked;
  if (!blocked.Read(p, blocked_index) || blocked.block == 0)
    return Fail(op, "the blocked side is not a float32 (N, C/B, H, W, B) tensor, B 8 or 16");
  if (!p.Is(plain_index, 4, blocked.dims)) return Fail(op, "the NCHW side is not the blocked side's (N, C, H, W)");

  Engine *engine = GetEngine();
  if (!engine) return Fail(op, "oneDNN has no CPU engine");
  Call call(*engine);
  if (!call.ok()) return Fail(op, "oneDNN could not make a stream");
  const Plan *plan = GetPlan(*engine, kind, blocked.dims, blocked.tag, 0.f, false);
  if (!plan) return Fail(op, "oneDNN could not make the reorder");
  MemoryDesc plain = Desc(4, blocked.dims, dnnl_f32, dnnl_nchw), block = Desc(4, blocked.dims, dnnl_f32, blocked.tag);
  const_dnnl_memory_desc_t from = kind == kToBlocked ? plain.get() : block.get();
  const_dnnl_memory_desc_t to = kind == kToBlocked ? block.get() : plain.get();
  const bool ok = plain && block && call.Reorder(plan->main.primitive.get(), from, p.data[L::kX], to, p.data[L::kY]);
  return call.Wait() && ok ? 0 : Fail(op, "oneDNN failed to run it");
}

}  // namespace

extern "C" {

int mindcv_bn_forward(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  return Norm(kForward, {n, params, ndims, shapes, dtypes});
}

int mindcv_bn_backward(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  return Norm(kBackward, {n, params, ndims, shapes, dtypes});
}

int mindcv_bn_inference(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  return Norm(kInference, {n, params, ndims, shapes, dtypes});
}

int mindcv_bn_inference_backward(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                                 void *) {
  return Norm(kInferenceBackward, {n, params, ndims, shapes, dtypes});
}

// The size of ws for x of (N, C, H, W) in blocks of `block` channels (0: NCHW), -1 if none can be
// made; blocked.py sizes the ws outputs with it.
int64_t mindcv_bn_relu_workspace_bytes(int64_t n, int64_t c, int64_t h, int64_t w, int64_t block) {
  Engine *engine = GetEngine();
  const int64_t dims[4] = {n, c, h, w};
  if (!engine || std::min({n, c, h, w}) < 1 || (block != 0 && block != 8 && block != 16)) return -1;
  return ReluWorkspaceBytes(*engine, dims, block ? BlockedTag(block) : dnnl_nchw);
}

int mindcv_to_blocked(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  return ChangeLayout(kToBlocked, {n, params, ndims, shapes, dtypes});
}

int mindcv_to_plain(int n, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  return ChangeLayout(kToPlain, {n, params, ndims, shapes, dtypes});
}

}  // extern "C"
