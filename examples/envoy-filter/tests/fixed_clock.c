/* LD_PRELOAD shim that freezes the wall clock (CLOCK_REALTIME) of one process at
 * MANDATE_FIXED_NOW (Unix seconds), leaving every other clock real.
 *
 * The conformance vectors carry a fixed `now`, and the filter takes `now` from Envoy's clock, so the
 * vector runs start Envoy with this shim. libfaketime would do, but it deadlocks in Envoy's
 * tcmalloc (its hooks call dlsym, which allocates); this shim calls the kernel directly and never
 * allocates. Test tooling only: built by scripts/test-envoy.sh, never shipped. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long fixed_now(void) {
    static long cached = -1;
    if (cached < 0) {
        const char *s = getenv("MANDATE_FIXED_NOW");
        cached = s ? atol(s) : 0;
    }
    return cached;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    if ((id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE) && fixed_now() > 0) {
        ts->tv_sec = fixed_now();
        ts->tv_nsec = 0;
        return 0;
    }
    return (int)syscall(SYS_clock_gettime, id, ts);
}

int gettimeofday(struct timeval *tv, void *tz) {
    (void)tz;
    if (fixed_now() > 0) {
        if (tv) {
            tv->tv_sec = fixed_now();
            tv->tv_usec = 0;
        }
        return 0;
    }
    return (int)syscall(SYS_gettimeofday, tv, tz);
}

time_t time(time_t *out) {
    time_t now = fixed_now() > 0 ? (time_t)fixed_now() : (time_t)syscall(SYS_time, NULL);
    if (out) *out = now;
    return now;
}
