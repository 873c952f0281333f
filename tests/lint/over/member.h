// A member function defined in its class, after access labels and a
// nested type, with the qualifiers that may follow a parameter list.
#pragma once

class Shape {
 public:
  virtual ~Shape() = default;
  virtual int area() const = 0;
};

class Square final : public Shape {
 public:
  struct Side {
    int n;
  };
  explicit Square(Side s) : side_(s.n) {}
  int area() const override {
    int a = 0;
    for (int i = 0; i < side_; ++i) {
      a += side_;
    }
    if (a < 0) {
      // Cannot happen for a square; kept to make the body long.
      a = 0;
    }
    return a;
  }

 private:
  int side_;
};
