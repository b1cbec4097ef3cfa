#include "kernels/kernels.hpp"
#include "liteai/optim/optimizer.hpp"

#include <cmath>
#include <cstring>
#include <numeric>

#include "liteai/core/parallel.hpp"
#include "liteai/optim/quantize.hpp"

namespace liteai::optim {

namespace {
constexpr int64_t kGrain = 1 << 16;        // elements per parallel chunk (elementwise: deterministic)
constexpr int64_t kBlockElements = 1 << 20;  // default row block of update_outer (4 MB: cache-friendly)
constexpr double kFactoredEps = 1e-30;     // Adafactor's eps1: keeps the statistics above zero

// The moments a rule keeps, the map each quantizes with, and whether it may be factored.
struct MomentSpec {
  std::string name;
  QuantMap map;
  bool factorable;
};
std::vector<MomentSpec> moment_specs(OptimizerKind kind, const OptimizerOptions& o) {
  if (kind == OptimizerKind::sgd)
    return o.momentum > 0.f ? std::vector<MomentSpec>{{"momentum", QuantMap::signed_dynamic, false}}
                            : std::vector<MomentSpec>{};
  return {{"m", QuantMap::signed_dynamic, false}, {"v", QuantMap::unsigned_dynamic, true}};
}
const MomentSpec& spec_of(const std::vector<MomentSpec>& specs, const std::string& name) {
  for (const auto& s : specs)
    if (s.name == name) return s;
  throw_error(ErrorKind::internal, str_cat("optimizer: no moment '", name, "'"));
}

enum class FormOf : uint8_t { f32, q8, factored };
FormOf form_for(const OptimizerOptions& o, const Shape& shape, bool factorable) {
  if (numel(shape) < o.min_compact_elements) return FormOf::f32;
  if (factorable && o.factored && shape.size() >= 2) return FormOf::factored;
  return o.state == StatePrecision::q8 ? FormOf::q8 : FormOf::f32;
}
int64_t rows_of(const Shape& s) { return s.size() >= 2 ? s[0] : 1; }
int64_t moment_bytes(FormOf f, const Shape& s) {
  const int64_t n = numel(s), rows = rows_of(s);
  switch (f) {
    case FormOf::f32: return 4 * n;
    case FormOf::q8: return n + 4 * quant_blocks(n);
    case FormOf::factored: return 4 * (rows + n / std::max<int64_t>(1, rows));
  }
  return 0;
}

uint64_t mix64(uint64_t z) {  // the splitmix64 finalizer
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
uint64_t name_hash(const std::string& s) {  // FNV-1a: the same on every platform
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}
}  // namespace

void round_bf16_stochastic(int64_t n, const float* x, uint16_t* y, uint64_t key, int64_t index0) {
  parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      uint32_t bits;
      std::memcpy(&bits, x + k, 4);
      const uint64_t i = uint64_t(index0 + k);
      const uint32_t r = uint32_t(mix64(key + (i >> 2)) >> (16 * (i & 3))) & 0xFFFFu;  // 4 draws per hash
      if ((bits & 0x7F800000u) == 0x7F800000u)  // inf stays inf, NaN stays (quiet) NaN
        y[k] = uint16_t((bits >> 16) | ((bits & 0x007FFFFFu) ? 0x0040u : 0u));
      else
        y[k] = uint16_t((bits + r) >> 16);
    }
  });
}

const char* to_string(StatePrecision p) { return p == StatePrecision::q8 ? "8bit" : "f32"; }

StatePrecision state_precision_from_string(const std::string& name) {
  for (StatePrecision p : {StatePrecision::f32, StatePrecision::q8})
    if (name == to_string(p)) return p;
  throw_error(str_cat("optimizer: unknown state precision '", name, "' (use f32 or 8bit)"));
}

