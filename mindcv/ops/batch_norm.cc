// Batch normalization (training and inference, forward and backward, ReLU optionally fused) and
// the NCHW <-> nChw16c / nChw8c layout change, for MindSpore `ops.Custom(func_type="aot")` on CPU via oneDNN.
//
// Why: DenseNet's dense blocks keep their activations in oneDNN's blocked layout (nChw16c on
// AVX-512, nChw8c on AVX2), so the blocked convolutions (conv2d.cc) need no reorders; their
// BatchNorm-ReLU pairs then run here, on oneDNN's kernels for that layout, in one pass. Entry points (inputs then outputs; float32; x, y,
// dy, dx in either activation layout of onednn_runtime.h; gamma, beta, mean, var of C elements):
//   mindcv_bn_forward(x, gamma, beta, cfg) -> y, mean, var              (biased batch variance)
//   mindcv_bn_backward(x, y, dy, gamma, mean, var, cfg) -> dx, dgamma, dbeta
//   mindcv_bn_inference(x, gamma, beta, mean, var, cfg) -> y            (the given statistics)
//   mindcv_bn_inference_backward(x, y, dy, gamma, mean, var, cfg) -> dx, dgamma, dbeta  (they are constant)
//   mindcv_to_blocked(x) -> y,  mindcv_to_plain(x) -> y                 (NCHW <-> (N, C/B, H, W, B))
// cfg is float32 {epsilon, relu}: with relu != 0, y = max(bn(x), 0), and the backward ops first
// mask dy where y is 0 (y is read only then). The caller updates the moving statistics (blocked.py).

#include <array>
#include <cstring>
#include <map>

#include "onednn_runtime.h"

namespace {

using namespace mindcv;

enum Kind { kForward, kBackward, kInference, kInferenceBackward, kToBlocked, kToPlain };

// A primitive with the scratchpad and workspace sizes it needs.
struct Primitive {
  dnnl_primitive_t handle = nullptr;
  size_t scratch_bytes = 0, workspace_bytes = 0;
};

// What one entry point runs for one shape: the normalization (or reorder), and for a fused ReLU's
// backward the ReLU gradient before it.
struct Plan {
  Primitive main, relu_backward;
};

using Key = std::array<int64_t, 8>;  // kind, N, C, H, W, layout, epsilon bits, relu

bool Finish(dnnl_primitive_desc_t pd, Primitive *prim) {
  prim->scratch_bytes = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
  prim->workspace_bytes = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_workspace_md, 0));
  return dnnl_primitive_create(&prim->handle, pd) == dnnl_success;
}

// A fresh attribute per primitive (copies of one share its C object), with a user scratchpad.
dnnl_primitive_attr_t UserScratchpad() {
  dnnl_primitive_attr_t attr = nullptr;
  if (dnnl_primitive_attr_create(&attr) != dnnl_success) return nullptr;
  dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
  return attr;
}

// ReLU's gradient from its output (dy where y > 0), for a ReLU fused into the forward pass.
bool MakeReluBackward(Engine *e, const_dnnl_memory_desc_t md, Primitive *prim) {
  dnnl_primitive_attr_t attr = UserScratchpad();
  dnnl_primitive_desc_t fwd = nullptr, pd = nullptr;
  const auto relu = dnnl_eltwise_relu_use_dst_for_bwd;
  bool ok = attr &&
            dnnl_eltwise_forward_primitive_desc_create(&fwd, e->engine, dnnl_forward_training, relu, md, md, 0.f, 0.f,
                                                       attr) == dnnl_success &&
            dnnl_eltwise_backward_primitive_desc_create(&pd, e->engine, relu, md, md, md, 0.f, 0.f, fwd, attr) ==
                dnnl_success &&
            Finish(pd, prim);
  for (auto d : {fwd, pd})
    if (d) dnnl_primitive_desc_destroy(d);
  if (attr) dnnl_primitive_attr_destroy(attr);
  return ok;
}

// The normalization of `kind` for one shape and layout. A fused ReLU is a flag of the forward
// primitives; the backward ones normalize the masked gradient without it.
bool MakeNorm(Engine *e, Kind kind, const_dnnl_memory_desc_t md, float eps, bool relu, Plan *plan) {
  const bool inference = kind == kInference, backward = kind == kBackward || kind == kInferenceBackward;
  const bool given_stats = inference || kind == kInferenceBackward;
  const unsigned flags = dnnl_use_scale | dnnl_use_shift | (given_stats ? dnnl_use_global_stats : 0u);
  const unsigned forward_flags = flags | (relu && !backward ? dnnl_fuse_norm_relu : 0u);
  dnnl_primitive_attr_t attr = UserScratchpad();
  dnnl_primitive_desc_t fwd = nullptr, bwd = nullptr;
  bool ok = attr && dnnl_batch_normalization_forward_primitive_desc_create(
                        &fwd, e->engine, inference ? dnnl_forward_inference : dnnl_forward_training, md, md, eps,
                        forward_flags, attr) == dnnl_success;
  if (ok && backward) {
    ok = dnnl_batch_normalization_backward_primitive_desc_create(&bwd, e->engine, dnnl_backward, md, md, md, eps,
                                                                 flags, fwd, attr) == dnnl_success;
  }
  ok = ok && Finish(backward ? bwd : fwd, &plan->main);
  ok = ok && (!(relu && backward) || MakeReluBackward(e, md, &plan->relu_backward));
  for (auto d : {fwd, bwd})
    if (d) dnnl_primitive_desc_destroy(d);
  if (attr) dnnl_primitive_attr_destroy(attr);
  return ok;
}

