/*
 * crash.c — named crash points (crash.h).
 */
#include "common/crash.h"
#include "common/fn.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t crash_once = PTHREAD_ONCE_INIT;
static char crash_name[64];      /* the armed point, "" when none */
static long crash_count;         /* fire on this pass (1-based) */
static atomic_long crash_passes; /* passes through the armed point so far */
static pid_t crash_pid;          /* the server process */

static void crash_parse(void)
{
    const char *v = getenv("FREIGHTD_CRASH_AT");
    const char *colon;
    size_t n;

    crash_pid = getpid();
    if (!v || !*v)
        return;
    colon = strchr(v, ':');
    n = colon ? (size_t)(colon - v) : strlen(v);
    if (n == 0 || n >= sizeof(crash_name))
        return;
    crash_count = colon ? strtol(colon + 1, NULL, 10) : 1;
    if (crash_count < 1)
        crash_count = 1;
    memcpy(crash_name, v, n);
    crash_name[n] = '\0';
    fn_log("FREIGHTD_CRASH_AT: the server will kill itself at pass %ld through crash point %s", crash_count,
           crash_name);
}

void fn_crash_init(void) { pthread_once(&crash_once, crash_parse); }

void fn_crash_point(const char *name)
{
    fn_crash_init();
    if (!crash_name[0] || strcmp(name, crash_name) != 0)
        return;
    if (atomic_fetch_add(&crash_passes, 1) + 1 != crash_count)
        return;
    fn_log("crash point %s reached (pass %ld): SIGKILL", name, crash_count);
    kill(crash_pid, SIGKILL);
    _exit(137); /* in the snapshot child, or if the signal is somehow not yet delivered */
}
