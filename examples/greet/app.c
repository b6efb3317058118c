/* app.c: a program of yours that uses libgreet, compiled in the build image (README.md):
 *   cc app.c $(pkg-config --cflags --libs libgreet) -o /tmp/app
 * The header, the pkg-config file and the libgreet.so link come from libgreet-dev. */
#include <greet.h>
#include <stdio.h>

int main(int argc, char **argv) {
  printf("%s (libgreet %s)\n", greet(argc > 1 ? argv[1] : "builder"), greet_version());
  return 0;
}
