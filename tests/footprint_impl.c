/* The plain implementation file for tests/footprint_user.c (built with and without
   KCHAN_LOCKFREE by make compile-checks). */
#include <stddef.h>
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"
