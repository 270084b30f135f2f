/* A scratch folder for a test's files: scratch_begin makes /tmp/NAME.XXXXXX
 * (or bails out of the TAP stream), tmp(file) names a file in it (the last
 * eight names stay valid), scratch_end removes it with what it holds. */
#ifndef ML_TEST_SCRATCH_H
#define ML_TEST_SCRATCH_H

#include <stdio.h>
#include <stdlib.h>

static char dir[64];

static const char *tmp(const char *name)
{
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static void scratch_begin(const char *name)
{
    snprintf(dir, sizeof dir, "/tmp/%s.XXXXXX", name);
    if (!mkdtemp(dir)) {
        printf("Bail out! cannot create a scratch folder %s\n", dir);
        exit(1);
    }
}

static void scratch_end(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

#endif
