/* timeutil.h — wall-clock helpers shared by every module: unix seconds as
 * double and the UTC ISO-8601 text the database stores. */
#ifndef NATADV_TIMEUTIL_H
#define NATADV_TIMEUTIL_H

/* Returns the current wall-clock time in unix seconds. */
double time_now(void);
/* Returns a monotonic clock in seconds (for rates and timeouts). */
double time_mono(void);
/* Writes t as "2026-11-29T08:42:03.123Z" into out (at least 32 bytes). */
void time_iso(double t, char out[32]);

#endif
