// Training-mode batch normalization (forward with batch statistics, backward) and the NCHW <->
// nChw16c layout change, for MindSpore `ops.Custom(func_type="aot")` on CPU through oneDNN.
//
// Why: DenseNet's dense blocks keep their activations in oneDNN's nChw16c layout, so the blocked
// convolutions (conv2d.cc) need no reorders; their BatchNorms then run here, on oneDNN's AVX-512
// kernels for that layout. Entry points (inputs then outputs; float32; x, y, dy, dx in either
// activation layout of onednn_runtime.h, gamma/beta/mean/var of C elements):
//   mindcv_bn_forward(x, gamma, beta, cfg) -> y, mean, var     (biased batch variance)
//   mindcv_bn_backward(x, dy, gamma, mean, var, cfg) -> dx, dgamma, dbeta
//   mindcv_bn_inference(x, gamma, beta, mean, var, cfg) -> y   (the given statistics)
//   mindcv_bn_inference_backward(x, dy, gamma, mean, var, cfg) -> dx, dgamma, dbeta  (statistics constant)
//   mindcv_to_blocked(x) -> y,  mindcv_to_plain(x) -> y        (NCHW <-> (N, C/16, H, W, 16))
// cfg is float32 {epsilon}. The moving statistics are updated by the caller (mindcv/ops/blocked.py).

#include <array>
#include <cstring>
#include <map>

#include "onednn_runtime.h"

