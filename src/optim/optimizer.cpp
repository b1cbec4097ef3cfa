#include "kernels/kernels.hpp"
#include "liteai/optim/optimizer.hpp"

#include <cmath>

#include "liteai/core/parallel.hpp"

namespace liteai::optim {

namespace {
constexpr int64_t kGrain = 1 << 16;  // elements per parallel chunk (elementwise: deterministic)
}

Optimizer::Optimizer(const NamedTensors& params, const OptimizerOptions& o) : opt_(o) {
  LAI_CHECK(o.lr >= 0.f && std::isfinite(o.lr), "optimizer: learning rate must be >= 0, got ", o.lr);
  LAI_CHECK(o.weight_decay >= 0.f, "optimizer: weight_decay must be >= 0, got ", o.weight_decay);
  for (const auto& [name, t] : params) {
    LAI_CHECK(t.defined() && t.dtype() == DType::f32 && t.is_contiguous(), "optimizer: parameter '", name,
              "' must be a defined contiguous f32 tensor");
    for (const auto& p : params_) LAI_CHECK(p.name != name, "optimizer: parameter '", name, "' given twice");
    Param p;
    p.name = name;
    p.tensor = t;
    params_.push_back(std::move(p));
  }
}

Optimizer::~Optimizer() { stop_streaming(); }

size_t Optimizer::index_of(const std::string& name) const {
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].name == name) return i;
  throw_error(str_cat("optimizer: no parameter named '", name, "'"));
}

Tensor& Optimizer::slot(Param& p, const std::string& s) {
  auto it = p.slots.find(s);
  if (it == p.slots.end()) it = p.slots.emplace(s, Tensor::zeros(p.tensor.shape())).first;
  return it->second;
}

void Optimizer::set_l2_grad(const std::string& param, float l2) {
  LAI_CHECK(l2 >= 0.f, "optimizer: l2 must be >= 0, got ", l2);
  params_[index_of(param)].l2_grad = l2;
}

void Optimizer::stream_updates(const std::string& param, bool install_hook) {
  const size_t i = index_of(param);
  Param& p = params_[i];
  p.streamed = true;
  p.tensor.zero_grad();
  if (install_hook) p.tensor.impl()->grad_hook = [this, i](const Tensor& g) { update(i, g); };
}

void Optimizer::stop_streaming() {
  for (auto& p : params_)
    if (p.streamed) {
      p.tensor.impl()->grad_hook = nullptr;
      p.streamed = false;
    }
}

bool Optimizer::is_streamed(const std::string& param) const { return params_[index_of(param)].streamed; }

void Optimizer::update(size_t index, const Tensor& grad_in) {
  Param& p = params_.at(index);
  LAI_CHECK(grad_in.shape() == p.tensor.shape(), "optimizer: gradient of '", p.name, "' has shape ",
            to_string(grad_in.shape()), ", the parameter ", to_string(p.tensor.shape()));
  // A streamed parameter must get exactly one gradient per step: a second one would apply a
  // second update from a partial gradient.
  LAI_CHECK(!p.streamed || p.t <= steps_, "optimizer: parameter '", p.name,
            "' received two gradients in one step; streamed updates need it used once per forward pass");
  Tensor g = grad_in.contiguous();
  // Added on the fly inside the update loop, so no extra gradient-sized buffer is needed.
  const float extra = 2.f * p.l2_grad + (opt_.decoupled ? 0.f : opt_.weight_decay);
  ++p.t;
  apply(p, g.data(), extra, 0, p.tensor.numel());
}

void Optimizer::update_rows(size_t index, int64_t row0, const Tensor& rows_in) {
  Param& p = params_.at(index);
  LAI_CHECK(p.tensor.dim() == 2 && rows_in.dim() == 2 && rows_in.size(1) == p.tensor.size(1) && row0 >= 0 &&
                row0 + rows_in.size(0) <= p.tensor.size(0),
            "optimizer: row block ", to_string(rows_in.shape()), " at row ", row0, " does not fit parameter '", p.name,
            "' ", to_string(p.tensor.shape()));
  if (row0 == 0) {
    LAI_CHECK(p.t <= steps_, "optimizer: parameter '", p.name,
              "' received two gradients in one step; streamed updates need it used once per forward pass");
    ++p.t;
  }
  Tensor g = rows_in.contiguous();
  const float extra = 2.f * p.l2_grad + (opt_.decoupled ? 0.f : opt_.weight_decay);
  apply(p, g.data(), extra, row0 * p.tensor.size(1), g.numel());
}

