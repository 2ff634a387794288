/*
 * crash.h — named crash points, for the fault tests (docs/reliability.md).
 *
 * FREIGHTD_CRASH_AT=<name>[:<count>] makes the count-th (default first) pass
 * through the point <name> kill the server with SIGKILL, exactly as a
 * `kill -9` at that instant would: no cleanup, no flush, nothing but what
 * the kernel already has.  A point reached in the snapshot writer (a forked
 * child) kills the server process, then the child.
 *
 * Compiled into every build, release included, so that the binary the
 * tests crash is the binary that ships: with the variable unset a point
 * costs one load and one compare.  The names are listed in
 * docs/reliability.md; an unknown name simply never fires.
 */
#ifndef FN_CRASH_H
#define FN_CRASH_H

/* Reads FREIGHTD_CRASH_AT and remembers this process as the one to kill.
 * Called once at start-up by the engine, before any thread or fork; calling
 * it again does nothing. */
void fn_crash_init(void);

/* Kills the server if name is the armed point and this is its count-th pass. */
void fn_crash_point(const char *name);

#endif
