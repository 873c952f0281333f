// A class, a class template and an enum longer than --max-function 10, made
// of short members.
#pragma once
#include <functional>

enum class Color {
  kRed,
  kGreen,
  kBlue,
  kCyan,
  kMagenta,
  kYellow,
  kBlack,
  kWhite,
  kGrey,
};

template <typename T>
class Box final {
 public:
  explicit Box(T v) : v_{v} {}
  T get() const noexcept { return v_; }
  void set(T v) & { v_ = v; }
  bool operator==(const Box& o) const { return v_ == o.v_; }
  auto twice() const -> T { return v_ + v_; }

 protected:
  struct Note {
    int n = 0;
  };

 private:
  T v_{};
  std::function<T()> get_ = [this] { return v_; };
};
