#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "liteai/io/json.hpp"

using liteai::Error;
using liteai::io::Json;

namespace {

// The message of the liteai::Error thrown by f (fails the test when nothing is thrown).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("expected a liteai::Error");
  return {};
}

}  // namespace

TEST_CASE("json: build, dump and parse back keeps values and member order", "[io][json]") {
  Json doc = Json::object();
  doc["zeta"] = 1;
  doc["alpha"] = "text with \"quotes\", a \\ backslash,\na newline and \x01 control";
  doc["pi"] = 3.141592653589793;
  doc["flags"] = Json::array_of(std::vector<bool>{true, false});
  doc["nothing"] = nullptr;
  doc["classes"] = Json::array_of(std::vector<std::string>{"normal", "nodule", "effusion"});
  doc["nested"]["deeper"]["big"] = int64_t(9007199254740993);  // 2^53 + 1: must stay exact
  doc["nested"]["neg"] = -42;
  doc["unicode"] = "caf\xc3\xa9 \xf0\x9f\x98\x80";
  doc["empty_array"] = Json::array();
  doc["empty_object"] = Json::object();

  for (int indent : {-1, 0, 2, 4}) {
    const std::string text = doc.dump(indent);
    const Json back = Json::parse(text);
    CHECK(back == doc);
    CHECK(back.dump(indent) == text);
  }
  const std::string compact = doc.dump();
  CHECK(compact.find('\n') == std::string::npos);
  CHECK(compact.rfind("{\"zeta\":1,\"alpha\":", 0) == 0);  // insertion order, not sorted
  CHECK(compact.find("\\u0001") != std::string::npos);
  CHECK(Json::parse(compact).at("nested").at("deeper").get_int("big") == 9007199254740993);

  // Order is part of the value.
  Json a = Json::object(), b = Json::object();
  a["x"] = 1;
  a["y"] = 2;
  b["y"] = 2;
  b["x"] = 1;
  CHECK(a != b);
}

TEST_CASE("json: parse numbers, escapes and unicode", "[io][json]") {
  CHECK(Json::parse("0").as_int() == 0);
  CHECK(Json::parse("-0").as_number() == 0.0);
  CHECK(Json::parse("9223372036854775807").as_int() == std::numeric_limits<int64_t>::max());
  CHECK(Json::parse("-9223372036854775808").as_int() == std::numeric_limits<int64_t>::min());
  CHECK(Json::parse("18446744073709551616").as_number() == 18446744073709551616.0);  // beyond int64: double
  CHECK(Json::parse("1.5").as_number() == 1.5);
  CHECK(Json::parse("-2.5e-3").as_number() == -0.0025);
  CHECK(Json::parse("1E+2").as_int() == 100);
  CHECK(Json::parse("1e-400").as_number() == 0.0);  // underflow is harmless
  CHECK(Json::parse(" \t\r\n true \n").as_bool());
  CHECK(Json::parse("\xef\xbb\xbf{}").is_object());  // UTF-8 BOM accepted
  CHECK(Json::parse("\"\\u00e9\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\"").as_string() ==
        "\xc3\xa9\xf0\x9f\x98\x80/\b\f\n\r\t");
  // Shortest round-trip formatting of doubles.
  for (double v : {0.1, 1.0 / 3.0, 1e300, -4.9406564584124654e-324, 123456789.125}) {
    CHECK(Json::parse(Json(v).dump()).as_number() == v);
  }
  // Floats keep their shortest decimal form and read back as the same float.
  CHECK(Json(0.1f).dump() == "0.1");
  CHECK(Json(0.2860f).dump() == "0.286");
  for (float v : {0.1f, 3.3333333f, 1e-30f, 16777217.0f, -2.5f}) {
    CHECK(static_cast<float>(Json::parse(Json(v).dump()).as_number()) == v);
  }
  // NaN and infinities are not JSON: written as null.
  CHECK(Json(std::nan("")).dump() == "null");
  CHECK(Json(std::numeric_limits<double>::infinity()).dump() == "null");
  // Invalid UTF-8 in a value is replaced so the output stays parseable.
  CHECK(Json::parse(Json(std::string("a\xff" "b")).dump()).as_string() == "a\xef\xbf\xbd" "b");
}

