#include "liteai/io/json.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_set>

#include "liteai/io/file.hpp"

namespace liteai::io {

namespace {

constexpr int kMaxDepth = 512;  // deep enough for any real document, shallow enough for the stack

std::string quoted(std::string_view s) {
  std::string r = "'";
  // Keep messages short and printable.
  for (size_t i = 0; i < s.size() && i < 64; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    r += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (s.size() > 64) r += "...";
  return r + "'";
}

// Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid (overlong, surrogate,
// above U+10FFFF, truncated).
size_t utf8_sequence(const unsigned char* p, size_t left) {
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (left < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;  // overlong
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;                          // surrogate
  if (cp > 0x10ffff) return 0;
  return n;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

void dump_string(std::string& out, const std::string& s) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = p[i];
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      case '\b': out += "\\b"; ++i; continue;
      case '\f': out += "\\f"; ++i; continue;
      default: break;
    }
    if (c < 0x20) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
      ++i;
      continue;
    }
    const size_t n = utf8_sequence(p + i, s.size() - i);
    if (n == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD: the output must stay valid UTF-8 (and parse back)
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  out += '"';
}

void dump_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
  out.append(buf, r.ptr);
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view what) : s_(text), what_(what) {}

  Json document() {
    if (s_.size() >= 3 && std::memcmp(s_.data(), "\xef\xbb\xbf", 3) == 0) pos_ = 3;  // BOM
    skip_ws();
    if (pos_ >= s_.size()) fail("empty document");
    Json v = value(0);
    skip_ws();
    if (pos_ < s_.size()) fail("unexpected " + describe_here() + " after the value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const { fail_at(pos_, msg); }
  [[noreturn]] void fail_at(size_t at, const std::string& msg) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    throw_error(ErrorKind::format, str_cat(what_, ": invalid JSON at line ", line, ", column ", col, ": ", msg));
  }
  std::string describe_here() const {
    if (pos_ >= s_.size()) return "end of input";
    const unsigned char c = static_cast<unsigned char>(s_[pos_]);
    if (c >= 0x20 && c < 0x7f) return std::string("character '") + static_cast<char>(c) + "'";
    char buf[16];
    std::snprintf(buf, sizeof(buf), "byte 0x%02x", c);
    return buf;
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void literal(const char* word) {
    const size_t n = std::strlen(word);
    if (s_.compare(pos_, n, word) != 0) fail("unexpected " + describe_here() + " (expected a value)");
    pos_ += n;
  }

  Json value(int depth) {
    if (depth > kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    if (pos_ >= s_.size()) fail("unexpected end of input (expected a value)");
    const char c = s_[pos_];
    switch (c) {
      case '{': return object(depth);
      case '[': return array(depth);
      case '"': return Json(string());
      case 't': literal("true"); return Json(true);
      case 'f': literal("false"); return Json(false);
      case 'n': literal("null"); return Json();
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return number();
        fail("unexpected " + describe_here() + " (expected a value)");
    }
  }

  Json object(int depth) {
    ++pos_;  // '{'
    Json::Object members;
    std::unordered_set<std::string> seen;  // hashed: a hostile file with many keys must not hang us
    skip_ws();
    if (eat('}')) return Json(std::move(members));
    for (;;) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') fail("unexpected " + describe_here() + " (expected a string key)");
      const size_t key_at = pos_;
      std::string key = string();
      if (!seen.insert(key).second) fail_at(key_at, "duplicate key " + quoted(key));
      skip_ws();
      if (!eat(':')) fail("unexpected " + describe_here() + " (expected ':' after key " + quoted(key) + ")");
      skip_ws();
      Json v = value(depth + 1);
      members.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (eat('}')) break;
      if (!eat(',')) fail("unexpected " + describe_here() + " (expected ',' or '}' in object)");
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == '}') fail("trailing comma in object");
    }
    Json out;
    out = Json(Json::Object{});
    out.as_object() = std::move(members);  // keys already checked unique
    return out;
  }

  Json array(int depth) {
    ++pos_;  // '['
    Json::Array items;
    skip_ws();
    if (eat(']')) return Json(std::move(items));
    for (;;) {
      skip_ws();
      items.push_back(value(depth + 1));
      skip_ws();
      if (eat(']')) break;
      if (!eat(',')) fail("unexpected " + describe_here() + " (expected ',' or ']' in array)");
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ']') fail("trailing comma in array");
    }
    return Json(std::move(items));
  }

  uint32_t hex4() {
    if (s_.size() - pos_ < 4) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f') v |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= uint32_t(c - 'A' + 10);
      else { --pos_; fail("bad hex digit in \\u escape"); }
    }
    return v;
  }

