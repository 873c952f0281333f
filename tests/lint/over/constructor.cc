// A constructor whose initializer list has braced initializers: its body is
// the brace after the last one, and it starts at the constructor's name.
#include <string>
#include <vector>

class Table {
 public:
  explicit Table(int n);

 private:
  std::vector<int> rows_;
  std::string name_;
  int n_;
};

Table::Table(int n)
    : rows_{1, 2, 3},
      name_("table"),
      n_{n} {
  for (int i = 0; i < n_; ++i) {
    rows_.push_back(i);
  }
  if (n_ > 10) {
    name_ += " (long)";
  }
  name_ += "!";
}
