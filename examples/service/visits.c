/* visits: a tiny stateful service. It reads its name from a configuration file, appends one line to
 * visits.log in the working directory and says who it ran as, where, and which visit this was.
 * The image runs it as an unprivileged user whose only writable directory is its working directory. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *what, const char *path) {
  fprintf(stderr, "visits: %s %s: %s\n", what, path, strerror(errno));
  return 1;
}

int main(int argc, char **argv) {
  const char *config = "/etc/visits/visits.conf";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      config = argv[++i];
    } else {
      fprintf(stderr, "usage: visits [--config FILE]\n");
      return 2;
    }
  }

  char name[64] = "visits";
  char line[256];
  FILE *conf = fopen(config, "r");
  if (conf == NULL) return fail("cannot read", config);
  while (fgets(line, sizeof line, conf) != NULL) sscanf(line, "name=%63s", name);
  fclose(conf);

  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == NULL) return fail("cannot find", "the working directory");

  FILE *log = fopen("visits.log", "a+");
  if (log == NULL) return fail("cannot open", "visits.log");
  long visit = 1;
  rewind(log);
  while (fgets(line, sizeof line, log) != NULL) visit++;
  fprintf(log, "visit %ld by uid %u\n", visit, (unsigned)getuid());
  if (fclose(log) != 0) return fail("cannot write", "visits.log");

  printf("%s: running as uid %u gid %u in %s\n", name, (unsigned)getuid(), (unsigned)getgid(), cwd);
  printf("%s: visit %ld recorded in %s/visits.log\n", name, visit, cwd);
  return 0;
}
