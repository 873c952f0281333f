// util/json.h: how vblk prints JSON, and parsing and reading documents that
// come from outside the process (malformed, of other types, too deep).

#include "util/json.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <string>

namespace vblk {
namespace {

TEST(JsonDump, IndentsTwoSpacesAndKeepsTheOrderMembersWereSetIn) {
  Json j;
  j["z"] = uint64_t{1} << 40;
  j["neg"] = -3;
  j["d"] = json_number(2.5);
  j["t"] = true;
  j["none"] = nullptr;
  j["a"] = Json::array({1, Json::object(), Json::array()});
  j["o"] = {{"b", "x"}};
  EXPECT_EQ(dump_json(j), R"({
  "z": 1099511627776,
  "neg": -3,
  "d": 2.5,
  "t": true,
  "none": null,
  "a": [
    1,
    {},
    []
  ],
  "o": {
    "b": "x"
  }
})");
  EXPECT_EQ(dump_json_compact(j), R"({"z":1099511627776,"neg":-3,"d":2.5,"t":true,"none":null,"a":[1,{},[]],"o":{"b":"x"}})");
}

TEST(JsonDump, EscapesControlsAndReplacesBytesThatAreNotUtf8) {
  Json j = std::string("caf\xc3\xa9 \"q\" \\ \n\x01 \xff end \xe2\x82");
  const std::string text = dump_json(j);
  EXPECT_EQ(text, "\"caf\xc3\xa9 \\\"q\\\" \\\\ \\n\\u0001 \xef\xbf\xbd end \xef\xbf\xbd\"");
  auto back = parse_json(text);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(json_string(*back), "caf\xc3\xa9 \"q\" \\ \n\x01 \xef\xbf\xbd end \xef\xbf\xbd");
}

TEST(JsonNumber, PrintsDoublesWithSixSignificantDigits) {
  auto printed = [](double d) { return dump_json(json_number(d)); };
  EXPECT_EQ(printed(2.0), "2") << "a whole number is an integer, as %.6g prints it";
  EXPECT_TRUE(json_number(2.0).is_number_integer());
  EXPECT_EQ(printed(0), "0");
  EXPECT_EQ(printed(-7), "-7");
  EXPECT_EQ(printed(2.5), "2.5");
  EXPECT_EQ(printed(1.0 / 3), "0.333333");
  EXPECT_EQ(printed(2.736631234), "2.73663");
  EXPECT_EQ(printed(123456.7), "123457");
  // %.6g's exponent form stays a double, the same value.
  EXPECT_TRUE(json_number(1234567.0).is_number_float());
  EXPECT_EQ(json_number(1234567.0).get<double>(), 1234570.0);
  EXPECT_EQ(json_number(1.5e-7).get<double>(), 1.5e-7);
  EXPECT_TRUE(json_number(std::nan("")).is_null());
  EXPECT_TRUE(json_number(std::numeric_limits<double>::infinity()).is_null());
}

TEST(JsonParse, ReadsDocumentsInOrder) {
  auto v = parse_json(R"( {"b": 1, "a": [true, null, "\u00e9\ud83d\ude00\/"], "c": {"d": -2.5e1}} )");
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  std::string keys;
  for (const auto& [k, unused] : v->items()) keys += k;
  EXPECT_EQ(keys, "bac");
  EXPECT_EQ(json_string(json_items(json_at(*v, "a"))[2]), "\xc3\xa9\xf0\x9f\x98\x80/");
  EXPECT_EQ(json_double(json_at(*v, "c/d")), -25);
}

TEST(JsonParse, RefusesMalformedDocumentsWithOneLine) {
  const std::string good = R"({"a": [1, 2.5, "x\n", true, null], "b": {"c": false}})";
  ASSERT_TRUE(parse_json(good).is_ok());
  // Every truncation of a good document.
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = parse_json(good.substr(0, n));
    EXPECT_FALSE(r.is_ok()) << "accepted: " << good.substr(0, n);
  }
  for (const std::string& bad : std::initializer_list<std::string>{
           "{", "[1,]", "{\"a\" 1}", "{a: 1}", "tru", "\"abc", "01", "1 2", "\"\\x\"", "-", "1.", "1e", "[1e400]",
        "-1e400", "\"\\ud800\"", "\"\xff\"", "\"a\nb\"", "{\"a\": 1,}", "[1] // note", "NaN", "Infinity",
        std::string("[1]\0", 4), std::string("[1]\0]", 5), std::string("\0", 1)}) {
    auto r = parse_json(bad);
    ASSERT_FALSE(r.is_ok()) << "accepted: " << bad;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << r.status().to_string();
    const std::string& msg = r.status().message();
    EXPECT_EQ(msg.rfind("JSON: ", 0), 0u) << msg;
    EXPECT_EQ(msg.find("[json.exception"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(JsonParse, RefusesNestingDeeperThan64Levels) {
  auto nested = [](size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  EXPECT_TRUE(parse_json(nested(65)).is_ok());
  auto deep = parse_json(nested(66));
  ASSERT_FALSE(deep.is_ok());
  EXPECT_NE(deep.status().message().find("deeper than 64"), std::string::npos) << deep.status().to_string();
  // Far deeper, objects too: refused without exhausting the stack.
  std::string objects;
  for (int i = 0; i < 200000; ++i) objects += "{\"a\":";
  objects += "1" + std::string(200000, '}');
  EXPECT_FALSE(parse_json(objects).is_ok());
  EXPECT_FALSE(parse_json(nested(1000000)).is_ok());
  EXPECT_FALSE(parse_json(std::string(1000000, '[')).is_ok()) << "truncated and deep";
}

TEST(JsonRead, NumbersOutOfRangeGiveTheFallback) {
  auto v = parse_json(R"({"big": 99999999999999999999999, "max": 18446744073709551615, "neg": -1,
                          "frac": 7.9, "tiny": 1e-300, "huge": 1.7e308, "nf": -0.5})");
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  EXPECT_EQ(json_u64(json_at(*v, "big"), 5), 5u);
  EXPECT_EQ(json_u64(json_at(*v, "max")), UINT64_MAX);
  EXPECT_EQ(json_u64(json_at(*v, "neg"), 5), 5u);
  EXPECT_EQ(json_u64(json_at(*v, "frac")), 7u);
  EXPECT_EQ(json_u64(json_at(*v, "tiny")), 0u);
  EXPECT_EQ(json_u64(json_at(*v, "huge"), 5), 5u);
  EXPECT_EQ(json_u64(json_at(*v, "nf"), 5), 5u);
  EXPECT_EQ(json_double(json_at(*v, "neg")), -1);
  EXPECT_EQ(json_double(json_at(*v, "max")), 18446744073709551615.0);
}

TEST(JsonRead, OtherTypesAndMissingKeysGiveTheFallback) {
  auto v = parse_json(R"({"n": 3, "s": "3", "b": true, "a": [1], "o": {"k": "v"}, "z": null})");
  ASSERT_TRUE(v.is_ok());
  const Json& j = *v;
  EXPECT_EQ(json_u64(json_at(j, "s"), 9), 9u);
  EXPECT_EQ(json_u64(json_at(j, "b"), 9), 9u);
  EXPECT_EQ(json_u64(json_at(j, "a"), 9), 9u);
  EXPECT_EQ(json_double(json_at(j, "o"), 1.5), 1.5);
  EXPECT_FALSE(json_bool(json_at(j, "n")));
  EXPECT_TRUE(json_bool(json_at(j, "z"), true));
  EXPECT_TRUE(json_bool(json_at(j, "b")));
  EXPECT_EQ(json_string(json_at(j, "n")), "");
  EXPECT_EQ(json_string(json_at(j, "o/k")), "v");
  EXPECT_TRUE(json_at(j, "missing").is_null());
  EXPECT_TRUE(json_at(j, "o/missing").is_null());
  EXPECT_TRUE(json_at(j, "n/k").is_null()) << "through a number";
  EXPECT_TRUE(json_at(j, "a/0").is_null()) << "through an array";
  EXPECT_TRUE(json_at(j, "o/k/x").is_null()) << "through a string";
  EXPECT_TRUE(json_at(json_at(j, "a"), "k").is_null());
  EXPECT_TRUE(json_at(Json(), "k").is_null());
  // Only an array has items: nlohmann would iterate over a scalar or an
  // object's values.
  EXPECT_EQ(json_items(json_at(j, "a")).size(), 1u);
  for (const char* key : {"n", "s", "o", "z", "missing"}) EXPECT_TRUE(json_items(json_at(j, key)).empty()) << key;
}

}  // namespace
}  // namespace vblk
