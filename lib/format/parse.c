/* Parsing of positions and durations given on command lines. */
#include <stdlib.h>

#include "ls-internal.h"

LS_API int
ls_u64_parse(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0 || n > 20)
		return LS_ERR_INVAL;
	/* 19 digits cannot overflow; only a 20th is checked */
	for (size_t i = 0; i < n && i < 19; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';
		if (d > 9)
			return LS_ERR_INVAL;
		x = x * 10 + d;
	}
	if (n == 20) {
		unsigned d = (unsigned)(unsigned char)s[19] - '0';
		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return LS_ERR_INVAL;
		x = x * 10 + d;
	}
	*v = x;
	return LS_OK;
}

/* Parses the digits that start s; *end is where they stop. */
static int
parse_u64(const char *s, uint64_t *v, const char **end)
{
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	*end = s + n;
	return ls_u64_parse(s, n, v) == LS_OK ? 0 : -1;
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
