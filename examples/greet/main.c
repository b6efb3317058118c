/* greet: greets each argument (or "world") through libgreet. */
#include <stdio.h>
#include "greet.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    puts(greet("world"));
    return 0;
  }
  for (int i = 1; i < argc; i++) puts(greet(argv[i]));
  return 0;
}
