// Braces inside literals and comments must not end the body early: counted
// naively, this function would end at its first "}" and be short.
#include <string>

std::string closers() {
  std::string s = "}";
  s += '}';
  s += R"(})";
  // }
  /* } */
  s += "\"}";
  s += '\'';
  s += "}";
  return s;
}
