// 2-D convolution (forward, backward-data, backward-weights) for MindSpore `ops.Custom(func_type="aot")`
// on CPU, through the oneDNN library MindSpore already loads (libdnnl.so.3, THREADPOOL runtime).
//
// Why: MindSpore 2.10 runs plain-layout (NCHW) convolutions on AVX-512 CPUs in oneDNN's reference
// kernel. Here the tensors cross the op boundary in NCHW or in the blocked layout of
// onednn_runtime.h, and are reordered where needed to the layouts oneDNN picks itself
// (format_tag::any), which dispatch to its AVX2 / AVX-512 / AMX kernels.
//
// Every entry point has the aot signature; inputs then outputs:
//   mindcv_conv_forward(x, w, cfg) -> y
//   mindcv_conv_backward_data(x, w, dy, cfg) -> dx       (x is read for its shape only)
//   mindcv_conv_backward_weights(x, w, dy, cfg) -> dw    (w is read for its shape only)
// x, w, dy, y, dx, dw are float32; weights OIHW; activations NCHW, or nChw8c / nChw16c (the channel
// block B) as a 5-D tensor (N, C/B, H, W, B), the layout DenseNet's dense blocks keep between ops.
// y and dy are in x's layout, or blocked when x is NCHW: DenseNet's stem convolution takes the
// 3-channel image and hands the blocked layout on (the output's rank says which).
// cfg is int32 {stride, padding, bf16}: the convolution runs in bfloat16 (AVX512_BF16 / AMX) when
// bf16 != 0, the reorders doing the casts; in float32 for a shape and direction oneDNN has no
// bfloat16 kernel for (said once on stderr; mindcv_conv_bf16_supported tells whether this CPU
// has any). Attributes are passed as a tensor because MindSpore 2.10's AotExtra attributes read
// as defaults. Every shape and dtype is checked first: on a mismatch the call writes nothing and
// returns 1, the reason on stderr.

#include "onednn_runtime.h"

namespace {

using namespace mindcv;

enum Kind { kForward, kBackwardData, kBackwardWeights };
const char *const kKindNames[] = {"convolution forward", "convolution backward-data", "convolution backward-weights"};

// Parameter positions, inputs then the output.
struct ForwardParams {
  static constexpr int kX = 0, kW = 1, kCfg = 2, kY = 3, kCount = 4;
};
struct BackwardParams {
  static constexpr int kX = 0, kW = 1, kDy = 2, kCfg = 3, kOut = 4, kCount = 5;  // kOut: dx or dw
};
enum Cfg { kStride, kPadding, kBf16, kCfgSize };

// The convolution of x (N,C,H,W) with w (O,C,KH,KW) at `stride` and symmetric `pad`: output
// size floor((H + 2 pad - KH) / stride) + 1, as nn.Conv2d pad_mode="pad".
struct Geometry {
  int64_t x[4], w[4], y[4];
  dnnl_dims_t strides, dilates = {0, 0}, pad_l, pad_r;

  Geometry(const int64_t *x_dims, const int64_t *w_dims, int64_t stride, int64_t pad)
      : x{x_dims[0], x_dims[1], x_dims[2], x_dims[3]},
        w{w_dims[0], w_dims[1], w_dims[2], w_dims[3]},
        y{x[0], w[0], (x[2] + 2 * pad - w[2]) / stride + 1, (x[3] + 2 * pad - w[3]) / stride + 1},
        strides{stride, stride},
        pad_l{pad, pad},
        pad_r{(y[2] - 1) * stride + w[2] - x[2] - pad, (y[3] - 1) * stride + w[3] - x[3] - pad} {}
};

// One tensor argument: its float32 layout at the op boundary (OIHW weights, NCHW or blocked
// activations), the layout the convolution chose, and the reorder between them (none when they
// are the same, as for blocked activations whose block is the kernel's).
struct Arg {
  int dnnl_arg = 0;
  MemoryDesc plain, inner;
  Primitive reorder;
};

// A convolution of one shape and kind: two inputs, then the output.
struct Plan {
  Op conv;
  std::array<Arg, 3> args;
};

// Completes `arg` from the primitive descriptor's chosen layout; `to_plain` for the output.
dnnl_status_t FinishArg(Engine &engine, const_dnnl_primitive_desc_t pd, Arg &arg, bool to_plain) {
  const_dnnl_memory_desc_t chosen = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg.dnnl_arg);
  MINDCV_TRY(Make(arg.inner, dnnl_memory_desc_clone, chosen));
  if (dnnl_memory_desc_equal(arg.plain.get(), arg.inner.get())) return dnnl_success;
  const_dnnl_memory_desc_t from = to_plain ? arg.inner.get() : arg.plain.get();
  const_dnnl_memory_desc_t to = to_plain ? arg.plain.get() : arg.inner.get();
  PrimitiveDesc reorder;
  MINDCV_TRY(Make(reorder, dnnl_reorder_primitive_desc_create, from, engine.handle.get(), to, engine.handle.get(),
                  const_dnnl_primitive_attr_t{nullptr}));
  return Make(arg.reorder, dnnl_primitive_create, reorder.get());
}