namespace {

using namespace mindcv;

// A primitive with its scratchpad size, built once per shape and layout.
struct Primitive {
  dnnl_primitive_t handle = nullptr;
  size_t scratch_bytes = 0;
};

using Key = std::array<int64_t, 7>;  // kind, N, C, H, W, layout, epsilon bits

enum Kind { kForward = 0, kBackward = 1, kInference = 2, kInferenceBackward = 3, kToBlocked = 4, kToPlain = 5 };

// Builds a batch normalization primitive for one shape and layout: forward or backward, with the
// batch's statistics (training) or given ones (inference).
Primitive *MakeNorm(Engine *e, Kind kind, const int64_t *dims, dnnl_format_tag_t layout, float eps) {
  dnnl_memory_desc_t md = Desc(4, dims, dnnl_f32, layout);
  const bool inference = kind == kInference, given_stats = inference || kind == kInferenceBackward;
  const unsigned flags = dnnl_use_scale | dnnl_use_shift | (given_stats ? dnnl_use_global_stats : 0u);
  dnnl_primitive_attr_t attr = nullptr;  // a fresh attribute per primitive (copies share one C object)
  MINDCV_CHECK(dnnl_primitive_attr_create(&attr));
  MINDCV_CHECK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
  dnnl_primitive_desc_t fwd = nullptr, pd = nullptr;
  MINDCV_CHECK(dnnl_batch_normalization_forward_primitive_desc_create(
      &fwd, e->engine, inference ? dnnl_forward_inference : dnnl_forward_training, md, md, eps, flags, attr));
  if (kind == kBackward || kind == kInferenceBackward) {
    MINDCV_CHECK(dnnl_batch_normalization_backward_primitive_desc_create(&pd, e->engine, dnnl_backward, md, md, md,
                                                                         eps, flags, fwd, attr));
  } else {
    pd = fwd;
  }
  auto prim = std::make_unique<Primitive>();
  prim->scratch_bytes = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
  MINDCV_CHECK(dnnl_primitive_create(&prim->handle, pd));
  if (pd != fwd) dnnl_primitive_desc_destroy(pd);
  dnnl_primitive_desc_destroy(fwd);
  dnnl_primitive_attr_destroy(attr);
  dnnl_memory_desc_destroy(md);
  return prim.release();
}

// Builds the reorder between NCHW and nChw16c for one shape.
Primitive *MakeReorder(Engine *e, Kind kind, const int64_t *dims) {
  dnnl_memory_desc_t plain = Desc(4, dims, dnnl_f32, dnnl_nchw), blocked = Desc(4, dims, dnnl_f32, dnnl_nChw16c);
  const bool to_blocked = kind == kToBlocked;
  dnnl_primitive_desc_t pd = nullptr;
  MINDCV_CHECK(dnnl_reorder_primitive_desc_create(&pd, to_blocked ? plain : blocked, e->engine,
                                                  to_blocked ? blocked : plain, e->engine, nullptr));
  auto prim = std::make_unique<Primitive>();
  MINDCV_CHECK(dnnl_primitive_create(&prim->handle, pd));
  dnnl_primitive_desc_destroy(pd);
  dnnl_memory_desc_destroy(plain);
  dnnl_memory_desc_destroy(blocked);
  return prim.release();
}

Primitive *GetPrimitive(Engine *e, Kind kind, const int64_t *dims, dnnl_format_tag_t layout, float eps) {
  static std::mutex mu;
  static std::map<Key, std::unique_ptr<Primitive>> cache;
  int32_t eps_bits = 0;
  std::memcpy(&eps_bits, &eps, sizeof(eps));
  const Key key = {kind, dims[0], dims[1], dims[2], dims[3], layout, eps_bits};
  std::lock_guard<std::mutex> lock(mu);
  auto &slot = cache[key];
  if (!slot) slot.reset(kind < kToBlocked ? MakeNorm(e, kind, dims, layout, eps) : MakeReorder(e, kind, dims));
  return slot.get();
}

// Runs `prim` on (dnnl argument, data) pairs, all laid out as `md` except the C-element vectors.
bool Execute(Engine *e, const Primitive *prim, const int64_t *dims, dnnl_format_tag_t layout,
             std::initializer_list<std::pair<int, void *>> tensors, std::initializer_list<std::pair<int, void *>> vectors) {
  thread_local Buffers<1> scratch;
  dnnl_stream_t stream = ThreadStream(e);
  if (!stream || !prim) return false;
  dnnl_memory_desc_t md = Desc(4, dims, dnnl_f32, layout), vec = Desc(1, &dims[1], dnnl_f32, dnnl_a);
  const int64_t scratch_dims[1] = {static_cast<int64_t>(prim->scratch_bytes)};
  dnnl_memory_desc_t scratch_md = Desc(1, scratch_dims, dnnl_u8, dnnl_a);
  std::vector<std::unique_ptr<Memory>> memories;
  std::vector<dnnl_exec_arg_t> args;
  bool ok = md && vec && scratch_md;
  auto add = [&](int arg, const_dnnl_memory_desc_t d, void *data) {
    memories.push_back(std::make_unique<Memory>(d, e, data));
    ok = ok && memories.back()->handle;
    args.push_back({arg, memories.back()->handle});
  };
  for (auto &t : tensors) add(t.first, md, t.second);
  for (auto &v : vectors) add(v.first, vec, v.second);
  if (prim->scratch_bytes) add(DNNL_ARG_SCRATCHPAD, scratch_md, scratch.Get(0, prim->scratch_bytes));
  ok = ok && dnnl_primitive_execute(prim->handle, stream, static_cast<int>(args.size()), args.data()) == dnnl_success;
  ok = ok && dnnl_stream_wait(stream) == dnnl_success;
  for (auto d : {md, vec, scratch_md})
    if (d) dnnl_memory_desc_destroy(d);
  return ok;
}

int Norm(Kind kind, void **params, int *ndims, int64_t **shapes, int cfg_index) {
  Engine *e = GetEngine();
  if (!e) return 1;
  int64_t dims[4];
  const dnnl_format_tag_t layout = ActivationLayout(ndims[0], shapes[0], dims);
  const float eps = *static_cast<const float *>(params[cfg_index]);
  const Primitive *prim = GetPrimitive(e, kind, dims, layout, eps);
  void **p = params;  // indices follow the entry points' argument lists above
  bool ok = false;
  if (kind == kForward) {
    ok = Execute(e, prim, dims, layout, {{DNNL_ARG_SRC, p[0]}, {DNNL_ARG_DST, p[4]}},
                 {{DNNL_ARG_SCALE, p[1]}, {DNNL_ARG_SHIFT, p[2]}, {DNNL_ARG_MEAN, p[5]}, {DNNL_ARG_VARIANCE, p[6]}});
  } else if (kind == kInference) {
    ok = Execute(e, prim, dims, layout, {{DNNL_ARG_SRC, p[0]}, {DNNL_ARG_DST, p[6]}},
                 {{DNNL_ARG_SCALE, p[1]}, {DNNL_ARG_SHIFT, p[2]}, {DNNL_ARG_MEAN, p[3]}, {DNNL_ARG_VARIANCE, p[4]}});
  } else {
    ok = Execute(e, prim, dims, layout, {{DNNL_ARG_SRC, p[0]}, {DNNL_ARG_DIFF_DST, p[1]}, {DNNL_ARG_DIFF_SRC, p[6]}},
                 {{DNNL_ARG_SCALE, p[2]},
                  {DNNL_ARG_MEAN, p[3]},
                  {DNNL_ARG_VARIANCE, p[4]},
                  {DNNL_ARG_DIFF_SCALE, p[7]},
                  {DNNL_ARG_DIFF_SHIFT, p[8]}});
  }
  return ok ? 0 : 1;
}

int ChangeLayout(Kind kind, void **params, int *ndims, int64_t **shapes) {
  Engine *e = GetEngine();
  if (!e) return 1;
  int64_t dims[4];
  ActivationLayout(ndims[0], shapes[0], dims);
  const Primitive *prim = GetPrimitive(e, kind, dims, dnnl_format_tag_undef, 0.0f);
  dnnl_stream_t stream = ThreadStream(e);
  if (!stream || !prim) return 1;
  dnnl_memory_desc_t plain = Desc(4, dims, dnnl_f32, dnnl_nchw), blocked = Desc(4, dims, dnnl_f32, dnnl_nChw16c);
  const bool to_blocked = kind == kToBlocked;
  bool ok = false;
  {
    Memory from(to_blocked ? plain : blocked, e, params[0]), to(to_blocked ? blocked : plain, e, params[1]);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from.handle}, {DNNL_ARG_TO, to.handle}};
    ok = from.handle && to.handle && dnnl_primitive_execute(prim->handle, stream, 2, args) == dnnl_success &&
         dnnl_stream_wait(stream) == dnnl_success;
  }
  dnnl_memory_desc_destroy(plain);
  dnnl_memory_desc_destroy(blocked);
  return ok ? 0 : 1;
}

}  // namespace

extern "C" {

int mindcv_bn_forward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return Norm(kForward, params, ndims, shapes, 3);
}

int mindcv_bn_backward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return Norm(kBackward, params, ndims, shapes, 5);
}

int mindcv_bn_inference(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return Norm(kInference, params, ndims, shapes, 5);
}

int mindcv_bn_inference_backward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return Norm(kInferenceBackward, params, ndims, shapes, 5);
}

int mindcv_to_blocked(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return ChangeLayout(kToBlocked, params, ndims, shapes);
}

int mindcv_to_plain(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return ChangeLayout(kToPlain, params, ndims, shapes);
}

}  // extern "C"
