/* err.c — messages for natadv_err codes. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

const char *natadv_strerror(int code)
{
	switch ((natadv_err)code) {
	case NATADV_OK: return "success";
	case NATADV_ENOMEM: return "out of memory";
	case NATADV_EIO: return "input/output error";
	case NATADV_EDB: return "database error";
	case NATADV_EINVAL: return "invalid argument";
	case NATADV_EFORMAT: return "bad format";
	case NATADV_ENOTFOUND: return "not found";
	case NATADV_ETOOBIG: return "too large";
	case NATADV_ENET: return "network error";
	case NATADV_EINTR: return "interrupted";
	case NATADV_EEXIST: return "already exists";
	case NATADV_ESCHEMA: return "database schema is newer than this program";
	}
	return "unknown error";
}

void natadv_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
