/* The implementation the C++ inclusion check (compile_cpp.cpp) links with, compiled
   as C, and as C++23 (-x c++: C++ has no C-compatible atomics before <stdatomic.h>). */
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"
