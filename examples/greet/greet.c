#include <stdio.h>
#include "greet.h"

#ifndef VERSION
#define VERSION "0"
#endif

static char buf[256];

const char *greet(const char *who) {
  snprintf(buf, sizeof buf, "Hello, %s!", who);
  return buf;
}

const char *greet_version(void) { return VERSION; }