int64_t optimizer_state_bytes(OptimizerKind kind, const OptimizerOptions& o, const std::vector<Shape>& params) {
  int64_t total = 0;
  for (const auto& spec : moment_specs(kind, o))
    for (const Shape& s : params) total += moment_bytes(form_for(o, s, spec.factorable), s);
  return total;
}

int64_t update_block_rows(int64_t rows, int64_t cols, int64_t block_rows, bool quantized) {
  int64_t block = block_rows > 0 ? block_rows : std::max<int64_t>(1, kBlockElements / std::max<int64_t>(1, cols));
  if (quantized) {  // blocks of whole quantization blocks
    const int64_t unit = kQuantBlock / std::gcd(kQuantBlock, cols);
    block = (block + unit - 1) / unit * unit;
  }
  return std::max<int64_t>(1, std::min(block, rows));
}

// ---------------- a moment as the update rules see it ----------------
struct Optimizer::Moment {
  Form form = Form::f32;
  QuantMap map = QuantMap::signed_dynamic;
  float* f32 = nullptr;                        // f32
  uint8_t* codes = nullptr;                    // q8
  float* absmax = nullptr;
  const float* row = nullptr;                  // factored
  const float* col = nullptr;

  // Values [off, off + n) in f32: a pointer into the state (f32) or `buf` filled (q8); off starts
  // a quantization block.
  float* load(int64_t off, int64_t n, float* buf) const {
    if (form == Form::f32) return f32 + off;
    dequantize_block(map, codes + off, absmax[off / kQuantBlock], n, buf);
    return buf;
  }
  void store(int64_t off, int64_t n, const float* x) const {
    if (form == Form::q8) absmax[off / kQuantBlock] = quantize_block(map, x, n, codes + off);
  }
};

