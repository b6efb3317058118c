#include <stdio.h>
#include "greet.h"
static char buf[256];
const char *greet(const char *who) {
  snprintf(buf, sizeof buf, "%s, %s!", GREETING, who);
  return buf;
}
