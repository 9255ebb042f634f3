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
// x, w, dy, y, dx, dw are float32; weights OIHW; activations NCHW, or nChw16c / nChw8c as a 5-D
// tensor (N, C/B, H, W, B), the layout DenseNet's dense blocks keep between ops (onednn_runtime.h).
// cfg is int32 {stride, padding, bf16}: the convolution runs in bfloat16 (AVX512_BF16 / AMX) when
// bf16 != 0, the reorders doing the casts; in float32 where oneDNN has no bfloat16 kernel for it
// (said once on stderr; mindcv_conv_bf16_supported tells whether this CPU has any).
// Attributes are passed as a tensor because MindSpore 2.10's AotExtra attributes read as defaults.

#include <array>
#include <map>

#include "onednn_runtime.h"

namespace {

using namespace mindcv;

enum Kind { kForward = 0, kBackwardData = 1, kBackwardWeights = 2 };

// One oneDNN tensor argument: its float32 layout at the op boundary (OIHW weights, NCHW or
// blocked activations), the layout the convolution chose, and the reorder between them (null
// when they are the same, as for nChw16c activations on AVX-512 and nChw8c on AVX2).
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

// Plans by kind and shape, shared by concurrently running kernels.
struct PlanCache {
  std::mutex mu;
  std::map<std::array<int64_t, 12>, std::unique_ptr<Plan>> plans;
};

// Completes `arg` from the primitive descriptor's chosen layout; `to_plain` for outputs.
bool FinishArg(Engine *r, const_dnnl_primitive_desc_t pd, Arg *arg, bool to_plain) {
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

// The forward convolution of x (N,C,H,W) with w (O,C,KH,KW) at `stride` and symmetric `pad`
// (output size floor((H + 2 pad - KH) / stride) + 1, as nn.Conv2d pad_mode="pad"), every tensor
// of type `t` in the layout oneDNN prefers; `y` gets the output's dims. The backward
// descriptors take it as their hint.
dnnl_status_t ForwardDesc(Engine *r, const int64_t *x, const int64_t *w, int64_t stride, int64_t pad,
                          dnnl_data_type_t t, const_dnnl_primitive_attr_t attr, int64_t *y,
                          dnnl_primitive_desc_t *fwd) {
  y[0] = x[0];
  y[1] = w[0];
  y[2] = (x[2] + 2 * pad - w[2]) / stride + 1;
  y[3] = (x[3] + 2 * pad - w[3]) / stride + 1;
  dnnl_dims_t strides = {stride, stride}, dilates = {0, 0}, pad_l = {pad, pad};
  dnnl_dims_t pad_r = {(y[2] - 1) * stride + w[2] - x[2] - pad, (y[3] - 1) * stride + w[3] - x[3] - pad};
  dnnl_memory_desc_t any_x = Desc(4, x, t, dnnl_format_tag_any), any_w = Desc(4, w, t, dnnl_format_tag_any);
  dnnl_memory_desc_t any_y = Desc(4, y, t, dnnl_format_tag_any);
  const dnnl_status_t status = dnnl_convolution_forward_primitive_desc_create(
      fwd, r->engine, dnnl_forward_training, dnnl_convolution_direct, any_x, any_w, nullptr, any_y, strides,
      dilates, pad_l, pad_r, attr);
  for (auto md : {any_x, any_w, any_y}) dnnl_memory_desc_destroy(md);
  return status;
}

// Said once per process: a bfloat16 convolution oneDNN has no kernel for runs in float32.
void NoteFloat32Fallback(const int64_t *x, const int64_t *w, int64_t stride) {
  static std::atomic<bool> said{false};
  if (said.exchange(true)) return;
  std::fprintf(stderr,
               "mindcv native op: oneDNN (CPU ISA %d) has no bfloat16 kernel for the %ldx%ld/%ld convolution "
               "of %ldx%ldx%ldx%ld; it and any other such convolution run in float32\n",
               int(dnnl_get_effective_cpu_isa()), long(w[2]), long(w[3]), long(stride), long(x[0]), long(x[1]),
               long(x[2]), long(x[3]));
}

// Builds the plan of `kind` for ForwardDesc's convolution, the activations in layout `act` at the
// op boundary; in float32 where oneDNN has no bfloat16 kernel for it.
Plan *MakePlan(Engine *r, Kind kind, const int64_t *x, const int64_t *w, int64_t stride, int64_t pad, bool bf16,
               dnnl_format_tag_t act) {
  const dnnl_data_type_t t = bf16 ? dnnl_bf16 : dnnl_f32;
  // A fresh attribute object per primitive: copies of one would share its C object.
  dnnl_primitive_attr_t attr = nullptr;
  MINDCV_CHECK(dnnl_primitive_attr_create(&attr));
  MINDCV_CHECK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
  int64_t y[4];
  dnnl_primitive_desc_t fwd = nullptr, pd = nullptr;
  const dnnl_status_t found = ForwardDesc(r, x, w, stride, pad, t, attr, y, &fwd);
  if (found == dnnl_unimplemented && bf16) {
    dnnl_primitive_attr_destroy(attr);
    NoteFloat32Fallback(x, w, stride);
    return MakePlan(r, kind, x, w, stride, pad, false, act);
  }
  MINDCV_CHECK(found);
  dnnl_memory_desc_t any_x = Desc(4, x, t, dnnl_format_tag_any), any_w = Desc(4, w, t, dnnl_format_tag_any);
  dnnl_memory_desc_t any_y = Desc(4, y, t, dnnl_format_tag_any);
  // Weight gradients accumulate in float32 even for bfloat16 inputs.
  dnnl_memory_desc_t any_dw = Desc(4, w, dnnl_f32, dnnl_format_tag_any);
  dnnl_dims_t strides = {stride, stride}, dilates = {0, 0}, pad_l = {pad, pad};
  dnnl_dims_t pad_r = {(y[2] - 1) * stride + w[2] - x[2] - pad, (y[3] - 1) * stride + w[3] - x[3] - pad};
  auto plan = std::make_unique<Plan>();
  auto &a = plan->args;
  if (kind == kForward) {
    pd = fwd;
    a[0] = {DNNL_ARG_SRC, Desc(4, x, dnnl_f32, act)};
    a[1] = {DNNL_ARG_WEIGHTS, Desc(4, w, dnnl_f32, dnnl_oihw)};
    a[2] = {DNNL_ARG_DST, Desc(4, y, dnnl_f32, act)};
  } else if (kind == kBackwardData) {
    MINDCV_CHECK(dnnl_convolution_backward_data_primitive_desc_create(&pd, r->engine, dnnl_convolution_direct, any_x,
                                                               any_w, any_y, strides, dilates, pad_l, pad_r,
                                                               fwd, attr));
    a[0] = {DNNL_ARG_DIFF_DST, Desc(4, y, dnnl_f32, act)};
    a[1] = {DNNL_ARG_WEIGHTS, Desc(4, w, dnnl_f32, dnnl_oihw)};
    a[2] = {DNNL_ARG_DIFF_SRC, Desc(4, x, dnnl_f32, act)};
  } else {
    MINDCV_CHECK(dnnl_convolution_backward_weights_primitive_desc_create(&pd, r->engine, dnnl_convolution_direct, any_x,
                                                                  any_dw, nullptr, any_y, strides, dilates,
                                                                  pad_l, pad_r, fwd, attr));
    a[0] = {DNNL_ARG_SRC, Desc(4, x, dnnl_f32, act)};
    a[1] = {DNNL_ARG_DIFF_DST, Desc(4, y, dnnl_f32, act)};
    a[2] = {DNNL_ARG_DIFF_WEIGHTS, Desc(4, w, dnnl_f32, dnnl_oihw)};
  }
  for (int i = 0; i < 3; ++i) {
    if (!FinishArg(r, pd, &a[i], i == 2)) return nullptr;
  }
  plan->scratch_bytes = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
  MINDCV_CHECK(dnnl_primitive_create(&plan->conv, pd));
  if (pd != fwd) dnnl_primitive_desc_destroy(pd);
  dnnl_primitive_desc_destroy(fwd);
  dnnl_primitive_attr_destroy(attr);
  for (auto md : {any_x, any_w, any_y, any_dw}) dnnl_memory_desc_destroy(md);
  return plan.release();
}

Plan *GetPlan(Engine *r, Kind kind, const int64_t *x, const int64_t *w, int64_t stride, int64_t pad, bool bf16,
              dnnl_format_tag_t act) {
  static PlanCache cache;
  const std::array<int64_t, 12> key = {kind, x[0], x[1], x[2], x[3], w[0], w[2], w[3], stride, pad, bf16, act};
  std::lock_guard<std::mutex> lock(cache.mu);
  auto &slot = cache.plans[key];
  if (!slot) slot.reset(MakePlan(r, kind, x, w, stride, pad, bf16, act));
  return slot.get();
}

bool Reorder(dnnl_stream_t s, Engine *r, const Arg &arg, void *plain, void *inner, bool to_plain) {
  return to_plain ? ExecuteReorder(r, s, arg.reorder, arg.inner, inner, arg.plain, plain)
                  : ExecuteReorder(r, s, arg.reorder, arg.plain, plain, arg.inner, inner);
}

// Blocked copies of the three tensors and the scratchpad, per calling thread, so concurrent
// kernels never share one.
bool Execute(Engine *r, Plan *plan, void *in0, void *in1, void *out) {
  thread_local Buffers<4> buffers;
  dnnl_stream_t stream = ThreadStream(r);
  if (!stream) return false;
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
int Run(Kind kind, int nparam, void **params, int *ndims, int64_t **shapes) {
  const int cfg_index = nparam - 2;
  const int32_t *cfg = static_cast<const int32_t *>(params[cfg_index]);
  Engine *r = GetEngine();
  if (!r) return 1;
  int64_t x[4];
  const dnnl_format_tag_t act = ActivationLayout(ndims[0], shapes[0], x);
  Plan *plan = GetPlan(r, kind, x, shapes[1], cfg[0], cfg[1], cfg[2] != 0, act);
  if (!plan) return 1;
  void *out = params[nparam - 1];
  bool ok = kind == kForward        ? Execute(r, plan, params[0], params[1], out)
            : kind == kBackwardData ? Execute(r, plan, params[2], params[1], out)
                                    : Execute(r, plan, params[0], params[2], out);
  if (!ok) std::fprintf(stderr, "mindcv native op: convolution (kind %d) failed\n", int(kind));
  return ok ? 0 : 1;
}

}  // namespace

extern "C" {

int mindcv_conv_forward(int nparam, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return Run(kForward, nparam, params, ndims, shapes);
}

int mindcv_conv_backward_data(int nparam, void **params, int *ndims, int64_t **shapes, const char **, void *,
                              void *) {
  return Run(kBackwardData, nparam, params, ndims, shapes);
}

int mindcv_conv_backward_weights(int nparam, void **params, int *ndims, int64_t **shapes, const char **, void *,
                                 void *) {
  return Run(kBackwardWeights, nparam, params, ndims, shapes);
}

// 1 when this oneDNN has a bfloat16 convolution on this CPU (it needs AVX-512, AVX2-VNNI-2 or AMX),
// else 0: the self-test records it, so amp_level bf16 can refuse plainly where there is none.
int mindcv_conv_bf16_supported() {
  Engine *r = GetEngine();
  if (!r) return 0;
  const int64_t x[4] = {1, 16, 8, 8}, w[4] = {16, 16, 3, 3};
  int64_t y[4];
  dnnl_primitive_desc_t fwd = nullptr;
  if (ForwardDesc(r, x, w, 1, 1, dnnl_bf16, nullptr, y, &fwd) != dnnl_success) return 0;
  dnnl_primitive_desc_destroy(fwd);
  return 1;
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