// ---------------- Optimizer ----------------
Optimizer::Optimizer(const NamedTensors& params, const OptimizerOptions& o) : opt_(o) {
  LAI_CHECK(o.lr >= 0.f && std::isfinite(o.lr), "optimizer: learning rate must be >= 0, got ", o.lr);
  LAI_CHECK(o.weight_decay >= 0.f, "optimizer: weight_decay must be >= 0, got ", o.weight_decay);
  LAI_CHECK(o.min_compact_elements >= 0, "optimizer: min_compact_elements must be >= 0, got ",
            o.min_compact_elements);
  for (const auto& [name, t] : params) {
    LAI_CHECK(t.defined() && (t.dtype() == DType::f32 || t.dtype() == DType::bf16) && t.is_contiguous(),
              "optimizer: parameter '", name, "' must be a defined contiguous f32 or bf16 tensor");
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

Optimizer::Form Optimizer::form(const Param& p, const std::string& moment) const {
  switch (form_for(opt_, p.tensor.shape(), spec_of(moment_specs(kind(), opt_), moment).factorable)) {
    case FormOf::q8: return Form::q8;
    case FormOf::factored: return Form::factored;
    default: return Form::f32;
  }
}

Optimizer::Moment Optimizer::moment(Param& p, const std::string& name) {
  Moment m;
  m.form = form(p, name);
  m.map = spec_of(moment_specs(kind(), opt_), name).map;
  MemoryScope scope(MemoryCategory::optimizer);
  auto get = [&](const std::string& slot, const Shape& shape, DType dtype) -> Tensor& {
    auto it = p.slots.find(slot);
    if (it == p.slots.end()) it = p.slots.emplace(slot, Tensor::zeros(shape, dtype)).first;
    return it->second;
  };
  switch (m.form) {
    case Form::f32: m.f32 = get(name, p.tensor.shape(), DType::f32).data(); break;
    case Form::q8:
      m.codes = get(name, p.tensor.shape(), DType::u8).data_u8();
      m.absmax = get(name + ".absmax", {quant_blocks(p.tensor.numel())}, DType::f32).data();
      break;
    case Form::factored:
      m.row = get(name + ".row", {p.rows()}, DType::f32).data();
      m.col = get(name + ".col", {p.cols()}, DType::f32).data();
      break;
  }
  return m;
}

void Optimizer::set_l2_grad(const std::string& param, float l2) {
  LAI_CHECK(l2 >= 0.f, "optimizer: l2 must be >= 0, got ", l2);
  params_[index_of(param)].l2_grad = l2;
}

void Optimizer::set_prox(const std::string& param, const Tensor& anchor, float mu) {
  Param& p = params_[index_of(param)];
  LAI_CHECK(std::isfinite(mu) && mu >= 0.f, "optimizer: the proximal mu must be >= 0, got ", mu);
  if (mu == 0.f) {
    p.prox_mu = 0.f;
    p.prox_anchor = Tensor();
    return;
  }
  LAI_CHECK(anchor.defined() && anchor.shape() == p.tensor.shape() && anchor.dtype() == DType::f32 && anchor.is_contiguous(),
            "optimizer: the proximal anchor of '", p.name, "' must be a contiguous f32 tensor of shape ",
            to_string(p.tensor.shape()));
  p.prox_mu = mu;
  p.prox_anchor = anchor;
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

float Optimizer::extra_of(const Param& p) const {
  // Added on the fly inside the update loop, so no extra gradient-sized buffer is needed.
  return 2.f * p.l2_grad + (opt_.decoupled ? 0.f : opt_.weight_decay);
}

float* Optimizer::weights_f32(Param& p, int64_t offset, int64_t n, Tensor* scratch) {
  if (p.tensor.dtype() == DType::f32) return p.tensor.data() + offset;
  if (!scratch->defined() || scratch->numel() < n) {
    MemoryScope scope(MemoryCategory::workspace);
    *scratch = Tensor::empty({n});
  }
  kernels::bf16_to_f32(n, p.tensor.data_bf16() + offset, scratch->data());
  return scratch->data();
}

void Optimizer::store_weights(Param& p, int64_t offset, int64_t n, const float* w) {
  if (p.tensor.dtype() != DType::bf16) return;  // f32: updated in place
  // A key per parameter and update: other draws each step, the same after a resume (p.t is saved).
  const uint64_t key = mix64(name_hash(p.name) ^ mix64(uint64_t(p.t)));
  round_bf16_stochastic(n, w, p.tensor.data_bf16() + offset, key, offset);
}

void Optimizer::run_update(Param& p, const GradientRows& grad, int64_t block_rows) {
  // A streamed parameter must get exactly one gradient per step: a second one would apply a
  // second update from a partial gradient.
  LAI_CHECK(!p.streamed || p.t <= steps_, "optimizer: parameter '", p.name,
            "' received two gradients in one step; streamed updates need it used once per forward pass");
  const int64_t rows = p.rows(), cols = p.cols();
  bool quantized = false;
  for (const auto& s : moment_specs(kind(), opt_)) quantized |= form(p, s.name) == Form::q8;
  const int64_t block = update_block_rows(rows, cols, block_rows, quantized);
  ++p.t;
  const float extra = extra_of(p);
  // FedProx: the rows handed to the rule carry + mu * (w - anchor), computed into a scratch block
  // from the weights before that block's update (the statistics pass sees the same values).
  GradientRows grad_prox;
  Tensor scratch, wscratch;  // the FedProx rows; bf16 weights decoded
  if (p.prox_mu > 0.f) {
    grad_prox = [&, inner = grad](int64_t r0, int64_t r1) {
      const float* g = inner(r0, r1);
      const int64_t n = (r1 - r0) * cols;
      if (!scratch.defined() || scratch.numel() < n) {
        MemoryScope scope(MemoryCategory::workspace);
        scratch = Tensor::empty({n});
      }
      float* d = scratch.data();
      const float* w = weights_f32(p, r0 * cols, n, &wscratch);
      const float* a = p.prox_anchor.data() + r0 * cols;
      const float mu = p.prox_mu;
      parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) {
        for (int64_t k = b; k < e; ++k) d[k] = g[k] + mu * (w[k] - a[k]);
      });
      return static_cast<const float*>(d);
    };
  }
  const GradientRows& rows_of = grad_prox ? grad_prox : grad;
  if (needs_statistics(p)) {
    for (int64_t r0 = 0; r0 < rows; r0 += block) {
      const int64_t r1 = std::min(rows, r0 + block);
      const float* g = rows_of(r0, r1);
      accumulate_statistics(p, g, weights_f32(p, r0 * cols, (r1 - r0) * cols, &wscratch), extra, r0, r1);
    }
    finish_statistics(p);
  }
  for (int64_t r0 = 0; r0 < rows; r0 += block) {
    const int64_t r1 = std::min(rows, r0 + block);
    const float* g = rows_of(r0, r1);
    float* w = weights_f32(p, r0 * cols, (r1 - r0) * cols, &wscratch);
    apply(p, g, w, extra, r0 * cols, (r1 - r0) * cols);
    store_weights(p, r0 * cols, (r1 - r0) * cols, w);
  }
}

void Optimizer::update(size_t index, const Tensor& grad_in) {
  Param& p = params_.at(index);
  LAI_CHECK(grad_in.shape() == p.tensor.shape(), "optimizer: gradient of '", p.name, "' has shape ",
            to_string(grad_in.shape()), ", the parameter ", to_string(p.tensor.shape()));
  Tensor g = grad_in.contiguous();
  const float* base = g.data();
  const int64_t cols = p.cols();
  run_update(p, [base, cols](int64_t r0, int64_t) { return base + r0 * cols; }, p.rows());
}

void Optimizer::update_outer(size_t index, const Tensor& x_in, const Tensor& g_in, int64_t block_rows) {
  Param& p = params_.at(index);
  LAI_CHECK(p.tensor.dim() == 2 && x_in.dim() == 2 && g_in.dim() == 2 && x_in.size(1) == p.tensor.size(0) &&
                g_in.size(1) == p.tensor.size(1) && x_in.size(0) == g_in.size(0),
            "optimizer: gradient factors x ", to_string(x_in.shape()), " and g ", to_string(g_in.shape()),
            " do not make the gradient x^T g of parameter '", p.name, "' ", to_string(p.tensor.shape()));
  LAI_CHECK(block_rows >= 0, "optimizer: block_rows must be >= 0, got ", block_rows);
  Tensor x = x_in.contiguous(), g = g_in.contiguous();
  const int64_t n = x.size(0), in = p.rows(), out = p.cols();
  Tensor block;  // one row block of the gradient at a time
  run_update(
      p,
      [&](int64_t r0, int64_t r1) {
        if (!block.defined() || block.numel() < (r1 - r0) * out) {
          MemoryScope scope(MemoryCategory::workspace);
          block = Tensor::empty({r1 - r0, out});
        }
        kernels::sgemm(true, false, r1 - r0, out, n, 1.f, x.data() + r0, in, g.data(), out, 0.f, block.data(), out);
        return static_cast<const float*>(block.data());
      },
      block_rows);
}

void Optimizer::update_rows(size_t index, int64_t row0, const Tensor& rows_in) {
  Param& p = params_.at(index);
  LAI_CHECK(p.tensor.dim() == 2 && rows_in.dim() == 2 && rows_in.size(1) == p.tensor.size(1) && row0 >= 0 &&
                row0 + rows_in.size(0) <= p.tensor.size(0),
            "optimizer: row block ", to_string(rows_in.shape()), " at row ", row0, " does not fit parameter '", p.name,
            "' ", to_string(p.tensor.shape()));
  const int64_t offset = row0 * p.cols(), n = rows_in.numel();
  for (const auto& s : moment_specs(kind(), opt_)) {
    const Form f = form(p, s.name);
    LAI_CHECK(f != Form::factored, "optimizer: the factored second moment of '", p.name,
              "' needs the whole gradient before any update; hand over its factors (update_outer)");
    LAI_CHECK(f != Form::q8 || (offset % kQuantBlock == 0 && (n % kQuantBlock == 0 || offset + n == p.tensor.numel())),
              "optimizer: with 8-bit state, row blocks of '", p.name, "' must cover whole blocks of ", kQuantBlock,
              " elements (rows ", row0, "..", row0 + rows_in.size(0), " of ", p.cols(), " columns do not)");
  }
  if (row0 == 0) {
    LAI_CHECK(p.t <= steps_, "optimizer: parameter '", p.name,
              "' received two gradients in one step; streamed updates need it used once per forward pass");
    ++p.t;
  }
  Tensor g = rows_in.contiguous(), wscratch;
  float* w = weights_f32(p, offset, n, &wscratch);
  if (p.prox_mu > 0.f) {  // FedProx term on these rows
    g = g.clone();
    float* d = g.data();
    const float* a = p.prox_anchor.data() + offset;
    const float mu = p.prox_mu;
    parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) d[k] += mu * (w[k] - a[k]);
    });
  }
  apply(p, g.data(), w, extra_of(p), offset, n);
  store_weights(p, offset, n, w);
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

