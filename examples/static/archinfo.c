/* archinfo: prints its name and version, the architecture it was built for and the one it runs on.
 * Linked with -static, so it needs no C library in the image: the image holds no libc6 and no shell. */
#include <stdio.h>
#include <sys/utsname.h>

#ifndef VERSION
#define VERSION "0"
#endif

#if defined(__x86_64__)
#define BUILT_FOR "x86_64"
#elif defined(__aarch64__)
#define BUILT_FOR "aarch64"
#else
#define BUILT_FOR "unknown"
#endif

int main(void) {
  struct utsname u;
  if (uname(&u) != 0) {
    perror("archinfo: uname");
    return 1;
  }
  printf("archinfo %s: built for %s, running on %s, statically linked\n", VERSION, BUILT_FOR, u.machine);
  return 0;
}
