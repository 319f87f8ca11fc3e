/* Linked into the ThreadSanitizer test binary only.
 *
 * Criterion's sandbox (BoxFort) maps its shared "inheritable arena" at a random
 * address it draws with rand_r() between 0x2000'0000'0000 and 0x6000'0000'0000.
 * Under TSan almost all of that range is shadow, meta or protected memory, so the
 * MAP_FIXED mapping fails and Criterion aborts with "Could not initialize
 * inheritable arena" (Criterion issue #274). Our rand_r (the executable's
 * definition wins over the sanitizer's weak one and over libc's) steers the
 * draw into 0x5640'0000'0000 and up: inside TSan's application range for PIE
 * binaries, above where the kernel places the binary and its heap. Each call
 * moves one 16 MiB step further, so BoxFort's retries still find free space.
 * Nothing in kchan or its tests calls rand_r. */
#include <stdlib.h>

int rand_r(unsigned int *seed)
{
    unsigned int step = (*seed)++ & 0xff;
    return (int)(0x364000u + step);
}
