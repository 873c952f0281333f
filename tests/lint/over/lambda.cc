// A short function made long by the lambda inside it, and an operator().
#include <algorithm>
#include <vector>

void sort_desc(std::vector<int>& v) {
  std::sort(v.begin(), v.end(), [](int a, int b) {
    if (a == b) {
      return false;
    }
    if (a < 0 && b < 0) {
      return -a < -b;
    }
    return a > b;
  });
}

struct Less {
  bool operator()(int a, int b) const {
    if (a < b) {
      return true;
    }
    if (a > b) {
      return false;
    }
    // Equal: neither
    // goes first.
    return false;
  }
};
