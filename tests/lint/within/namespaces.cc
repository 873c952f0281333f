// Scopes longer than --max-function 10 that are not functions: namespaces,
// nested and anonymous, and an extern "C" block; the functions are short.
namespace outer::inner {
namespace {

int one() { return 1; }
int two() { return 2; }

}  // namespace

int three() { return one() + two(); }
int four() { return two() * two(); }

}  // namespace outer::inner

extern "C" {
int c_one(void) { return 1; }
int c_two(void) { return 2; }
int c_three(void) { return 3; }
int c_four(void) { return 4; }
}

extern "C" int c_five(void) {
  return outer::inner::three() + c_two();
}
