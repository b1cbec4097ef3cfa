#pragma once
// A small JSON value (RFC 8259): null, bool, number, string, array, object. Objects keep their
// insertion order (so headers and metric files read the way they were written). Parsing is
// strict (no comments, trailing commas, duplicate keys, bad UTF-8, leading zeros) and errors name
// the line and column. Typed getters throw liteai::Error naming the field and what was found:
//   header.get_array("classes", "model.lai header")
//   -> "model.lai header: field 'classes' must be an array (found string)"
// Parse and getter errors are of kind format (the document does not match what is expected); a
// front end that parsed a caller's argument reports it as that argument's error.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "liteai/core/error.hpp"

namespace liteai::io {

class Json {
 public:
  enum class Type : uint8_t { null, boolean, number, string, array, object };
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool v) : type_(Type::boolean), bool_(v) {}
  Json(double v) : type_(Type::number), num_(v) {}
  // A float is stored as the shortest decimal that reads back as the same float: 0.1f is
  // written "0.1", not "0.10000000149011612".
  Json(float v);
  Json(int v) { set_int(v); }
  Json(unsigned v) { set_int(v); }
  Json(long v) { set_int(v); }
  Json(long long v) { set_int(v); }
  Json(unsigned long v) { set_uint(v); }  // throws if above INT64_MAX
  Json(unsigned long long v) { set_uint(v); }
  Json(const char* s) : type_(Type::string), str_(s) {}
  Json(std::string s) : type_(Type::string), str_(std::move(s)) {}
  Json(std::string_view s) : type_(Type::string), str_(s) {}
  Json(Array a) : type_(Type::array), arr_(std::move(a)) {}
  Json(Object o);  // throws on duplicate keys

  static Json array() { return Json(Array{}); }
  static Json object() { return Json(Object{}); }
  // Arrays of plain values: Json::array_of(std::vector<float>{...}).
  template <class T>
  static Json array_of(const std::vector<T>& values) {
    Array a;
    a.reserve(values.size());
    for (const auto& v : values) a.emplace_back(v);
    return Json(std::move(a));
  }

  // ---- type ----
  Type type() const { return type_; }
  const char* type_name() const;  // "null", "bool", "number", "string", "array", "object"
  bool is_null() const { return type_ == Type::null; }
  bool is_bool() const { return type_ == Type::boolean; }
  bool is_number() const { return type_ == Type::number; }
  bool is_integer() const;  // a number with an exact int64 value
  bool is_string() const { return type_ == Type::string; }
  bool is_array() const { return type_ == Type::array; }
  bool is_object() const { return type_ == Type::object; }

  // ---- values (throw naming `what` when the type differs) ----
  bool as_bool(std::string_view what = "json") const;
  double as_number(std::string_view what = "json") const;
  int64_t as_int(std::string_view what = "json") const;  // must be integral and fit int64
  const std::string& as_string(std::string_view what = "json") const;
  const Array& as_array(std::string_view what = "json") const;
  Array& as_array(std::string_view what = "json");
  const Object& as_object(std::string_view what = "json") const;
  Object& as_object(std::string_view what = "json");

  // ---- arrays and objects ----
  size_t size() const;  // elements of an array or members of an object, else 0
  const Json& operator[](size_t i) const;  // bounds-checked
  Json& operator[](size_t i);
  Json& push_back(Json v);                  // null becomes an array
  bool contains(std::string_view key) const;
  const Json* find(std::string_view key) const;  // nullptr when absent or not an object
  Json* find(std::string_view key);
  const Json& at(std::string_view key, std::string_view what = "json") const;  // throws if absent
  // Inserts null when absent (appended, keeping order); a null value becomes an object.
  Json& operator[](std::string_view key);
  Json& set(std::string_view key, Json v);  // replaces in place or appends
  bool erase(std::string_view key);

  // ---- typed field getters: `what` names the object in messages ----
  bool get_bool(std::string_view key, std::string_view what = "json") const;
  double get_number(std::string_view key, std::string_view what = "json") const;
  int64_t get_int(std::string_view key, std::string_view what = "json") const;
  const std::string& get_string(std::string_view key, std::string_view what = "json") const;
  const Array& get_array(std::string_view key, std::string_view what = "json") const;
  const Json& get_object(std::string_view key, std::string_view what = "json") const;
  // With defaults when absent; present but mistyped still throws. (Named _or so that a `what`
  // string can never bind to a bool fallback.)
  bool get_bool_or(std::string_view key, bool fallback, std::string_view what = "json") const;
  double get_number_or(std::string_view key, double fallback, std::string_view what = "json") const;
  int64_t get_int_or(std::string_view key, int64_t fallback, std::string_view what = "json") const;
  std::string get_string_or(std::string_view key, const std::string& fallback,
                            std::string_view what = "json") const;
  // Homogeneous arrays: every element checked, messages name the index.
  std::vector<std::string> get_string_array(std::string_view key, std::string_view what = "json") const;
  std::vector<double> get_number_array(std::string_view key, std::string_view what = "json") const;
  std::vector<int64_t> get_int_array(std::string_view key, std::string_view what = "json") const;

  // ---- text ----
  // indent < 0: compact one line; otherwise pretty with that many spaces per level.
  // Non-finite numbers are written as null (JSON has no NaN/Inf).
  std::string dump(int indent = -1) const;
  // Strict parse of a whole document; `what` prefixes error messages ("model.lai header").
  static Json parse(std::string_view text, std::string_view what = "json");

  bool operator==(const Json& other) const;
  bool operator!=(const Json& other) const { return !(*this == other); }

 private:
  void set_int(long long v) {
    type_ = Type::number;
    int_exact_ = true;
    int_ = v;
    num_ = static_cast<double>(v);
  }
  void set_uint(unsigned long long v);
  void dump_to(std::string& out, int indent, int depth) const;
  [[noreturn]] void type_error(std::string_view what, const char* expected) const;
  const Json& field(std::string_view key, std::string_view what, Type type, const char* expected) const;

  Type type_ = Type::null;
  bool bool_ = false;
  bool int_exact_ = false;  // number holds an exact int64 in int_
  double num_ = 0;
  int64_t int_ = 0;
  std::string str_;
  Array arr_;
  Object obj_;
};

// Reads a whole text file (a regular file within limits().max_file_bytes) / writes one atomically
// (io/file.hpp).
Json read_json_file(const std::string& path);
void write_json_file(const std::string& path, const Json& value, int indent = 2);

}  // namespace liteai::io