int64_t Optimizer::state_bytes() const {
  int64_t total = 0;
  for (const auto& p : params_)
    for (const auto& [s, t] : p.slots) total += t.numel() * int64_t(dtype_size(t.dtype()));
  return total;
}

std::map<std::string, double> Optimizer::state_meta() const {
  std::map<std::string, double> m;
  m["steps"] = static_cast<double>(steps_);
  m["lr"] = opt_.lr;
  for (const auto& p : params_) m["t." + p.name] = static_cast<double>(p.t);
  return m;
}

namespace {
// A saved moment in whatever form it was written, read back in f32 one quantization block at a time.
struct SavedMoment {
  std::string what;  // "<param>.<moment>" for messages
  Tensor full;       // f32 or u8 codes
  Tensor absmax;     // with u8 codes
  Tensor row, col;   // factored
  QuantMap map = QuantMap::signed_dynamic;
  double inv_mean_row = 0;

  bool empty() const { return !full.defined() && !row.defined(); }
  void read(int64_t off, int64_t n, int64_t cols, float* out) const {
    if (row.defined()) {
      const float* r = row.data();
      const float* c = col.data();
      for (int64_t k = 0; k < n; ++k)
        out[k] = static_cast<float>(r[(off + k) / cols] * double(c[(off + k) % cols]) * inv_mean_row);
    } else if (full.dtype() == DType::u8) {
      dequantize_block(map, full.data_u8() + off, absmax.data()[off / kQuantBlock], n, out);
    } else {
      std::copy(full.data() + off, full.data() + off + n, out);
    }
  }
};
}  // namespace