void Optimizer::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    Param& p = params_[i];
    if (p.streamed) continue;
    Tensor g = p.tensor.grad();
    if (!g.defined()) continue;
    update(i, g);
  }
  ++steps_;
}

void Optimizer::zero_grad() {
  for (auto& p : params_) p.tensor.zero_grad();
}

double Optimizer::grad_norm() const {
  double s = 0;
  for (const auto& p : params_) {
    if (p.streamed) continue;
    Tensor g = p.tensor.grad();
    if (!g.defined()) continue;
    for (float v : g.to_vector()) s += double(v) * v;
  }
  return std::sqrt(s);
}

NamedTensors Optimizer::state() const {
  NamedTensors out;
  for (const auto& p : params_)
    for (const auto& [s, t] : p.slots) out.emplace_back(p.name + "." + s, t);
  return out;
}

std::map<std::string, double> Optimizer::state_meta() const {
  std::map<std::string, double> m;
  m["steps"] = static_cast<double>(steps_);
  m["lr"] = opt_.lr;
  for (const auto& p : params_) m["t." + p.name] = static_cast<double>(p.t);
  return m;
}

void Optimizer::load_state(const NamedTensors& tensors, const std::map<std::string, double>& meta, bool adopt) {
  std::map<std::string, Tensor> by_name(tensors.begin(), tensors.end());
  for (auto& p : params_) {
    for (const auto& s : slot_names()) {
      auto it = by_name.find(p.name + "." + s);
      if (it == by_name.end()) continue;
      LAI_CHECK(it->second.shape() == p.tensor.shape(), "optimizer state: '", it->first, "' has shape ",
                to_string(it->second.shape()), ", the parameter ", to_string(p.tensor.shape()));
      const Tensor& src = it->second;
      if (adopt && src.dtype() == DType::f32 && src.is_contiguous())
        p.slots[s] = src;
      else
        slot(p, s).copy_from(src);
      by_name.erase(it);
    }
    auto t = meta.find("t." + p.name);
    if (t != meta.end()) p.t = static_cast<int64_t>(t->second);
  }
  LAI_CHECK(by_name.empty(), "optimizer state: tensor '", by_name.empty() ? "" : by_name.begin()->first,
            "' matches no parameter of this ", name(), " optimizer");
  if (auto it = meta.find("steps"); it != meta.end()) steps_ = static_cast<int64_t>(it->second);
  if (auto it = meta.find("lr"); it != meta.end()) opt_.lr = static_cast<float>(it->second);
}

// ---------------- SGD ----------------
SGD::SGD(const NamedTensors& params, const OptimizerOptions& o) : Optimizer(params, o) {
  LAI_CHECK(o.momentum >= 0.f && o.momentum < 1.f, "sgd: momentum must be in [0, 1), got ", o.momentum);
  LAI_CHECK(!o.nesterov || o.momentum > 0.f, "sgd: nesterov needs momentum > 0");
}

void SGD::apply(Param& p, const float* g, float extra, int64_t offset, int64_t n) {
  float* w = p.tensor.data() + offset;
  const float lr = opt_.lr, mom = opt_.momentum, decay = opt_.decoupled ? 1.f - opt_.lr * opt_.weight_decay : 1.f;
  const bool nesterov = opt_.nesterov, first = p.t == 1;
  float* buf = mom > 0.f ? slot(p, "momentum").data() + offset : nullptr;
  parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      float d = g[k] + extra * w[k];
      if (buf) {
        buf[k] = first ? d : mom * buf[k] + d;  // PyTorch: the first step's buffer is the gradient
        d = nesterov ? d + mom * buf[k] : buf[k];
      }
      w[k] = w[k] * decay - lr * d;
    }
  });
}

// ---------------- Adam ----------------
Adam::Adam(const NamedTensors& params, const OptimizerOptions& o) : Optimizer(params, o) {
  LAI_CHECK(o.beta1 >= 0.f && o.beta1 < 1.f && o.beta2 >= 0.f && o.beta2 < 1.f, "adam: betas must be in [0, 1), got ",
            o.beta1, ", ", o.beta2);
  LAI_CHECK(o.eps > 0.f, "adam: eps must be > 0, got ", o.eps);
}