// The forward convolution with every tensor of type `t` in the layout oneDNN prefers; the
// backward descriptors take it as their hint.
dnnl_status_t ForwardDesc(Engine &engine, const Geometry &g, dnnl_data_type_t t, const_dnnl_primitive_attr_t attr,
                          PrimitiveDesc &fwd) {
  MemoryDesc x = Desc(4, g.x, t, dnnl_format_tag_any), w = Desc(4, g.w, t, dnnl_format_tag_any);
  MemoryDesc y = Desc(4, g.y, t, dnnl_format_tag_any);
  return Make(fwd, dnnl_convolution_forward_primitive_desc_create, engine.handle.get(), dnnl_forward_training,
              dnnl_convolution_direct, x.get(), w.get(), const_dnnl_memory_desc_t{nullptr}, y.get(), g.strides,
              g.dilates, g.pad_l, g.pad_r, attr);
}

// Fills `plan` with the convolution of `kind` computed in type `t`, at the op boundary x and dx
// in layout `act`, y and dy in `out_act`. Returns oneDNN's status: dnnl_unimplemented when it has
// no kernel for `t`.
dnnl_status_t MakePlan(Engine &engine, Kind kind, const Geometry &g, dnnl_format_tag_t act,
                       dnnl_format_tag_t out_act, dnnl_data_type_t t, Plan &plan) {
  Attr attr;
  MINDCV_TRY(UserScratchpad(attr));
  PrimitiveDesc fwd, bwd;
  MINDCV_TRY(ForwardDesc(engine, g, t, attr.get(), fwd));
  MemoryDesc any_x = Desc(4, g.x, t, dnnl_format_tag_any), any_w = Desc(4, g.w, t, dnnl_format_tag_any);
  MemoryDesc any_y = Desc(4, g.y, t, dnnl_format_tag_any);
  MemoryDesc any_dw = Desc(4, g.w, dnnl_f32, dnnl_format_tag_any);  // weight gradients accumulate in float32
  auto &a = plan.args;
  if (kind == kForward) {
    a[0] = {DNNL_ARG_SRC, Desc(4, g.x, dnnl_f32, act)};
    a[1] = {DNNL_ARG_WEIGHTS, Desc(4, g.w, dnnl_f32, dnnl_oihw)};
    a[2] = {DNNL_ARG_DST, Desc(4, g.y, dnnl_f32, out_act)};
  } else if (kind == kBackwardData) {
    MINDCV_TRY(Make(bwd, dnnl_convolution_backward_data_primitive_desc_create, engine.handle.get(),
                    dnnl_convolution_direct, any_x.get(), any_w.get(), any_y.get(), g.strides, g.dilates, g.pad_l,
                    g.pad_r, fwd.get(), attr.get()));
    a[0] = {DNNL_ARG_DIFF_DST, Desc(4, g.y, dnnl_f32, out_act)};
    a[1] = {DNNL_ARG_WEIGHTS, Desc(4, g.w, dnnl_f32, dnnl_oihw)};
    a[2] = {DNNL_ARG_DIFF_SRC, Desc(4, g.x, dnnl_f32, act)};
  } else {
    MINDCV_TRY(Make(bwd, dnnl_convolution_backward_weights_primitive_desc_create, engine.handle.get(),
                    dnnl_convolution_direct, any_x.get(), any_dw.get(), const_dnnl_memory_desc_t{nullptr},
                    any_y.get(), g.strides, g.dilates, g.pad_l, g.pad_r, fwd.get(), attr.get()));
    a[0] = {DNNL_ARG_SRC, Desc(4, g.x, dnnl_f32, act)};
    a[1] = {DNNL_ARG_DIFF_DST, Desc(4, g.y, dnnl_f32, out_act)};
    a[2] = {DNNL_ARG_DIFF_WEIGHTS, Desc(4, g.w, dnnl_f32, dnnl_oihw)};
  }
  const_dnnl_primitive_desc_t pd = kind == kForward ? fwd.get() : bwd.get();
  for (int i = 0; i < 3; ++i) MINDCV_TRY(FinishArg(engine, pd, a[i], i == 2));
  return plan.conv.Build(pd);
}