void Optimizer::load_state(const NamedTensors& tensors, const std::map<std::string, double>& meta, bool adopt) {
  std::map<std::string, Tensor> by_name(tensors.begin(), tensors.end());
  auto take = [&](const std::string& name) {
    auto it = by_name.find(name);
    if (it == by_name.end()) return Tensor();
    Tensor t = it->second;
    by_name.erase(it);
    return t;
  };
  auto check = [](const Tensor& t, const std::string& name, const Shape& shape, DType dtype) {
    LAI_CHECK(t.shape() == shape && t.dtype() == dtype, "optimizer state: '", name, "' is ", t.describe(), ", expected ",
              dtype_name(dtype), " ", to_string(shape));
  };
  for (auto& p : params_) {
    const Shape& shape = p.tensor.shape();
    const int64_t n = p.tensor.numel(), rows = p.rows(), cols = p.cols();
    for (const auto& spec : moment_specs(kind(), opt_)) {
      const std::string base = p.name + "." + spec.name;
      SavedMoment saved{base, take(base), Tensor(), take(base + ".row"), take(base + ".col"), spec.map};
      if (saved.empty()) continue;
      if (saved.row.defined()) {
        LAI_CHECK(!saved.full.defined() && saved.col.defined(), "optimizer state: '", base,
                  "' is both full and factored, or lacks its column statistics");
        check(saved.row, base + ".row", {rows}, DType::f32);
        check(saved.col, base + ".col", {cols}, DType::f32);
        saved.row = saved.row.contiguous();
        saved.col = saved.col.contiguous();
        double mean = 0;
        for (float v : saved.row.to_vector()) mean += v;
        mean /= double(rows);
        saved.inv_mean_row = mean > 0 ? 1.0 / mean : 0.0;
      } else {
        LAI_CHECK(saved.full.dtype() != DType::bf16, "optimizer state: '", base, "' is bf16 (f32 or u8 expected)");
        check(saved.full, base, shape, saved.full.dtype());
        saved.full = saved.full.contiguous();
        if (saved.full.dtype() == DType::u8) {
          saved.absmax = take(base + ".absmax");
          LAI_CHECK(saved.absmax.defined(), "optimizer state: '", base, "' holds 8-bit codes but no '", base,
                    ".absmax'");
          check(saved.absmax, base + ".absmax", {quant_blocks(n)}, DType::f32);
          saved.absmax = saved.absmax.contiguous();
        }
      }
      const Form want = form(p, spec.name);
      const bool same = (want == Form::factored) == saved.row.defined() &&
                        (want != Form::q8 || (saved.full.defined() && saved.full.dtype() == DType::u8)) &&
                        (want != Form::f32 || (saved.full.defined() && saved.full.dtype() == DType::f32));
      const std::string prefix = spec.name + ".";
      for (auto it = p.slots.begin(); it != p.slots.end();)  // what this moment held so far
        it = it->first == spec.name || it->first.rfind(prefix, 0) == 0 ? p.slots.erase(it) : std::next(it);
      if (same) {  // the same form: adopt or copy, bit for bit
        auto put = [&](const std::string& slot, const Tensor& src) {
          if (adopt && !src.storage()->read_only()) {
            p.slots[slot] = src;
          } else {
            MemoryScope scope(MemoryCategory::optimizer);
            p.slots[slot] = src.clone();
            src.storage()->release_pages(0, src.storage()->bytes());  // a mapped file's: read once
          }
          memory_retag(p.slots[slot].storage(), MemoryCategory::optimizer);
        };
        if (saved.row.defined()) {
          put(spec.name + ".row", saved.row);
          put(spec.name + ".col", saved.col);
        } else {
          put(spec.name, saved.full);
          if (saved.absmax.defined()) put(spec.name + ".absmax", saved.absmax);
        }
        continue;
      }
      // Another form: convert one quantization block at a time (no full-size f32 copy).
      Moment m = moment(p, spec.name);
      const bool factored = want == Form::factored;
      std::vector<double> row_mean(factored ? size_t(rows) : 0), col_mean(factored ? size_t(cols) : 0);
      float buf[kQuantBlock];
      for (int64_t off = 0; off < n; off += kQuantBlock) {
        const int64_t len = std::min(kQuantBlock, n - off);
        saved.read(off, len, cols, buf);
        if (want == Form::factored) {
          for (int64_t k = 0; k < len; ++k) {
            row_mean[size_t((off + k) / cols)] += buf[k] / double(cols);
            col_mean[size_t((off + k) % cols)] += buf[k] / double(rows);
          }
        } else if (want == Form::q8) {
          m.store(off, len, buf);
        } else {
          std::copy(buf, buf + len, m.f32 + off);
        }
      }
      if (want == Form::factored) {
        float* r = p.slots[spec.name + ".row"].data();
        float* c = p.slots[spec.name + ".col"].data();
        for (int64_t i = 0; i < rows; ++i) r[i] = static_cast<float>(row_mean[size_t(i)]);
        for (int64_t j = 0; j < cols; ++j) c[j] = static_cast<float>(col_mean[size_t(j)]);
      }
    }
    auto t = meta.find("t." + p.name);
    if (t != meta.end()) p.t = static_cast<int64_t>(t->second);
  }
  LAI_CHECK(by_name.empty(), "optimizer state: tensor '", by_name.empty() ? "" : by_name.begin()->first,
            "' matches no parameter of this ", name(), " optimizer");
  if (auto it = meta.find("steps"); it != meta.end()) steps_ = static_cast<int64_t>(it->second);
  if (auto it = meta.find("lr"); it != meta.end()) opt_.lr = static_cast<float>(it->second);
}

