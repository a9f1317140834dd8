/*
 * rt_test_util.h — a temporary directory and error-message checks, for the
 * unit tests of the runtime's file I/O (CSV, IDX, npy, safetensors, the
 * training CLI).
 *
 *   static int setup(void **state) { return tmpdir_make("csv"); }
 *   ...
 *   FILE *f = fopen(tmp_path("t.csv"), "wb");      // $TMPDIR/nnrt_csv_XXXXXX/t.csv
 *   assert_msg(&err, "t.csv: cannot open");
 *   ...
 *   return cmocka_run_group_tests(tests, setup, tmpdir_remove);
 *
 * The directory is made once per test binary by the group setup and removed,
 * with every file left in it, by the group teardown. Each test binary is one
 * translation unit, so everything here is `static inline` (unused ones draw
 * no warning).
 */
#ifndef NETC_RT_TEST_UTIL_H
#define NETC_RT_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <unistd.h>

#include "nnrt.h"

static char tmpdir[256]; /* mkdtemp directory of this test run */

/* Makes tmpdir as $TMPDIR/nnrt_<tag>_XXXXXX (/tmp without TMPDIR); 0, or -1 on failure. */
static inline int tmpdir_make(const char *tag)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/nnrt_%s_XXXXXX", base ? base : "/tmp", tag);
    return mkdtemp(tmpdir) ? 0 : -1;
}

/* Removes every file in tmpdir, then tmpdir itself; a cmocka group teardown. */
static inline int tmpdir_remove(void **state)
{
    char path[512];
    DIR *d = opendir(tmpdir);
    struct dirent *ent;
    while (d && (ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, ent->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    return rmdir(tmpdir);
}

/* Number of directory entries in tmpdir, . and .. excluded. */
static inline int tmpdir_count(void)
{
    int n = 0;
    DIR *d = opendir(tmpdir);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL)
        n += strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Path of a file in tmpdir; from a ring large enough for every path one test holds. */
static inline const char *tmp_path(const char *name)
{
    static char path[1024][512];
    static int next;
    char *p = path[next++ % 1024];
    snprintf(p, sizeof path[0], "%s/%s", tmpdir, name);
    return p;
}

/* Asserts that the error message contains text. */
static inline void assert_msg(const NnrtError *e, const char *text)
{
    if (strstr(e->msg, text) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", e->msg, text);
}

#endif
