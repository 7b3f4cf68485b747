/* timeutil.c — wall-clock and monotonic time, ISO-8601 formatting. */
#include "timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

double time_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double time_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void time_iso(double t, char out[32])
{
	time_t secs = (time_t)t;
	int ms = (int)((t - (double)secs) * 1000.0);
	if (ms < 0)
		ms = 0;
	if (ms > 999)
		ms = 999;
	struct tm tm;
	gmtime_r(&secs, &tm);
	char wide[96]; /* the compiler cannot bound tm's fields; the text fits 32 */
	snprintf(wide, sizeof wide, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	memcpy(out, wide, 31);
	out[31] = '\0';
}