// Runs fn(off, len) over the quantization blocks of [offset, offset + n), in parallel.
template <class F>
static void for_each_quant_block(int64_t offset, int64_t n, F fn) {
  const int64_t blocks = quant_blocks(n);
  parallel_for(0, blocks, std::max<int64_t>(1, kGrain / kQuantBlock), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t off = offset + i * kQuantBlock;
      fn(off, std::min(kQuantBlock, offset + n - off));
    }
  });
}

// ---------------- SGD ----------------
SGD::SGD(const NamedTensors& params, const OptimizerOptions& o) : Optimizer(params, o) {
  LAI_CHECK(o.momentum >= 0.f && o.momentum < 1.f, "sgd: momentum must be in [0, 1), got ", o.momentum);
  LAI_CHECK(!o.nesterov || o.momentum > 0.f, "sgd: nesterov needs momentum > 0");
}

void SGD::apply(Param& p, const float* g_in, float* w_in, float extra, int64_t offset, int64_t n) {
  const float lr = opt_.lr, mom = opt_.momentum, decay = opt_.decoupled ? 1.f - opt_.lr * opt_.weight_decay : 1.f;
  const bool nesterov = opt_.nesterov, first = p.t == 1;
  // g, w and the momentum buffer of the same n elements (buf null without momentum)
  auto rule = [=](const float* g, float* w, float* buf, int64_t len) {
    for (int64_t k = 0; k < len; ++k) {
      float d = g[k] + extra * w[k];
      if (buf) {
        buf[k] = first ? d : mom * buf[k] + d;  // PyTorch: the first step's buffer is the gradient
        d = nesterov ? d + mom * buf[k] : buf[k];
      }
      w[k] = w[k] * decay - lr * d;
    }
  };
  if (mom == 0.f) {
    parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) { rule(g_in + b, w_in + b, nullptr, e - b); });
    return;
  }
  const Moment buf = moment(p, "momentum");
  for_each_quant_block(offset, n, [&](int64_t off, int64_t len) {
    float local[kQuantBlock];
    float* b = buf.load(off, len, local);
    rule(g_in + (off - offset), w_in + (off - offset), b, len);
    buf.store(off, len, b);
  });
}