  std::string string() {
    const size_t start = pos_;
    ++pos_;  // '"'
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail_at(start, "unterminated string");
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail("control character in string (must be escaped)");
      if (c == '\\') {
        ++pos_;
        if (pos_ >= s_.size()) fail_at(start, "unterminated string");
        const char e = s_[pos_++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            uint32_t cp = hex4();
            if (cp >= 0xd800 && cp <= 0xdbff) {
              if (s_.compare(pos_, 2, "\\u") != 0) fail("unpaired UTF-16 surrogate in \\u escape");
              pos_ += 2;
              const uint32_t lo = hex4();
              if (lo < 0xdc00 || lo > 0xdfff) fail("unpaired UTF-16 surrogate in \\u escape");
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
              fail("unpaired UTF-16 surrogate in \\u escape");
            }
            append_utf8(out, cp);
            break;
          }
          default: --pos_; fail("bad escape sequence in string");
        }
        continue;
      }
      const size_t n = utf8_sequence(reinterpret_cast<const unsigned char*>(s_.data()) + pos_, s_.size() - pos_);
      if (n == 0) fail("invalid UTF-8 in string");
      out.append(s_, pos_, n);
      pos_ += n;
    }
  }

  Json number() {
    const size_t start = pos_;
    auto digit = [&] { return pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'; };
    eat('-');
    if (!digit()) fail("expected a digit in number");
    if (s_[pos_] == '0') {
      ++pos_;
      if (digit()) fail_at(start, "leading zero in number");
    } else {
      while (digit()) ++pos_;
    }
    bool integral = true;
    if (eat('.')) {
      integral = false;
      if (!digit()) fail("expected a digit after '.' in number");
      while (digit()) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (!eat('+')) eat('-');
      if (!digit()) fail("expected a digit in the exponent of a number");
      while (digit()) ++pos_;
    }
    const char* b = s_.data() + start;
    const char* e = s_.data() + pos_;
    if (integral) {
      long long iv = 0;
      const auto r = std::from_chars(b, e, iv);
      if (r.ec == std::errc() && r.ptr == e) return Json(iv);
      // Too large for int64: keep it as a double.
    }
    double dv = 0;
    const auto r = std::from_chars(b, e, dv);
    if (r.ec == std::errc::result_out_of_range) {
      // Underflow (tiny magnitude) is harmless: 0. Overflow is not representable.
      const std::string_view lit(b, size_t(e - b));
      const bool tiny = lit.find("e-") != std::string_view::npos || lit.find("E-") != std::string_view::npos ||
                        lit.starts_with("0.") || lit.starts_with("-0.");
      if (!tiny) fail_at(start, "number " + std::string(lit.substr(0, 40)) + " is out of range");
      dv = lit[0] == '-' ? -0.0 : 0.0;
    } else if (r.ec != std::errc() || r.ptr != e) {
      fail_at(start, "malformed number");
    }
    return Json(dv);
  }

  std::string_view s_;
  std::string_view what_;
  size_t pos_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

void Json::set_uint(unsigned long long v) {
  LAI_CHECK(v <= static_cast<unsigned long long>(INT64_MAX), "json: integer ", v, " does not fit int64");
  set_int(static_cast<long long>(v));
}

Json::Json(float v) : type_(Type::number), num_(static_cast<double>(v)) {
  if (!std::isfinite(v)) return;
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  double d = 0;
  if (std::from_chars(buf, r.ptr, d).ec == std::errc()) num_ = d;
}

Json::Json(Object o) : type_(Type::object) {
  std::unordered_set<std::string_view> seen;
  for (const auto& m : o) LAI_CHECK_FORMAT(seen.insert(m.first).second, "json: duplicate key ", quoted(m.first), " in object");
  obj_ = std::move(o);
}

const char* Json::type_name() const {
  switch (type_) {
    case Type::null: return "null";
    case Type::boolean: return "bool";
    case Type::number: return "number";
    case Type::string: return "string";
    case Type::array: return "array";
    case Type::object: return "object";
  }
  return "?";
}

bool Json::is_integer() const {
  if (type_ != Type::number) return false;
  if (int_exact_) return true;
  return std::isfinite(num_) && std::trunc(num_) == num_ && num_ >= -9223372036854775808.0 &&
         num_ < 9223372036854775808.0;
}

void Json::type_error(std::string_view what, const char* expected) const {
  throw_error(ErrorKind::format, str_cat(what, ": must be ", expected, " (found ", type_name(), ")"));
}

bool Json::as_bool(std::string_view what) const {
  if (type_ != Type::boolean) type_error(what, "a bool");
  return bool_;
}
double Json::as_number(std::string_view what) const {
  if (type_ != Type::number) type_error(what, "a number");
  return num_;
}
int64_t Json::as_int(std::string_view what) const {
  if (type_ != Type::number) type_error(what, "an integer");
  if (int_exact_) return int_;
  LAI_CHECK_FORMAT(is_integer(), what, ": must be an integer (found ", num_, ")");
  return static_cast<int64_t>(num_);
}
const std::string& Json::as_string(std::string_view what) const {
  if (type_ != Type::string) type_error(what, "a string");
  return str_;
}
const Json::Array& Json::as_array(std::string_view what) const {
  if (type_ != Type::array) type_error(what, "an array");
  return arr_;
}
Json::Array& Json::as_array(std::string_view what) {
  if (type_ != Type::array) type_error(what, "an array");
  return arr_;
}
const Json::Object& Json::as_object(std::string_view what) const {
  if (type_ != Type::object) type_error(what, "an object");
  return obj_;
}
Json::Object& Json::as_object(std::string_view what) {
  if (type_ != Type::object) type_error(what, "an object");
  return obj_;
}

size_t Json::size() const {
  if (type_ == Type::array) return arr_.size();
  if (type_ == Type::object) return obj_.size();
  return 0;
}

const Json& Json::operator[](size_t i) const {
  const Array& a = as_array();
  LAI_CHECK(i < a.size(), "json: index ", i, " out of range for an array of ", a.size());
  return a[i];
}
Json& Json::operator[](size_t i) {
  Array& a = as_array();
  LAI_CHECK(i < a.size(), "json: index ", i, " out of range for an array of ", a.size());
  return a[i];
}

Json& Json::push_back(Json v) {
  if (type_ == Type::null) type_ = Type::array;
  Array& a = as_array();
  a.push_back(std::move(v));
  return a.back();
}

const Json* Json::find(std::string_view key) const {
  if (type_ != Type::object) return nullptr;
  for (const auto& m : obj_)
    if (m.first == key) return &m.second;
  return nullptr;
}
Json* Json::find(std::string_view key) { return const_cast<Json*>(static_cast<const Json*>(this)->find(key)); }
bool Json::contains(std::string_view key) const { return find(key) != nullptr; }

const Json& Json::at(std::string_view key, std::string_view what) const {
  if (type_ != Type::object) type_error(what, "an object");
  const Json* v = find(key);
  LAI_CHECK_FORMAT(v != nullptr, what, ": missing field ", quoted(key));
  return *v;
}

Json& Json::operator[](std::string_view key) {
  if (type_ == Type::null) type_ = Type::object;
  Object& o = as_object();
  for (auto& m : o)
    if (m.first == key) return m.second;
  o.emplace_back(std::string(key), Json());
  return o.back().second;
}

Json& Json::set(std::string_view key, Json v) {
  Json& slot = (*this)[key];
  slot = std::move(v);
  return slot;
}

bool Json::erase(std::string_view key) {
  if (type_ != Type::object) return false;
  for (auto it = obj_.begin(); it != obj_.end(); ++it) {
    if (it->first == key) {
      obj_.erase(it);
      return true;
    }
  }
  return false;
}

const Json& Json::field(std::string_view key, std::string_view what, Type type, const char* expected) const {
  const Json& v = at(key, what);
  if (v.type_ != type)
    throw_error(ErrorKind::format, str_cat(what, ": field ", quoted(key), " must be ", expected, " (found ", v.type_name(), ")"));
  return v;
}

bool Json::get_bool(std::string_view key, std::string_view what) const {
  return field(key, what, Type::boolean, "a bool").bool_;
}
double Json::get_number(std::string_view key, std::string_view what) const {
  return field(key, what, Type::number, "a number").num_;
}
int64_t Json::get_int(std::string_view key, std::string_view what) const {
  const Json& v = field(key, what, Type::number, "an integer");
  LAI_CHECK_FORMAT(v.is_integer(), what, ": field ", quoted(key), " must be an integer (found ", v.num_, ")");
  return v.int_exact_ ? v.int_ : static_cast<int64_t>(v.num_);
}
const std::string& Json::get_string(std::string_view key, std::string_view what) const {
  return field(key, what, Type::string, "a string").str_;
}
const Json::Array& Json::get_array(std::string_view key, std::string_view what) const {
  return field(key, what, Type::array, "an array").arr_;
}
const Json& Json::get_object(std::string_view key, std::string_view what) const {
  return field(key, what, Type::object, "an object");
}

bool Json::get_bool_or(std::string_view key, bool fallback, std::string_view what) const {
  if (type_ == Type::object && !contains(key)) return fallback;
  return get_bool(key, what);
}
double Json::get_number_or(std::string_view key, double fallback, std::string_view what) const {
  if (type_ == Type::object && !contains(key)) return fallback;
  return get_number(key, what);
}
int64_t Json::get_int_or(std::string_view key, int64_t fallback, std::string_view what) const {
  if (type_ == Type::object && !contains(key)) return fallback;
  return get_int(key, what);
}
std::string Json::get_string_or(std::string_view key, const std::string& fallback, std::string_view what) const {
  if (type_ == Type::object && !contains(key)) return fallback;
  return get_string(key, what);
}

std::vector<std::string> Json::get_string_array(std::string_view key, std::string_view what) const {
  const Array& a = get_array(key, what);
  std::vector<std::string> out;
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string())
      throw_error(ErrorKind::format, str_cat(what, ": field ", quoted(key), "[", i, "] must be a string (found ", a[i].type_name(), ")"));
    out.push_back(a[i].str_);
  }
  return out;
}
std::vector<double> Json::get_number_array(std::string_view key, std::string_view what) const {
  const Array& a = get_array(key, what);
  std::vector<double> out;
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_number())
      throw_error(ErrorKind::format, str_cat(what, ": field ", quoted(key), "[", i, "] must be a number (found ", a[i].type_name(), ")"));
    out.push_back(a[i].num_);
  }
  return out;
}
std::vector<int64_t> Json::get_int_array(std::string_view key, std::string_view what) const {
  const Array& a = get_array(key, what);
  std::vector<int64_t> out;
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_integer())
      throw_error(ErrorKind::format, str_cat(what, ": field ", quoted(key), "[", i, "] must be an integer (found ",
                          a[i].is_number() ? std::to_string(a[i].num_) : std::string(a[i].type_name()), ")"));
    out.push_back(a[i].int_exact_ ? a[i].int_ : static_cast<int64_t>(a[i].num_));
  }
  return out;
}