// Said once per process: a bfloat16 convolution oneDNN has no kernel for runs in float32.
void NoteFloat32Fallback(Kind kind, const Geometry &g, int64_t stride) {
  static std::atomic<bool> said{false};
  if (said.exchange(true)) return;
  std::fprintf(stderr,
               "mindcv native op: oneDNN (CPU ISA %d) has no bfloat16 kernel for the %s of the %ldx%ld/%ld "
               "convolution of %ldx%ldx%ldx%ld; it and any other such convolution run in float32\n",
               int(dnnl_get_effective_cpu_isa()), kKindNames[kind], long(g.w[2]), long(g.w[3]), long(stride),
               long(g.x[0]), long(g.x[1]), long(g.x[2]), long(g.x[3]));
}

// The plan of `kind` for this convolution, made at first use; in float32 when `bf16` is asked
// but oneDNN has no bfloat16 kernel for this kind and shape (each direction decides on its own,
// so a step whose forward has one and backward none still runs). Null if it cannot be made.
const Plan *GetPlan(Engine &engine, Kind kind, const Geometry &g, int64_t stride, int64_t pad, bool bf16,
                    dnnl_format_tag_t act, dnnl_format_tag_t out_act) {
  static auto &cache = *new PlanCache<Plan, 13>();  // never freed, like the engine its plans use
  const PlanCache<Plan, 13>::Key key = {kind, g.x[0], g.x[1], g.x[2], g.x[3], g.w[0], g.w[2],
                                        g.w[3], stride, pad,    bf16,   act,    out_act};
  return cache.Get(key, [&](Plan *plan) {
    dnnl_status_t status = MakePlan(engine, kind, g, act, out_act, bf16 ? dnnl_bf16 : dnnl_f32, *plan);
    if (status == dnnl_unimplemented && bf16) {
      NoteFloat32Fallback(kind, g, stride);
      *plan = Plan();
      status = MakePlan(engine, kind, g, act, out_act, dnnl_f32, *plan);
    }
    if (status != dnnl_success) std::fprintf(stderr, "mindcv native op: oneDNN status %d\n", int(status));
    return status;
  });
}

// Runs `plan` on its two inputs and its output at the op boundary: inputs whose layout differs
// from the convolution's are first reordered into scratch copies, the output back from one.
bool Execute(Call &call, const Plan &plan, void *in0, void *in1, void *out) {
  const auto &a = plan.args;
  auto copy_bytes = [&](int i) { return a[i].reorder ? dnnl_memory_desc_get_size(a[i].inner.get()) : 0; };
  Scratch scratch({copy_bytes(0), copy_bytes(1), copy_bytes(2), plan.conv.scratchpad_bytes});
  if (!scratch.ok()) return false;
  void *user[3] = {in0, in1, out}, *inner[3];
  for (int i = 0; i < 3; ++i) inner[i] = a[i].reorder ? scratch.Piece(i) : user[i];
  bool ok = true;
  for (int i = 0; i < 2; ++i) {
    if (!a[i].reorder) continue;
    ok = ok && call.Reorder(a[i].reorder.get(), a[i].plain.get(), user[i], a[i].inner.get(), inner[i]);
  }
  ok = ok && call.Execute(plan.conv,
                          {{a[0].dnnl_arg, a[0].inner.get(), inner[0]},
                           {a[1].dnnl_arg, a[1].inner.get(), inner[1]},
                           {a[2].dnnl_arg, a[2].inner.get(), inner[2]}},
                          scratch.Piece(3));
  if (a[2].reorder) ok = ok && call.Reorder(a[2].reorder.get(), a[2].inner.get(), inner[2], a[2].plain.get(), user[2]);
  return call.Wait() && ok;
}

