#ifndef GREET_H
#define GREET_H
/* Writes "Hello, WHO!" into a static buffer and returns it. */
const char *greet(const char *who);
/* The library's version, e.g. "1.0.0". */
const char *greet_version(void);
#endif
