#include "liteai/app/options.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "liteai/core/error.hpp"

namespace liteai::app {
namespace {

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A number as people read it: integers without a fraction, others with up to 6 significant digits.
std::string show_number(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
  else std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string exact_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string join_choices(const std::vector<std::string>& c) {
  std::string s;
  for (size_t i = 0; i < c.size(); ++i) s += (i == 0 ? "" : i + 1 == c.size() ? " or " : ", ") + c[i];
  return s;
}

bool parse_int64(const std::string& t, int64_t* out) {
  if (t.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(t.c_str(), &end, 10);
  if (errno == ERANGE || !end || *end != '\0') return false;
  *out = v;
  return true;
}

bool parse_double(const std::string& t, double* out) {
  if (t.empty()) return false;
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (!end || *end != '\0' || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

std::optional<bool> parse_bool(const std::string& t) {
  const std::string l = lower(t);
  if (l == "yes" || l == "true" || l == "on" || l == "1") return true;
  if (l == "no" || l == "false" || l == "off" || l == "0") return false;
  return std::nullopt;
}

std::string range_text(const OptionSpec& s) {
  const bool lo = std::isfinite(s.min), hi = std::isfinite(s.max);
  if (lo && hi) return "in " + show_number(s.min) + ".." + show_number(s.max);
  if (lo) return ">= " + show_number(s.min);
  if (hi) return "<= " + show_number(s.max);
  return "";
}

std::vector<std::string> split_list(const std::string& t) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(t);
  while (std::getline(in, cur, ',')) out.push_back(trim(cur));
  return out;
}

}  // namespace

const char* to_string(OptionType t) {
  switch (t) {
    case OptionType::flag: return "flag";
    case OptionType::boolean: return "boolean";
    case OptionType::integer: return "integer";
    case OptionType::bytes: return "bytes";
    case OptionType::number: return "number";
    case OptionType::text: return "text";
    case OptionType::path: return "path";
    case OptionType::choice: return "choice";
    case OptionType::list: return "list";
  }
  return "?";
}

std::string option_label(const std::string& name, OptionStyle style) {
  return style == OptionStyle::cli ? "--" + name : "option '" + name + "'";
}

int64_t parse_bytes(const std::string& text) {
  const std::string t = lower(trim(text));
  size_t i = 0;
  while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
  double v = 0;
  LAI_CHECK(i > 0 && parse_double(t.substr(0, i), &v) && v >= 0, "expects a size such as 512M or 1G, got '", text, "'");
  std::string unit = trim(t.substr(i));
  if (unit.size() > 1 && unit.back() == 'b') unit.pop_back();  // "mb", "gib" -> "m", "gi"
  if (unit.size() > 1 && unit.back() == 'i') unit.pop_back();
  double mul = 1;
  if (unit.empty() || unit == "b") mul = 1;
  else if (unit == "k") mul = 1024.0;
  else if (unit == "m") mul = 1024.0 * 1024.0;
  else if (unit == "g") mul = 1024.0 * 1024.0 * 1024.0;
  else if (unit == "t") mul = 1024.0 * 1024.0 * 1024.0 * 1024.0;
  else throw_error(str_cat("expects a size such as 512M or 1G, got '", text, "' (units K, M, G, T)"));
  const double bytes = v * mul;
  LAI_CHECK(bytes < 9.0e18, "size '", text, "' is too large");
  return static_cast<int64_t>(std::llround(bytes));
}

std::string format_bytes(int64_t b) {
  char buf[64];
  const double v = double(b);
  if (v >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.2f GiB", v / (1024.0 * 1024 * 1024));
  else if (v >= 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.1f MiB", v / (1024.0 * 1024));
  else if (v >= 1024.0) std::snprintf(buf, sizeof buf, "%.1f KiB", v / 1024.0);
  else std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(b));
  return buf;
}

// ---------------------------------------------------------------- OptionSet

namespace {
OptionSpec make_spec(const std::string& name, OptionType type, std::string def, double min, double max,
                     std::vector<std::string> choices, const std::string& help) {
  OptionSpec s;
  s.name = name;
  s.type = type;
  s.default_text = std::move(def);
  s.min = min;
  s.max = max;
  s.choices = std::move(choices);
  s.help = help;
  return s;
}
}  // namespace

OptionSet::OptionSet(std::string task, std::string summary) : task_(std::move(task)), summary_(std::move(summary)) {}

OptionSet& OptionSet::group(std::string heading) {
  group_ = std::move(heading);
  return *this;
}

OptionSet& OptionSet::add(OptionSpec spec) {
  LAI_CHECK(!spec.name.empty() && find(spec.name) == nullptr, task_, ": option '", spec.name,
            "' is declared twice (or has no name)");
  if (spec.group.empty()) spec.group = group_;
  specs_.push_back(std::move(spec));
  return *this;
}

OptionSet& OptionSet::flag(const std::string& name, const std::string& help, bool on_by_default) {
  return add(make_spec(name, OptionType::flag, on_by_default ? "true" : "false", -INFINITY, INFINITY, {}, help));
}
OptionSet& OptionSet::boolean(const std::string& name, std::optional<bool> def, const std::string& help) {
  return add(make_spec(name, OptionType::boolean, def ? (*def ? "true" : "false") : "", -INFINITY, INFINITY, {}, help));
}
OptionSet& OptionSet::integer(const std::string& name, std::optional<int64_t> def, int64_t min, int64_t max,
                              const std::string& help) {
  return add(make_spec(name, OptionType::integer, def ? std::to_string(*def) : "",
              min == std::numeric_limits<int64_t>::min() ? -INFINITY : double(min),
              max == std::numeric_limits<int64_t>::max() ? INFINITY : double(max), {}, help));
}
OptionSet& OptionSet::bytes(const std::string& name, std::optional<int64_t> def, int64_t min, int64_t max,
                            const std::string& help) {
  return add(make_spec(name, OptionType::bytes, def ? std::to_string(*def) : "", double(min),
              max == std::numeric_limits<int64_t>::max() ? INFINITY : double(max), {}, help));
}
OptionSet& OptionSet::number(const std::string& name, std::optional<double> def, double min, double max,
                             const std::string& help) {
  return add(make_spec(name, OptionType::number, def ? exact_number(*def) : "", min, max, {}, help));
}
OptionSet& OptionSet::text(const std::string& name, std::optional<std::string> def, const std::string& help) {
  return add(make_spec(name, OptionType::text, def.value_or(""), -INFINITY, INFINITY, {}, help));
}
OptionSet& OptionSet::path(const std::string& name, const std::string& help, const std::string& metavar) {
  OptionSpec s = make_spec(name, OptionType::path, "", -INFINITY, INFINITY, {}, help);
  s.metavar = metavar;
  return add(std::move(s));
}
OptionSet& OptionSet::choice(const std::string& name, std::optional<std::string> def, std::vector<std::string> choices,
                             const std::string& help) {
  LAI_CHECK(!def || std::find(choices.begin(), choices.end(), *def) != choices.end(), task_, ": default of '", name,
            "' is not one of its choices");
  return add(make_spec(name, OptionType::choice, def.value_or(""), -INFINITY, INFINITY, std::move(choices), help));
}
OptionSet& OptionSet::list(const std::string& name, const std::string& help) {
  return add(make_spec(name, OptionType::list, "", -INFINITY, INFINITY, {}, help));
}

OptionSet& OptionSet::include(const OptionSet& other) {
  for (const OptionSpec& s : other.specs_) add(s);
  return *this;
}

OptionSet& OptionSet::hide(const std::string& name) {
  for (OptionSpec& s : specs_)
    if (s.name == name) s.hidden = true;
  return *this;
}

const OptionSpec* OptionSet::find(const std::string& name) const {
  for (const OptionSpec& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

const OptionSpec& OptionSet::at(const std::string& name) const {
  const OptionSpec* s = find(name);
  if (!s) {
    std::string known;
    for (const OptionSpec& o : specs_)
      if (!o.hidden) known += (known.empty() ? "" : ", ") + o.name;
    throw_error(str_cat(task_, ": unknown option '", name, "' (", task_, " takes: ", known, ")"));
  }
  return *s;
}

std::string OptionSet::help(const std::string& usage) const {
  std::ostringstream os;
  os << usage;
  if (!usage.empty() && usage.back() != '\n') os << '\n';
  os << '\n' << summary_ << '\n';
  std::string group = "\x01";
  for (const OptionSpec& s : specs_) {
    if (s.hidden) continue;
    if (s.group != group) {
      group = s.group;
      os << '\n' << (group.empty() ? std::string("options") : group) << ":\n";
    }
    std::string left = "  --" + s.name;
    switch (s.type) {
      case OptionType::flag: break;
      case OptionType::boolean: left += " yes|no"; break;
      case OptionType::integer: left += " N"; break;
      case OptionType::bytes: left += " SIZE"; break;
      case OptionType::number: left += " X"; break;
      case OptionType::text: left += " TEXT"; break;
      case OptionType::path: left += " " + (s.metavar.empty() ? std::string("PATH") : s.metavar); break;
      case OptionType::choice: {
        std::string c;
        for (const auto& x : s.choices) c += (c.empty() ? "" : "|") + x;
        left += " " + c;
        break;
      }
      case OptionType::list: left += " A,B,..."; break;
    }
    std::string right = s.help;
    std::string extra;
    if (s.type == OptionType::flag) {
      if (s.default_text == "true") extra = "on by default; --no-" + s.name + " turns it off";
    } else if (!s.default_text.empty()) {
      std::string d = s.default_text;
      if (s.type == OptionType::number) {
        double v = 0;
        parse_double(d, &v);
        d = show_number(v);
      } else if (s.type == OptionType::boolean) {
        d = d == "true" ? "yes" : "no";
      } else if (s.type == OptionType::bytes) {
        int64_t v = 0;
        parse_int64(d, &v);
        d = format_bytes(v);
      }
      extra = "default " + d;
    }
    const std::string range = (s.type == OptionType::integer || s.type == OptionType::number) ? range_text(s) : "";
    if (!range.empty()) extra += (extra.empty() ? "" : "; ") + range;
    if (!extra.empty()) right += (right.empty() ? "" : " ") + ("(" + extra + ")");
    if (left.size() < 30) {
      left.resize(30, ' ');
      os << left << right << '\n';
    } else {
      os << left << "\n" << std::string(30, ' ') << right << '\n';
    }
  }
  return os.str();
}

io::Json OptionSet::describe() const {
  io::Json a = io::Json::array();
  for (const OptionSpec& s : specs_) {
    io::Json o = io::Json::object();
    o.set("name", s.name);
    o.set("type", to_string(s.type));
    o.set("default", s.default_text.empty() ? io::Json() : io::Json(s.default_text));
    if (std::isfinite(s.min)) o.set("min", s.min);
    if (std::isfinite(s.max)) o.set("max", s.max);
    if (!s.choices.empty()) o.set("choices", io::Json::array_of(s.choices));
    o.set("help", s.help);
    o.set("group", s.group);
    if (s.hidden) o.set("hidden", true);
    a.push_back(std::move(o));
  }
  return a;
}

// ---------------------------------------------------------------- Options

Options::Options(const OptionSet& set) : set_(&set) {}

const OptionSpec& Options::spec_of(const std::string& name) const { return set_->at(name); }

void Options::set(const std::string& name, const std::string& text_in, OptionStyle style) {
  const OptionSpec& s = spec_of(name);
  const std::string label = set_->task() + ": " + option_label(name, style);
  const std::string text = trim(text_in);
  auto check_range = [&](double v, const std::string& shown) {
    LAI_CHECK(v >= s.min && v <= s.max, label, " must be ", range_text(s), ", got ", shown);
  };
  std::string normal;
  switch (s.type) {
    case OptionType::flag:
    case OptionType::boolean: {
      const std::optional<bool> b = parse_bool(text);
      LAI_CHECK(b.has_value(), label, " must be yes or no, got '", text_in, "'");
      normal = *b ? "true" : "false";
      break;
    }
    case OptionType::integer: {
      int64_t v = 0;
      LAI_CHECK(parse_int64(text, &v), set_->task(), ": option ", style == OptionStyle::cli ? "--" + name : "'" + name + "'",
                " expects an integer, got '", text_in, "'");
      check_range(double(v), text);
      normal = std::to_string(v);
      break;
    }
    case OptionType::bytes: {
      int64_t v = 0;
      try {
        v = parse_bytes(text);
      } catch (const Error& e) {
        throw_error(str_cat(label, " ", e.what()));
      }
      LAI_CHECK(double(v) >= s.min && double(v) <= s.max, label, " must be between ", format_bytes(int64_t(s.min)),
                " and ", std::isfinite(s.max) ? format_bytes(int64_t(s.max)) : std::string("any size"), ", got ", text);
      normal = std::to_string(v);
      break;
    }
    case OptionType::number: {
      double v = 0;
      LAI_CHECK(parse_double(text, &v), set_->task(), ": option ", style == OptionStyle::cli ? "--" + name : "'" + name + "'",
                " expects a number, got '", text_in, "'");
      check_range(v, text);
      normal = exact_number(v);
      break;
    }
    case OptionType::text:
    case OptionType::path:
      LAI_CHECK(!text_in.empty(), label, " needs a value");
      LAI_CHECK(text_in.find('\0') == std::string::npos, label, " contains a NUL byte");
      normal = text_in;  // paths keep their spaces
      break;
    case OptionType::choice:
      LAI_CHECK(std::find(s.choices.begin(), s.choices.end(), text) != s.choices.end(), label, " must be ",
                join_choices(s.choices), ", got '", text_in, "'");
      normal = text;
      break;
    case OptionType::list: {
      LAI_CHECK(!text.empty(), label, " needs a value");
      for (const std::string& item : split_list(text)) {
        LAI_CHECK(!item.empty(), label, ": empty item in '", text_in, "'");
        if (std::isfinite(s.min) || std::isfinite(s.max)) {
          double v = 0;
          LAI_CHECK(parse_double(item, &v), label, " expects numbers, got '", item, "'");
          check_range(v, item);
        }
      }
      normal = text;
      break;
    }
  }
  values_[name] = normal;
}

void Options::set_int(const std::string& name, int64_t v, OptionStyle style) {
  const OptionSpec& s = spec_of(name);
  if (s.type == OptionType::number) return set_number(name, double(v), style);
  if (s.type == OptionType::flag || s.type == OptionType::boolean) return set_bool(name, v != 0, style);
  LAI_CHECK(s.type == OptionType::integer || s.type == OptionType::bytes, set_->task(), ": ",
            option_label(name, style), " is a ", to_string(s.type), ", not an integer");
  set(name, std::to_string(v), style);
}

void Options::set_number(const std::string& name, double v, OptionStyle style) {
  const OptionSpec& s = spec_of(name);
  if (s.type == OptionType::integer || s.type == OptionType::bytes) {
    LAI_CHECK(std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.0e18, set_->task(), ": ",
              option_label(name, style), " expects an integer, got ", show_number(v));
    return set(name, std::to_string(static_cast<int64_t>(v)), style);
  }
  LAI_CHECK(s.type == OptionType::number, set_->task(), ": ", option_label(name, style), " is a ", to_string(s.type),
            ", not a number");
  LAI_CHECK(std::isfinite(v), set_->task(), ": ", option_label(name, style), " must be a finite number, got ",
            show_number(v));
  set(name, exact_number(v), style);
}

void Options::set_bool(const std::string& name, bool v, OptionStyle style) {
  const OptionSpec& s = spec_of(name);
  LAI_CHECK(s.type == OptionType::flag || s.type == OptionType::boolean, set_->task(), ": ", option_label(name, style),
            " is a ", to_string(s.type), ", not a yes/no option");
  values_[name] = v ? "true" : "false";
}

void Options::unset(const std::string& name) {
  spec_of(name);
  values_.erase(name);
}

bool Options::has(const std::string& name) const {
  spec_of(name);
  return values_.count(name) != 0;
}

std::string Options::raw(const std::string& name) const {
  const OptionSpec& s = spec_of(name);
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  LAI_CHECK(!s.default_text.empty(), set_->task(), ": --", name, " is required", s.help.empty() ? "" : " (", s.help,
            s.help.empty() ? "" : ")");
  return s.default_text;
}

bool Options::get_bool(const std::string& name) const { return raw(name) == "true"; }

int64_t Options::get_int(const std::string& name) const {
  int64_t v = 0;
  const std::string r = raw(name);
  LAI_CHECK(parse_int64(r, &v), set_->task(), ": option '", name, "' is not an integer");
  return v;
}

double Options::get_number(const std::string& name) const {
  double v = 0;
  const std::string r = raw(name);
  LAI_CHECK(parse_double(r, &v), set_->task(), ": option '", name, "' is not a number");
  return v;
}

std::string Options::get_text(const std::string& name) const { return raw(name); }

std::vector<std::string> Options::get_list(const std::string& name) const {
  if (!has(name) && spec_of(name).default_text.empty()) return {};
  return split_list(raw(name));
}

std::vector<double> Options::get_numbers(const std::string& name) const {
  std::vector<double> out;
  for (const std::string& s : get_list(name)) {
    double v = 0;
    LAI_CHECK(parse_double(s, &v), set_->task(), ": option '", name, "' expects numbers, got '", s, "'");
    out.push_back(v);
  }
  return out;
}

int64_t Options::get_int_or(const std::string& name, int64_t fallback) const {
  return has(name) || !spec_of(name).default_text.empty() ? get_int(name) : fallback;
}
double Options::get_number_or(const std::string& name, double fallback) const {
  return has(name) || !spec_of(name).default_text.empty() ? get_number(name) : fallback;
}
std::string Options::get_text_or(const std::string& name, const std::string& fallback) const {
  return has(name) || !spec_of(name).default_text.empty() ? get_text(name) : fallback;
}

void Options::require(const std::string& name, OptionStyle style) const {
  const OptionSpec& s = spec_of(name);
  const std::string label = style == OptionStyle::cli ? "--" + name + (s.metavar.empty() ? "" : " " + s.metavar)
                                                      : "option '" + name + "'";
  LAI_CHECK(has(name), set_->task(), ": ", label, " is required", s.help.empty() ? "" : " (", s.help,
            s.help.empty() ? "" : ")");
}

io::Json Options::to_json() const {
  io::Json o = io::Json::object();
  for (const OptionSpec& s : set_->specs()) {
    auto it = values_.find(s.name);
    if (it == values_.end()) continue;
    switch (s.type) {
      case OptionType::flag:
      case OptionType::boolean: o.set(s.name, it->second == "true"); break;
      case OptionType::integer:
      case OptionType::bytes: o.set(s.name, static_cast<long long>(get_int(s.name))); break;
      case OptionType::number: o.set(s.name, get_number(s.name)); break;
      default: o.set(s.name, it->second);
    }
  }
  return o;
}

// ---------------------------------------------------------------- command lines

ParsedArgs parse_args(const OptionSet& set, const std::vector<std::string>& args) {
  ParsedArgs r{Options(set), {}, false};
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a.size() < 2 || a[0] != '-' || (a.size() > 1 && std::isdigit(static_cast<unsigned char>(a[1])))) {
      r.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      r.help = true;
      continue;
    }
    LAI_CHECK(a.rfind("--", 0) == 0, set.task(), ": unknown option ", a, " (options are --name; try --help)");
    std::string key = a.substr(2), value;
    const size_t eq = key.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    }
    const OptionSpec* s = set.find(key);
    if (!s && key.rfind("no-", 0) == 0) {  // --no-flag
      const OptionSpec* f = set.find(key.substr(3));
      if (f && f->type == OptionType::flag && !inline_value) {
        r.options.set_bool(f->name, false, OptionStyle::cli);
        continue;
      }
    }
    LAI_CHECK(s != nullptr, set.task(), ": unknown option --", key, " (try --help)");
    if (s->type == OptionType::flag) {
      r.options.set(key, inline_value ? value : "yes", OptionStyle::cli);
      continue;
    }
    if (!inline_value) {
      LAI_CHECK(i + 1 < args.size(), set.task(), ": option --", key, " needs a value");
      value = args[++i];
    }
    r.options.set(key, value, OptionStyle::cli);
  }
  return r;
}

}  // namespace liteai::app