// ---------------- Adam ----------------
Adam::Adam(const NamedTensors& params, const OptimizerOptions& o) : Optimizer(params, o) {
  LAI_CHECK(o.beta1 >= 0.f && o.beta1 < 1.f && o.beta2 >= 0.f && o.beta2 < 1.f, "adam: betas must be in [0, 1), got ",
            o.beta1, ", ", o.beta2);
  LAI_CHECK(o.eps > 0.f, "adam: eps must be > 0, got ", o.eps);
}

bool Adam::needs_statistics(const Param& p) const { return form(p, "v") == Form::factored; }

void Adam::accumulate_statistics(Param& p, const float* g, const float* w, float extra, int64_t r0, int64_t r1) {
  const int64_t cols = p.cols();
  if (r0 == 0) {
    row_sum_.assign(size_t(p.rows()), 0.0);
    col_sum_.assign(size_t(cols), 0.0);
  }
  // Sums of squares of g + extra * w per row and per column; columns summed per chunk of rows,
  // then over the chunks in order (deterministic whatever the thread count).
  constexpr int64_t kRows = 64;
  const int64_t chunks = (r1 - r0 + kRows - 1) / kRows;
  std::vector<double> part(size_t(chunks * cols), 0.0);
  parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      double* colp = part.data() + c * cols;
      for (int64_t i = r0 + c * kRows; i < std::min(r1, r0 + (c + 1) * kRows); ++i) {
        const float* gi = g + (i - r0) * cols;
        const float* wi = w + (i - r0) * cols;
        double s = 0;
        for (int64_t j = 0; j < cols; ++j) {
          const double d = double(gi[j]) + double(extra) * wi[j], d2 = d * d;
          s += d2;
          colp[j] += d2;
        }
        row_sum_[size_t(i)] = s;
      }
    }
  });
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t j = 0; j < cols; ++j) col_sum_[size_t(j)] += part[size_t(c * cols + j)];
}