bool MakeReorder(Engine *e, Kind kind, const int64_t *dims, dnnl_format_tag_t layout, Plan *plan) {
  dnnl_memory_desc_t plain = Desc(4, dims, dnnl_f32, dnnl_nchw), blocked = Desc(4, dims, dnnl_f32, layout);
  const bool to_blocked = kind == kToBlocked;
  dnnl_primitive_desc_t pd = nullptr;
  bool ok = plain && blocked &&
            dnnl_reorder_primitive_desc_create(&pd, to_blocked ? plain : blocked, e->engine,
                                               to_blocked ? blocked : plain, e->engine, nullptr) == dnnl_success &&
            Finish(pd, &plan->main);
  if (pd) dnnl_primitive_desc_destroy(pd);
  for (auto d : {plain, blocked})
    if (d) dnnl_memory_desc_destroy(d);
  return ok;
}

const Plan *GetPlan(Engine *e, Kind kind, const int64_t *dims, dnnl_format_tag_t layout, float eps, bool relu) {
  static std::mutex mu;
  static std::map<Key, std::unique_ptr<Plan>> cache;
  int32_t eps_bits = 0;
  std::memcpy(&eps_bits, &eps, sizeof(eps));
  const Key key = {kind, dims[0], dims[1], dims[2], dims[3], layout, eps_bits, relu};
  std::lock_guard<std::mutex> lock(mu);
  auto &slot = cache[key];
  if (!slot) {
    auto plan = std::make_unique<Plan>();
    bool ok = false;
    if (kind == kToBlocked || kind == kToPlain) {
      ok = MakeReorder(e, kind, dims, layout, plan.get());
    } else {
      dnnl_memory_desc_t md = Desc(4, dims, dnnl_f32, layout);
      ok = md && MakeNorm(e, kind, md, eps, relu, plan.get());
      if (md) dnnl_memory_desc_destroy(md);
    }
    if (!ok) return nullptr;  // not cached: the failure is reported on every call
    slot = std::move(plan);
  }
  return slot.get();
}

// One primitive run: tensors of descriptor `md`, C-element vectors, scratchpad and workspace from
// per-thread buffers (the workspace of a fused ReLU's forward is not needed later: its backward
// reads y instead).
struct Run {
  Engine *e;
  dnnl_stream_t stream;
  const_dnnl_memory_desc_t md, vec;

  bool operator()(const Primitive &prim, std::initializer_list<std::pair<int, void *>> tensors,
                  std::initializer_list<std::pair<int, void *>> vectors = {}) const {
    thread_local Buffers<2> buffers;
    std::vector<std::unique_ptr<Memory>> memories;
    std::vector<dnnl_exec_arg_t> args;
    bool ok = true;
    auto add = [&](int arg, const_dnnl_memory_desc_t d, void *data) {
      memories.push_back(std::make_unique<Memory>(d, e, data));
      ok = ok && memories.back()->handle;
      args.push_back({arg, memories.back()->handle});
    };
    auto add_bytes = [&](int arg, size_t bytes, int buffer) {
      const int64_t n[1] = {static_cast<int64_t>(bytes)};
      dnnl_memory_desc_t d = Desc(1, n, dnnl_u8, dnnl_a);
      ok = ok && d;
      if (d) add(arg, d, buffers.Get(buffer, bytes));
      if (d) dnnl_memory_desc_destroy(d);
    };
    for (auto &t : tensors) add(t.first, md, t.second);
    for (auto &v : vectors) add(v.first, vec, v.second);
    if (prim.scratch_bytes) add_bytes(DNNL_ARG_SCRATCHPAD, prim.scratch_bytes, 0);
    if (prim.workspace_bytes) add_bytes(DNNL_ARG_WORKSPACE, prim.workspace_bytes, 1);
    return ok && dnnl_primitive_execute(prim.handle, stream, static_cast<int>(args.size()), args.data()) == dnnl_success &&
           dnnl_stream_wait(stream) == dnnl_success;
  }
};

