/* A plain implementation file: the C++ inclusion check (compile_cpp.cpp) links with it,
   compiled as C and as C++23 (-x c++: C++ has no C-compatible atomics before
   <stdatomic.h>), and footprint_user.c with it compiled with and without KCHAN_LOCKFREE. */
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"