void Adam::finish_statistics(Param& p) {
  const Moment v = moment(p, "v");
  float* row = const_cast<float*>(v.row);
  float* col = const_cast<float*>(v.col);
  const double b2 = opt_.beta2, rows = double(p.rows()), cols = double(p.cols());
  double mean = 0;
  for (size_t i = 0; i < row_sum_.size(); ++i) {
    row[i] = static_cast<float>(b2 * row[i] + (1 - b2) * (row_sum_[i] / cols + kFactoredEps));
    mean += row[i];
  }
  for (size_t j = 0; j < col_sum_.size(); ++j)
    col[j] = static_cast<float>(b2 * col[j] + (1 - b2) * (col_sum_[j] / rows + kFactoredEps));
  mean /= rows;
  inv_mean_row_ = static_cast<float>(1.0 / mean);
}

void Adam::apply(Param& p, const float* g, float* w, float extra, int64_t offset, int64_t n) {
  const float b1 = opt_.beta1, b2 = opt_.beta2, eps = opt_.eps;
  const double t = static_cast<double>(p.t);
  const float c1 = static_cast<float>(1.0 / (1.0 - std::pow(double(b1), t)));
  const float c2 = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(double(b2), t)));
  const float decay = opt_.decoupled ? 1.f - opt_.lr * opt_.weight_decay : 1.f;
  kernels::AdamStep step{opt_.lr, b1, b2, eps, c1, c2, decay, extra};
  const Moment m = moment(p, "m"), v = moment(p, "v");
  if (m.form == Form::f32 && v.form == Form::f32) {
    // PyTorch's form, w -= lr * mhat / (sqrt(vhat) + eps), vectorized and split over threads.
    kernels::adam_update(n, step, g, w, m.f32 + offset, v.f32 + offset);
    return;
  }
  // A factored v is already this step's average: the kernel keeps it as it is (beta2 = 1).
  const bool factored = v.form == Form::factored;
  if (factored) step.beta2 = 1.f;
  const int64_t cols = p.cols();
  const float inv_mean = inv_mean_row_;
  for_each_quant_block(offset, n, [&](int64_t off, int64_t len) {
    float mbuf[kQuantBlock], vbuf[kQuantBlock];
    float* mk = m.load(off, len, mbuf);
    float* vk = vbuf;
    if (factored) {  // v[i][j] = r[i] c[j] / mean(r), row by row of the block
      for (int64_t k = 0, i = off / cols, j = off % cols; k < len; ++i, j = 0) {
        const float ri = v.row[i] * inv_mean;
        const int64_t run = std::min(cols - j, len - k);
        for (int64_t q = 0; q < run; ++q) vbuf[k + q] = ri * v.col[j + q];
        k += run;
      }
    } else {
      vk = v.load(off, len, vbuf);
    }
    kernels::adam_update(len, step, g + (off - offset), w + (off - offset), mk, vk);
    m.store(off, len, mk);
    if (!factored) v.store(off, len, vk);
  });
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
