/* The C implementation the C++ inclusion check (compile_cpp.cpp) links with. */
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"
