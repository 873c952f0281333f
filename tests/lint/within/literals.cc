// Opening braces in literals, comments and directives: counted naively,
// the first function here would swallow the rest of the file.
#include <string>
#include <vector>
#define OPEN {
#define LONG_MACRO(x) \
  do {                \
    (void)(x);        \
  } while (0)

std::string openers(char c, int n) {
  std::string s = "{{{" + std::string(1, c) + '{';  // {
  s += R"x({{)x";   /* { */
  s += static_cast<char>(sizeof u8R"({)");
  return s + std::to_string(n);
}
std::string thousands() { return openers('{', 1'000); }

// Long tables at namespace scope are data, not functions.
const int kTable[] = {
    1,  2,  3,  4,  5,
    6,  7,  8,  9,  10,
    11, 12, 13, 14, 15,
    16, 17, 18, 19, 20,
    21, 22, 23, 24, 25,
    26, 27, 28, 29, 30,
    31, 32, 33, 34, 35,
    36, 37, 38, 39, 40,
};

int sum(std::vector<int> v = {}, int start = int{0}) {
  for (int x : v) start += x;
  return start;
}

int guarded() try {
  return sum({1, 2});
} catch (...) {
  return -1;
}