// Shared body of the three entry points: checks every parameter, then runs the plan.
int Run(Kind kind, const Params &p) {
  const char *op = kKindNames[kind];
  const bool forward = kind == kForward;
  if (p.count != (forward ? ForwardParams::kCount : BackwardParams::kCount)) return Fail(op, "wrong parameter count");
  const int kX = ForwardParams::kX, kW = ForwardParams::kW;  // the same in both
  const int kCfg = forward ? ForwardParams::kCfg : BackwardParams::kCfg;
  const int kOut = forward ? ForwardParams::kY : BackwardParams::kOut;
  Activation x;
  if (!x.Read(p, kX)) return Fail(op, "x is not a float32 (N, C, H, W) or (N, C/B, H, W, B) tensor, B 8 or 16");
  const int64_t *w = p.shapes[kW];  // its dims are read only once its rank is known to be 4
  if (p.ndims[kW] != 4 || !p.Is(kW, {w[0], x.dims[1], w[2], w[3]}) || std::min({w[0], w[2], w[3]}) < 1)
    return Fail(op, "w is not a float32 (O, C, KH, KW) tensor with x's C");
  if (!p.Is(kCfg, {kCfgSize}, "int32")) return Fail(op, "cfg is not an int32 {stride, padding, bf16}");
  const int32_t *cfg = static_cast<const int32_t *>(p.data[kCfg]);
  const int64_t stride = cfg[kStride], pad = cfg[kPadding];
  if (stride < 1 || pad < 0 || (cfg[kBf16] != 0 && cfg[kBf16] != 1)) return Fail(op, "cfg holds a bad value");
  const Geometry g(x.dims, w, stride, pad);
  if (g.y[2] < 1 || g.y[3] < 1) return Fail(op, "the kernel is larger than the padded input");
  // y's (dy's) layout: x's, or blocked when x is NCHW (the tensor's rank says which)
  const int y_index = forward ? kOut : BackwardParams::kDy;
  Activation y;
  const bool y_read = y.Read(p, y_index) && (y.block == x.block || x.block == 0);
  Activation out_layout = x;  // x's batch, y's layout
  out_layout.block = y.block, out_layout.tag = y.tag;
  const bool y_ok = y_read && out_layout.Matches(p, y_index, g.y[1], g.y[2], g.y[3]);
  if (!forward && !y_ok) return Fail(op, "dy's shape is not the forward output's");
  const bool out_ok = forward ? y_ok : kind == kBackwardData ? x.Matches(p, kOut) : p.Is(kOut, 4, w);
  if (!out_ok) return Fail(op, "the output's shape is not the convolution's (O a multiple of B when blocked)");

  Engine *engine = GetEngine();
  if (!engine) return Fail(op, "oneDNN has no CPU engine");
  Call call(*engine);
  if (!call.ok()) return Fail(op, "oneDNN could not make a stream");
  const Plan *plan = GetPlan(*engine, kind, g, stride, pad, cfg[kBf16] != 0, x.tag, y.tag);
  if (!plan) return Fail(op, "oneDNN could not make the primitive");
  void **d = p.data;
  const bool ok = forward                  ? Execute(call, *plan, d[kX], d[kW], d[kOut])
                  : kind == kBackwardData ? Execute(call, *plan, d[BackwardParams::kDy], d[kW], d[kOut])
                                          : Execute(call, *plan, d[kX], d[BackwardParams::kDy], d[kOut]);
  return ok ? 0 : Fail(op, "oneDNN failed to run it");
}

}  // namespace

extern "C" {

int mindcv_conv_forward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                        void *) {
  return Run(kForward, {nparam, params, ndims, shapes, dtypes});
}

int mindcv_conv_backward_data(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                              void *) {
  return Run(kBackwardData, {nparam, params, ndims, shapes, dtypes});
}

int mindcv_conv_backward_weights(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                                 void *, void *) {
  return Run(kBackwardWeights, {nparam, params, ndims, shapes, dtypes});
}

// 1 when this oneDNN has a bfloat16 convolution on this CPU (it needs AVX-512, AVX2-VNNI-2 or AMX),
// else 0: the self-test records it, so amp_level bf16 can refuse plainly where there is none.
int mindcv_conv_bf16_supported() {
  Engine *engine = GetEngine();
  const int64_t x[4] = {1, 16, 8, 8}, w[4] = {16, 16, 3, 3};
  PrimitiveDesc fwd;
  return engine && ForwardDesc(*engine, Geometry(x, w, 1, 1), dnnl_bf16, nullptr, fwd) == dnnl_success;
}

// Channels per block of the blocked layout at oneDNN's effective ISA (onednn_runtime.h).
int mindcv_channel_block() { return ChannelBlock(); }

// The loaded oneDNN's version and CPU runtime, for the load-time check: {major, minor, patch, runtime}.
void mindcv_dnnl_version(int *out) {
  const dnnl_version_t *v = dnnl_version();
  out[0] = v->major;
  out[1] = v->minor;
  out[2] = v->patch;
  out[3] = static_cast<int>(v->cpu_runtime);
}

}  // extern "C"