TEST_CASE("json: strict parse errors name line and column", "[io][json]") {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"", "line 1, column 1: empty document"},
      {"{\n  \"a\": 1,\n}", "line 3, column 1: trailing comma in object"},
      {"[1, 2,]", "line 1, column 7: trailing comma in array"},
      {"{\"a\": 1, \"a\": 2}", "line 1, column 10: duplicate key 'a'"},
      {"012", "line 1, column 1: leading zero in number"},
      {"[1 2]", "line 1, column 4: unexpected character '2' (expected ',' or ']' in array)"},
      {"{\"a\" 1}", "expected ':' after key 'a'"},
      {"{1: 2}", "expected a string key"},
      {"\"abc", "line 1, column 1: unterminated string"},
      {"\"a\tb\"", "control character in string"},
      {"\"\\x\"", "bad escape sequence"},
      {"\"\\ud800\"", "unpaired UTF-16 surrogate"},
      {"\"\\u12g4\"", "bad hex digit"},
      {"\"\xc0\xaf\"", "invalid UTF-8"},  // overlong '/'
      {"\"\xed\xa0\x80\"", "invalid UTF-8"},  // encoded surrogate
      {"tru", "expected a value"},
      {"nul", "expected a value"},
      {"1.", "expected a digit after '.'"},
      {"1e", "expected a digit in the exponent"},
      {"-", "expected a digit in number"},
      {"1e400", "out of range"},
      {"{} x", "line 1, column 4: unexpected character 'x' after the value"},
      {"// comment\n{}", "expected a value"},
      {"[\x01]", "byte 0x01"},
      {"NaN", "expected a value"},
  };
  for (const auto& c : cases) {
    INFO("input: " << c.text);
    const std::string msg = error_of([&] { Json::parse(c.text, "cfg.json"); });
    CHECK(msg.rfind("cfg.json: invalid JSON at ", 0) == 0);
    CHECK(msg.find(c.expect) != std::string::npos);
  }
  // Deep nesting is refused, not a stack overflow.
  const std::string deep(100000, '[');
  CHECK(error_of([&] { Json::parse(deep); }).find("nesting deeper than") != std::string::npos);
}

TEST_CASE("json: typed getters name the field and what was found", "[io][json]") {
  const Json h = Json::parse(R"({"classes": "normal", "size": 1.5, "n": 7, "names": ["a", 2],
                                 "dims": [1, 2.5], "pre": {"mean": 0.5}, "ok": true})");
  const char* what = "model.lai header";
  CHECK(error_of([&] { h.get_array("classes", what); }) ==
        "model.lai header: field 'classes' must be an array (found string)");
  CHECK(error_of([&] { h.get_string("missing", what); }) == "model.lai header: missing field 'missing'");
  CHECK(error_of([&] { h.get_int("size", what); }) == "model.lai header: field 'size' must be an integer (found 1.5)");
  CHECK(error_of([&] { h.get_bool("n", what); }) == "model.lai header: field 'n' must be a bool (found number)");
  CHECK(error_of([&] { h.get_string_array("names", what); }) ==
        "model.lai header: field 'names'[1] must be a string (found number)");
  CHECK(error_of([&] { h.get_int_array("dims", what); }).find("field 'dims'[1] must be an integer") !=
        std::string::npos);
  CHECK(error_of([&] { h.get_object("ok", what); }) == "model.lai header: field 'ok' must be an object (found bool)");
  CHECK(error_of([&] { h.at("pre").get_number("std", "model.lai header.pre"); }) ==
        "model.lai header.pre: missing field 'std'");
  CHECK(error_of([&] { Json(3).get_int("x", what); }) == "model.lai header: must be an object (found number)");
  CHECK(error_of([&] { h[0]; }).find("must be an array") != std::string::npos);

  CHECK(h.get_int("n", what) == 7);
  CHECK(h.get_number("n", what) == 7.0);
  CHECK(h.get_object("pre", what).get_number("mean") == 0.5);
  CHECK(h.get_bool("ok", what));
  // Defaults apply only when absent; a mistyped value still throws.
  CHECK(h.get_int_or("absent", 5, what) == 5);
  CHECK(h.get_string_or("absent", "x", what) == "x");
  CHECK(h.get_number_or("size", 0.0, what) == 1.5);
  CHECK_THROWS_AS(h.get_int_or("classes", 5, what), Error);

  Json j;
  j.set("a", 1);
  j.set("b", 2);
  j.set("a", 3);  // replaced in place
  CHECK(j.dump() == R"({"a":3,"b":2})");
  CHECK(j.erase("a"));
  CHECK_FALSE(j.erase("a"));
  CHECK(j.dump() == R"({"b":2})");
  CHECK_THROWS_AS(Json(Json::Object{{"k", 1}, {"k", 2}}), Error);
}

TEST_CASE("json: pretty output is indented and keeps scalar arrays on one line", "[io][json]") {
  Json j = Json::object();
  j["shape"] = Json::array_of(std::vector<int64_t>{1, 28, 28});
  j["layers"].push_back(Json::object()).set("kind", "conv");
  CHECK(j.dump(2) == "{\n  \"shape\": [1, 28, 28],\n  \"layers\": [\n    {\n      \"kind\": \"conv\"\n    }\n  ]\n}");
}

#include "liteai/io/hash.hpp"

TEST_CASE("SHA-256 against the FIPS 180-4 test vectors", "[io][hash]") {
  using liteai::io::sha256_hex;
  CHECK(sha256_hex("", 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc", 3) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(sha256_hex(two.data(), two.size()) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string a(1000000, 'a');  // a million 'a's, whole and in uneven pieces
  CHECK(sha256_hex(a.data(), a.size()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  liteai::io::Sha256 m;
  for (size_t at = 0, step = 1; at < a.size(); at += step, step = step % 97 + 13)
    m.update(a.data() + at, std::min(step, a.size() - at));
  CHECK(m.hex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
