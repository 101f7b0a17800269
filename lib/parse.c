/* Parsing of positions and durations given on command lines. */
#include <stdlib.h>

#include "ls-internal.h"

static int
parse_u64(const char *s, uint64_t *v, const char **end)
{
	uint64_t x = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	*end = p;
	return 0;
}

LS_API int
ls_pos_parse(const char *s, ls_ss_pos *pos, ls_error *err)
{
	const char *end;

	memset(pos, 0, sizeof(*pos));
	if (strcmp(s, "start") == 0) {
		pos->from = LS_FROM_START;
		return LS_OK;
	}
	if (strcmp(s, "end") == 0) {
		pos->from = LS_FROM_END;
		return LS_OK;
	}
	if (strncmp(s, "time:", 5) == 0) {
		pos->from = LS_FROM_TIME;
		if (ls_time_parse(s + 5, strlen(s + 5), &pos->value) == LS_OK)
			return LS_OK;
		return ls__fail(err, LS_ERR_INVAL, 0, "bad time in position "
		    "'%s' (YYYY-MM-DDTHH:MM:SS[.fff], UTC)", s);
	}
	if (strncmp(s, "beacon:", 7) == 0) {
		pos->from = LS_FROM_BEACON;
		s += 7;
	} else if (strncmp(s, "seq:", 4) == 0) {
		pos->from = LS_FROM_SEQ;
		s += 4;
	} else
		return ls__fail(err, LS_ERR_INVAL, 0, "bad position '%s' "
		    "(start, end, beacon:N, seq:S or time:T)", s);
	if (parse_u64(s, &pos->value, &end) != 0 || *end != '\0')
		return ls__fail(err, LS_ERR_INVAL, 0,
		    "bad number '%s' in position", s);
	return LS_OK;
}

LS_API int
ls_duration_parse(const char *s, uint64_t *us, ls_error *err)
{
	static const struct {
		const char *unit;
		uint64_t mul;
	} units[] = {
		{ "", 1000000 }, { "us", 1 }, { "ms", 1000 }, { "s", 1000000 },
		{ "m", 60000000 }, { "h", 3600000000ull },
	};
	const char *end;
	uint64_t v;

	if (parse_u64(s, &v, &end) == 0)
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcmp(end, units[i].unit) == 0) {
				if (v > UINT64_MAX / units[i].mul)
					break;
				*us = v * units[i].mul;
				return LS_OK;
			}
	return ls__fail(err, LS_ERR_INVAL, 0, "bad duration '%s' "
	    "(a whole number with us, ms, s, m or h)", s);
}
