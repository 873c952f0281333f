#pragma once
// JsonWriter and JsonReader: one list of members per JSON document, run by
// both, so that every key of a document is spelled once and its reader
// cannot drift from its writer. A document's fields are a template over
// the two, which also carries the constness of the struct:
//
//   template <class IO, class S>  // S: Ops or const Ops
//   void ops_fields(IO& io, S& ops) {
//     io.field("reads", ops.reads);
//     io.number("seconds", ops.seconds);  // six significant digits
//   }
//   Json j = write_json(ops, [](JsonWriter& w, const Ops& o) { ops_fields(w, o); });
//   Result<Ops> o = read_json<Ops>(j, [](JsonReader& r, Ops& o) { ops_fields(r, o); });
//
// Writing sets the members in the order the list gives. Reading is strict:
// a missing key (unless Presence::kAddedLater), a value of another type or
// out of range fails with InvalidArgument naming the key by its path from
// the document's root ("ops/reads") and what was found; the first error
// stops the reading. Keys the list does not name are ignored.
// Thread safety: none; a reader or writer belongs to one thread.

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/json.h"
#include "vblk/status.h"

namespace vblk {

// Whether a document may lack a key: keys are only added to a documented
// layout, so a document from before a key was added leaves it out, and a
// reader then keeps the member's default.
enum class Presence { kRequired, kAddedLater };

// OK when j is an object, else InvalidArgument saying what it is (for the
// templates below, which see Json only declared).
Status expect_json_object(const Json& j);

class JsonWriter {
 public:
  static constexpr bool kWriting = true;
  explicit JsonWriter(Json& j) : j_(j) {}

  void field(std::string_view key, const std::string& v, Presence = Presence::kRequired);
  void field(std::string_view key, bool v, Presence = Presence::kRequired);
  void field(std::string_view key, uint64_t v, Presence = Presence::kRequired);
  void field(std::string_view key, uint32_t v, Presence = Presence::kRequired);
  // Set only when it holds a value.
  void field(std::string_view key, const std::optional<uint64_t>& v);
  // json_number(v): six significant digits (util/json.h).
  void number(std::string_view key, double v);
  // json_number(v), or null when v is not above 0 ("nothing to say yet").
  void positive_number(std::string_view key, double v);
  // json_number(*v), or null when v holds none.
  void nullable_number(std::string_view key, const std::optional<double>& v);
  // Every digit of v (a time in seconds since the epoch), or null when not above 0.
  void time_or_null(std::string_view key, double v);
  // v, or null when 0.
  void count_or_null(std::string_view key, uint64_t v);
  // v, or null when !present.
  void nullable(std::string_view key, uint64_t v, bool present);
  // The name to_string gives v; `all` lists the values a reader accepts.
  template <class E, size_t N>
  void name(std::string_view key, E v, const std::array<E, N>& /*all*/) {
    field(key, std::string(to_string(v)));
  }
  // A member derived from others: written from fn(), not read back.
  template <class Fn>
  void computed(std::string_view key, Fn fn) {
    set(key, fn());
  }
  template <class Fn>
  void object(std::string_view key, Fn fn) {
    JsonWriter w(begin(key, /*array=*/false));
    fn(w);
  }
  // Set only when o holds a value.
  template <class T, class Fn>
  void optional_object(std::string_view key, const std::optional<T>& o, Fn fn) {
    if (o) object(key, [&](JsonWriter& w) { fn(w, *o); });
  }
  // An array of objects, one per item, each written by fn(writer, item).
  template <class T, class Fn>
  void array(std::string_view key, const std::vector<T>& items, Fn fn) {
    Json& arr = begin(key, /*array=*/true);
    for (const T& item : items) {
      JsonWriter w(append_object(arr));
      fn(w, item);
    }
  }
  bool writing() const { return true; }

 private:
  void set(std::string_view key, Json v);
  Json& begin(std::string_view key, bool array);
  static Json& append_object(Json& arr);

  Json& j_;
};

class JsonReader {
 public:
  static constexpr bool kWriting = false;
  // Reads members of `j`; `path` names j in errors ("" for the root), the
  // first error goes to *error.
  JsonReader(const Json& j, std::string path, Status* error) : j_(j), path_(std::move(path)), error_(error) {}