int Norm(Kind kind, void **p, int *ndims, int64_t **shapes, int cfg_index) {
  Engine *e = GetEngine();
  dnnl_stream_t stream = e ? ThreadStream(e) : nullptr;
  if (!stream) return 1;
  int64_t dims[4];
  const dnnl_format_tag_t layout = ActivationLayout(ndims[0], shapes[0], dims);
  const float *cfg = static_cast<const float *>(p[cfg_index]);
  const bool relu = cfg[1] != 0.f;
  const Plan *plan = GetPlan(e, kind, dims, layout, cfg[0], relu);
  dnnl_memory_desc_t md = Desc(4, dims, dnnl_f32, layout), vec = Desc(1, &dims[1], dnnl_f32, dnnl_a);
  const Run run{e, stream, md, vec};
  bool ok = plan && md && vec;
  if (ok && kind == kForward) {
    ok = run(plan->main, {{DNNL_ARG_SRC, p[0]}, {DNNL_ARG_DST, p[4]}},
             {{DNNL_ARG_SCALE, p[1]}, {DNNL_ARG_SHIFT, p[2]}, {DNNL_ARG_MEAN, p[5]}, {DNNL_ARG_VARIANCE, p[6]}});
  } else if (ok && kind == kInference) {
    ok = run(plan->main, {{DNNL_ARG_SRC, p[0]}, {DNNL_ARG_DST, p[6]}},
             {{DNNL_ARG_SCALE, p[1]}, {DNNL_ARG_SHIFT, p[2]}, {DNNL_ARG_MEAN, p[3]}, {DNNL_ARG_VARIANCE, p[4]}});
  } else if (ok) {  // backward: x, y, dy, gamma, mean, var, cfg -> dx, dgamma, dbeta
    thread_local Buffers<1> masked;
    void *dy = p[2];
    if (relu) {
      void *diff = masked.Get(0, dnnl_memory_desc_get_size(md));
      ok = run(plan->relu_backward, {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DST, p[1]}, {DNNL_ARG_DIFF_SRC, diff}});
      dy = diff;
    }
    ok = ok && run(plan->main, {{DNNL_ARG_SRC, p[0]}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_SRC, p[7]}},
                   {{DNNL_ARG_SCALE, p[3]},
                    {DNNL_ARG_MEAN, p[4]},
                    {DNNL_ARG_VARIANCE, p[5]},
                    {DNNL_ARG_DIFF_SCALE, p[8]},
                    {DNNL_ARG_DIFF_SHIFT, p[9]}});
  }
  for (auto d : {md, vec})
    if (d) dnnl_memory_desc_destroy(d);
  if (!ok) std::fprintf(stderr, "mindcv native op: batch normalization (kind %d) failed\n", int(kind));
  return ok ? 0 : 1;
}

int ChangeLayout(Kind kind, void **params, int *ndims, int64_t **shapes) {
  Engine *e = GetEngine();
  dnnl_stream_t stream = e ? ThreadStream(e) : nullptr;
  if (!stream) return 1;
  int64_t dims[4];
  const bool to_blocked = kind == kToBlocked;
  const int b = to_blocked ? 1 : 0;  // the 5-D side: the output of to_blocked, the input of to_plain
  const dnnl_format_tag_t layout = ActivationLayout(ndims[b], shapes[b], dims);
  const Plan *plan = GetPlan(e, kind, dims, layout, 0.f, false);
  dnnl_memory_desc_t plain = Desc(4, dims, dnnl_f32, dnnl_nchw), blocked = Desc(4, dims, dnnl_f32, layout);
  const bool ok = plan && plain && blocked &&
                  ExecuteReorder(e, stream, plan->main.handle, to_blocked ? plain : blocked, params[0],
                                 to_blocked ? blocked : plain, params[1]) &&
                  dnnl_stream_wait(stream) == dnnl_success;
  for (auto d : {plain, blocked})
    if (d) dnnl_memory_desc_destroy(d);
  if (!ok) std::fprintf(stderr, "mindcv native op: layout change (kind %d) failed\n", int(kind));
  return ok ? 0 : 1;
}

}  // namespace

extern "C" {

int mindcv_bn_forward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return Norm(kForward, params, ndims, shapes, 3);
}

int mindcv_bn_backward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return Norm(kBackward, params, ndims, shapes, 6);
}

int mindcv_bn_inference(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return Norm(kInference, params, ndims, shapes, 5);
}

int mindcv_bn_inference_backward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return Norm(kInferenceBackward, params, ndims, shapes, 6);
}

int mindcv_to_blocked(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return ChangeLayout(kToBlocked, params, ndims, shapes);
}

int mindcv_to_plain(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return ChangeLayout(kToPlain, params, ndims, shapes);
}

}  // extern "C"