void Json::dump_to(std::string& out, int indent, int depth) const {
  auto newline = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(size_t(indent) * size_t(d), ' ');
  };
  switch (type_) {
    case Type::null: out += "null"; return;
    case Type::boolean: out += bool_ ? "true" : "false"; return;
    case Type::number:
      if (int_exact_) out += std::to_string(int_);
      else dump_number(out, num_);
      return;
    case Type::string: dump_string(out, str_); return;
    case Type::array: {
      out += '[';
      if (arr_.empty()) {
        out += ']';
        return;
      }
      // Arrays of scalars stay on one line in pretty mode (shapes, class lists read better).
      bool flat = true;
      for (const auto& v : arr_) flat = flat && !v.is_array() && !v.is_object();
      for (size_t i = 0; i < arr_.size(); ++i) {
        if (i) out += indent >= 0 && flat ? ", " : ",";
        if (!flat) newline(depth + 1);
        arr_[i].dump_to(out, indent, depth + 1);
      }
      if (!flat) newline(depth);
      out += ']';
      return;
    }
    case Type::object: {
      out += '{';
      if (obj_.empty()) {
        out += '}';
        return;
      }
      for (size_t i = 0; i < obj_.size(); ++i) {
        if (i) out += ',';
        newline(depth + 1);
        dump_string(out, obj_[i].first);
        out += indent >= 0 ? ": " : ":";
        obj_[i].second.dump_to(out, indent, depth + 1);
      }
      newline(depth);
      out += '}';
      return;
    }
  }
}

std::string Json::dump(int indent) const {
  std::string out;
  dump_to(out, indent, 0);
  return out;
}

Json Json::parse(std::string_view text, std::string_view what) { return Parser(text, what).document(); }

bool Json::operator==(const Json& o) const {
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::null: return true;
    case Type::boolean: return bool_ == o.bool_;
    case Type::number:
      if (int_exact_ && o.int_exact_) return int_ == o.int_;
      return num_ == o.num_;
    case Type::string: return str_ == o.str_;
    case Type::array: return arr_ == o.arr_;
    case Type::object: return obj_ == o.obj_;  // order matters: insertion order is part of the value
  }
  return false;
}

Json read_json_file(const std::string& path) { return Json::parse(read_text_file(path), path); }

void write_json_file(const std::string& path, const Json& value, int indent) {
  std::string text = value.dump(indent);
  text += '\n';
  atomic_write_file(path, text.data(), text.size());
}

}  // namespace liteai::io