  void field(std::string_view key, std::string& v, Presence p = Presence::kRequired);
  void field(std::string_view key, bool& v, Presence p = Presence::kRequired);
  void field(std::string_view key, uint64_t& v, Presence p = Presence::kRequired);
  void field(std::string_view key, uint32_t& v, Presence p = Presence::kRequired);
  void field(std::string_view key, std::optional<uint64_t>& v);
  void number(std::string_view key, double& v);
  void positive_number(std::string_view key, double& v);  // null: 0
  void nullable_number(std::string_view key, std::optional<double>& v);
  void time_or_null(std::string_view key, double& v);     // null: 0
  void count_or_null(std::string_view key, uint64_t& v);  // null: 0
  void nullable(std::string_view key, uint64_t& v, bool& present);
  template <class E, size_t N>
  void name(std::string_view key, E& v, const std::array<E, N>& all) {
    std::string s;
    field(key, s);
    if (!ok()) return;
    for (E e : all) {
      if (to_string(e) == s) {
        v = e;
        return;
      }
    }
    std::string names;
    for (E e : all) names += (names.empty() ? "" : ", ") + std::string(to_string(e));
    fail(key, "is \"" + s + "\", not one of " + names);
  }
  template <class Fn>
  void computed(std::string_view, Fn) {}
  template <class Fn>
  void object(std::string_view key, Fn fn) {
    if (const Json* sub = member(key, Kind::kObject, Presence::kRequired)) {
      JsonReader r(*sub, path(key), error_);
      fn(r);
    }
  }
  template <class T, class Fn>
  void optional_object(std::string_view key, std::optional<T>& o, Fn fn) {
    o.reset();
    if (const Json* sub = member(key, Kind::kObject, Presence::kAddedLater)) {
      JsonReader r(*sub, path(key), error_);
      fn(r, o.emplace());
    }
  }
  template <class T, class Fn>
  void array(std::string_view key, std::vector<T>& items, Fn fn) {
    items.clear();
    const Json* arr = member(key, Kind::kArray, Presence::kRequired);
    for (size_t i = 0; arr != nullptr && ok() && i < size(*arr); ++i) {
      const std::string at = path(key) + "/" + std::to_string(i);
      const Json* e = element(*arr, i, at);
      if (e == nullptr) return;
      JsonReader r(*e, at, error_);
      fn(r, items.emplace_back());
    }
  }
  bool writing() const { return false; }
  // The key is in the object (to read members a writer sets only sometimes).
  bool has(std::string_view key) const;
  bool ok() const { return error_->is_ok(); }

 private:
  enum class Kind { kAny, kObject, kArray };
  std::string path(std::string_view key) const;
  // The member `key`, or null: absent (an error when required) or not of
  // `kind` (an error).
  const Json* member(std::string_view key, Kind kind, Presence p);
  const Json* element(const Json& arr, size_t i, const std::string& at);
  static size_t size(const Json& arr);
  void fail(std::string_view key, const std::string& what);
  void wrong_type(std::string_view key, const Json& v, const char* wanted);

  const Json& j_;
  std::string path_;
  Status* error_;
};

// The document `fields` writes for `v`: fields(JsonWriter&, const T&).
// (J is Json: a dependent type, so that it need only be complete where the
// template is used; every expression naming it must depend on J, or clang
// instantiates it here.)
template <class T, class Fn, class J = Json>
J write_json(const T& v, Fn fields) {
  J j = J::object();
  JsonWriter w(j);
  fields(w, v);
  return j;
}

// The T that `fields` reads from `j`: fields(JsonReader&, T&). Fails when
// j is not an object or a member is missing or of another type.
template <class T, class Fn, class J = Json>
Result<T> read_json(const J& j, Fn fields) {
  if (Status s = expect_json_object(j); !s) return s;
  Status error;
  T v{};
  JsonReader r(j, "", &error);
  fields(r, v);
  if (!error) return error;
  return v;
}

}  // namespace vblk