void Adam::apply(Param& p, const float* g, float extra, int64_t offset, int64_t n) {
  float* w = p.tensor.data() + offset;
  float* m = slot(p, "m").data() + offset;
  float* v = slot(p, "v").data() + offset;
  const float b1 = opt_.beta1, b2 = opt_.beta2, eps = opt_.eps;
  const double t = static_cast<double>(p.t);
  const float c1 = static_cast<float>(1.0 / (1.0 - std::pow(double(b1), t)));
  const float c2 = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(double(b2), t)));
  const float decay = opt_.decoupled ? 1.f - opt_.lr * opt_.weight_decay : 1.f;
  // PyTorch's form, w -= lr * mhat / (sqrt(vhat) + eps), vectorized and split over threads.
  kernels::adam_update(n, kernels::AdamStep{opt_.lr, b1, b2, eps, c1, c2, decay, extra}, g, w, m, v);
}

AdamW::AdamW(const NamedTensors& params, OptimizerOptions o)
    : Adam(params, [&] {
        o.decoupled = true;
        if (o.weight_decay == 0.f) o.weight_decay = 0.01f;
        return o;
      }()) {}

const char* to_string(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::sgd: return "sgd";
    case OptimizerKind::adam: return "adam";
    case OptimizerKind::adamw: return "adamw";
  }
  return "?";
}

OptimizerKind optimizer_from_string(const std::string& name) {
  for (OptimizerKind k : {OptimizerKind::sgd, OptimizerKind::adam, OptimizerKind::adamw})
    if (name == to_string(k)) return k;
  throw_error(str_cat("optimizer: unknown name '", name, "' (use sgd, adam or adamw)"));
}

std::unique_ptr<Optimizer> make_optimizer(OptimizerKind kind, const NamedTensors& params, const OptimizerOptions& o) {
  switch (kind) {
    case OptimizerKind::sgd: return std::make_unique<SGD>(params, o);
    case OptimizerKind::adam: return std::make_unique<Adam>(params, o);
    case OptimizerKind::adamw: return std::make_unique<AdamW>(params, o);
  }
  throw_error("optimizer: unknown kind");
}

const char* to_string(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::constant: return "constant";
    case ScheduleKind::step: return "step";
    case ScheduleKind::cosine: return "cosine";
  }
  return "?";
}

ScheduleKind schedule_from_string(const std::string& name) {
  for (ScheduleKind k : {ScheduleKind::constant, ScheduleKind::step, ScheduleKind::cosine})
    if (name == to_string(k)) return k;
  throw_error(str_cat("lr schedule: unknown kind '", name, "' (use constant, step or cosine)"));
}

// ---------------- schedules ----------------
LRSchedule::LRSchedule(float base_lr, const ScheduleOptions& o) : base_(base_lr), o_(o) {
  LAI_CHECK(o.warmup_steps >= 0, "lr schedule: warmup_steps must be >= 0");
  LAI_CHECK(o.kind != ScheduleKind::step || o.step_size > 0, "lr schedule: step_size must be > 0");
  LAI_CHECK(o.kind != ScheduleKind::cosine || o.total_steps > o.warmup_steps,
            "lr schedule: cosine needs total_steps > warmup_steps, got total_steps=", o.total_steps);
}

float LRSchedule::at(int64_t step) const {
  if (step < o_.warmup_steps) return base_ * static_cast<float>(step + 1) / static_cast<float>(o_.warmup_steps);
  const int64_t s = step - o_.warmup_steps;
  if (o_.kind == ScheduleKind::step) return base_ * std::pow(o_.gamma, static_cast<float>(s / o_.step_size));
  if (o_.kind == ScheduleKind::cosine) {
    const double span = static_cast<double>(o_.total_steps - o_.warmup_steps);
    const double f = std::min(1.0, static_cast<double>(s) / span);
    return static_cast<float>(o_.min_lr + (base_ - o_.min_lr) * 0.5 * (1.0 + std::cos(M_PI * f)));
  }
  return base_;
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  LAI_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be > 0, got ", max_norm);
  double s = 0;
  for (const auto& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    for (float v : g.to_vector()) s += double(v) * v;
  }
  const double norm = std::sqrt(s);
  if (norm > max_norm) {
    const float scale = static_cast<float>(max_norm / (norm + 1e-6));
    for (const auto& p : params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      Tensor scaled = Tensor::empty(g.shape());
      std::vector<float> v = g.to_vector();
      for (size_t k = 0; k < v.size(); ++k) scaled.data()[k] = v[k] * scale;
      Tensor handle = p;
      handle.set_grad(scaled);
    }
  }
  return norm;
}

}  // namespace liteai::optim
