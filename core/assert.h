#pragma once
// PAY_ASSERT is always on (release builds too): it guards invariants whose violation means the
// books can no longer be trusted (conservation, a balance that does not match its postings).
// Never assert on external input; return an Error instead.

#include <cstdio>
#include <cstdlib>

#define PAY_ASSERT(cond, msg)                                                              \
  do {                                                                                     \
    if (!(cond)) [[unlikely]] {                                                            \
      std::fprintf(stderr, "PAY_ASSERT failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond, \
                   msg);                                                                   \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)
