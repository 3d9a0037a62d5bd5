/* LD_PRELOAD shim for Envoy's wall clock (CLOCK_REALTIME) in tests, leaving every other clock real.
 *
 * - MANDATE_FIXED_NOW (Unix seconds): the wall clock is frozen there. The conformance vectors carry
 *   a fixed `now`, and the filter takes `now` from Envoy's clock, so the vector runs use it.
 * - MANDATE_CLOCK_SWITCH (a path) with MANDATE_EARLY_SECONDS (N): until that file exists, the wall
 *   clock reads N seconds earlier than it will afterwards. Envoy then starts "N seconds ago": the
 *   filter's replay store remembers uses since its start (replay.history_unknown before it), and
 *   the test's tokens and proofs, minted before Envoy started, are from after that start, as they
 *   would be for an Envoy that has been running for a while. The harness creates the file once
 *   Envoy is ready; from then on the clock is real (or frozen at MANDATE_FIXED_NOW).
 *
 * libfaketime would do, but it deadlocks in Envoy's tcmalloc (its hooks call dlsym, which
 * allocates); this shim calls the kernel directly and never allocates. Test tooling only: built by
 * scripts/test-envoy.sh, never shipped. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* glibc declares the pointers nonnull; callers may still pass NULL to gettimeofday. */
#pragma GCC diagnostic ignored "-Wnonnull-compare"

static long env_long(const char *name) {
    const char *s = getenv(name);
    return s ? atol(s) : 0;
}

static long fixed_now(void) {
    static long cached = -1;
    if (cached < 0) cached = env_long("MANDATE_FIXED_NOW");
    return cached;
}

/* Seconds to subtract from the wall clock now: MANDATE_EARLY_SECONDS until the switch file
 * exists, then 0 for good. */
static long early(void) {
    static long seconds = -1;
    static int switched = 0;
    if (seconds < 0) seconds = env_long("MANDATE_EARLY_SECONDS");
    if (switched || seconds == 0) return 0;
    const char *path = getenv("MANDATE_CLOCK_SWITCH");
    if (!path || syscall(SYS_faccessat, AT_FDCWD, path, F_OK, 0) == 0) {
        switched = 1;
        return 0;
    }
    return seconds;
}

static long wall_seconds(long real) {
    return (fixed_now() > 0 ? fixed_now() : real) - early();
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    int rc = (int)syscall(SYS_clock_gettime, id, ts);
    if (rc == 0 && ts && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
        long real = ts->tv_sec;
        ts->tv_sec = wall_seconds(real);
        if (fixed_now() > 0) ts->tv_nsec = 0;
    }
    return rc;
}

int gettimeofday(struct timeval *tv, void *tz) {
    int rc = (int)syscall(SYS_gettimeofday, tv, tz);
    if (rc == 0 && tv) {
        tv->tv_sec = wall_seconds(tv->tv_sec);
        if (fixed_now() > 0) tv->tv_usec = 0;
    }
    return rc;
}

time_t time(time_t *out) {
    time_t now = (time_t)wall_seconds((long)syscall(SYS_time, NULL));
    if (out) *out = now;
    return now;
}
