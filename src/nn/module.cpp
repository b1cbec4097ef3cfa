#include "liteai/nn/module.hpp"

#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "liteai/autograd/autograd.hpp"
#include "liteai/nn/checkpoint.hpp"
#include "liteai/nn/tap.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::nn {

namespace {
std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}
std::string with_commas(int64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}
}  // namespace

std::string MemoryReport::to_string() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s parameters, %.1f MB (+%.1f MB buffers)", with_commas(parameters).c_str(),
                parameter_bytes / 1048576.0, buffer_bytes / 1048576.0);
  return buf;
}

namespace {
thread_local const ForwardTap* t_tap = nullptr;
}  // namespace
TapScope::TapScope(const ForwardTap& tap) : prev_(t_tap) { t_tap = &tap; }
TapScope::~TapScope() { t_tap = prev_; }
const ForwardTap* active_tap() { return t_tap; }

Tensor Module::run(const Tensor& x) {
  Tensor y = checkpointing_ ? checkpoint(*this, x) : forward(x);
  if (t_tap && t_tap->module) y = t_tap->module(*this, y);
  return y;
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool is_kernel, float l2) {
  LAI_CHECK(t.defined(), "Module: parameter '", name, "' is undefined");
  for (const auto& p : params_) LAI_CHECK(p.name != name, "Module: parameter '", name, "' registered twice");
  t.set_requires_grad(true);
  params_.push_back({name, t, is_kernel, l2});
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  for (const auto& b : buffers_) LAI_CHECK(b.first != name, "Module: buffer '", name, "' registered twice");
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  LAI_CHECK(m != nullptr, "Module: child '", name, "' is null");
  LAI_CHECK(!name.empty() && name.find('.') == std::string::npos, "Module: child name '", name,
            "' must be non-empty and contain no '.'");
  for (const auto& c : children_) LAI_CHECK(c.first != name, "Module: child '", name, "' registered twice");
  m->train(training_);
  m->set_training_precision(training_precision_);
  m->set_inference_precision(inference_precision_);
  children_.emplace_back(name, std::move(m));
}

void Module::clear_children() { children_.clear(); }

void Module::collect(const std::string& prefix, std::vector<ParameterInfo>* params, NamedTensors* buffers) const {
  if (params)
    for (const auto& p : params_) params->push_back({join(prefix, p.name), p.tensor, p.is_kernel, p.l2});
  if (buffers)
    for (const auto& b : buffers_) buffers->emplace_back(join(prefix, b.first), b.second);
  for (const auto& [name, child] : children_) child->collect(join(prefix, name), params, buffers);
}

std::vector<ParameterInfo> Module::parameter_infos() const {
  std::vector<ParameterInfo> out;
  collect("", &out, nullptr);
  return out;
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  for (auto& p : parameter_infos()) out.emplace_back(p.name, p.tensor);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", nullptr, &out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& p : parameter_infos()) out.push_back(p.tensor);
  return out;
}

NamedTensors Module::state() const {
  NamedTensors out = named_parameters();
  for (auto& b : named_buffers()) out.push_back(b);
  return out;
}

void Module::load_state(const NamedTensors& values, bool strict) {
  std::map<std::string, Tensor> mine;
  for (auto& [n, t] : state()) mine[n] = t;
  std::set<std::string> seen;
  for (const auto& [name, v] : values) {
    auto it = mine.find(name);
    LAI_CHECK(it != mine.end(), "load_state: the model has no tensor named '", name, "'");
    LAI_CHECK(it->second.shape() == v.shape(), "load_state: tensor '", name, "' has shape ", to_string(v.shape()),
              ", the model expects ", to_string(it->second.shape()));
    it->second.copy_from(v);
    seen.insert(name);
  }
  if (strict)
    for (const auto& [name, t] : mine)
      LAI_CHECK(seen.count(name), "load_state: tensor '", name, "' is missing from the loaded state");
  refresh_derived_all();
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (auto& p : parameter_infos()) n += p.tensor.numel();
  return n;
}

MemoryReport Module::memory() const {
  MemoryReport r;
  r.parameters = parameter_count();
  r.parameter_bytes = r.parameters * 4;
  for (auto& [n, b] : named_buffers()) r.buffer_bytes += b.numel() * 4;
  return r;
}

std::string Module::summary() const {
  std::ostringstream os;
  // Depth-first over the tree; a leaf layer (no children) gets one line.
  struct Walk {
    std::ostringstream& os;
    void operator()(const Module& m, const std::string& name) {
      if (m.children().empty() || !name.empty()) {
        int64_t own = 0;
        for (const auto& p : m.params_) own += p.tensor.numel();
        char buf[64];
        std::snprintf(buf, sizeof buf, "%14s", with_commas(own).c_str());
        os << "  " << (name.empty() ? std::string("(root)") : name);
        for (size_t i = name.size(); i < 24; ++i) os << ' ';
        os << ' ' << buf << "  " << m.describe() << "\n";
      }
      for (const auto& [cn, c] : m.children()) (*this)(*c, join(name, cn));
    }
  };
  os << "  layer                        parameters  description\n";
  Walk{os}(*this, "");
  os << "  total: " << memory().to_string() << "\n";
  return os.str();
}

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
  refresh_derived();
}

const char* to_string(Precision p) {
  switch (p) {
    case Precision::f32: return "f32";
    case Precision::bf16_storage: return "bf16-storage";
    case Precision::bf16_compute: return "bf16-compute";
  }
  return "?";
}

Precision precision_from_string(const std::string& s) {
  for (Precision p : {Precision::f32, Precision::bf16_storage, Precision::bf16_compute})
    if (s == to_string(p)) return p;
  if (s == "bf16") return Precision::bf16_storage;
  throw_error(str_cat("precision: unknown name '", s, "' (use f32, bf16-storage (or bf16) or bf16-compute)"));
}

void Module::set_inference_precision(Precision p) {
  inference_precision_ = p;
  for (auto& c : children_) c.second->set_inference_precision(p);
  refresh_derived();
}

void Module::set_training_precision(Precision p) {
  training_precision_ = p;
  for (auto& c : children_) c.second->set_training_precision(p);
}

void Module::refresh_derived_all() {
  for (auto& c : children_) c.second->refresh_derived_all();
  refresh_derived();
}

Tensor Module::regularization_loss() const {
  Tensor total;
  for (const auto& p : parameter_infos()) {
    if (!p.is_kernel || p.l2 == 0.f) continue;
    Tensor term = ops::mul_scalar(ops::sum(ops::mul(p.tensor, p.tensor)), p.l2);
    total = total.defined() ? ops::add(total, term) : term;
  }
  return total;
}

void Module::set_kernel_l2(float l2) {
  for (auto& p : params_)
    if (p.is_kernel) p.l2 = l2;
  for (auto& c : children_) c.second->set_kernel_l2(l2);
}

void Module::zero_grad() {
  for (auto& p : parameter_infos()) p.tensor.zero_grad();
}

void Module::set_requires_grad(bool on) {
  for (auto& p : parameter_infos()) p.tensor.set_requires_grad(on);
}

}  // namespace liteai::nn
