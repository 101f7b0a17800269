/* Numbers, durations and the output options from the command line. */
#include "cmd.h"

long long
cmd_number(const char *s, long long min, long long max, const char *what)
{
	const char *errstr;
	long long v = strtonum(s, min, max, &errstr);

	if (errstr != NULL)
		cmd_usage("%s '%s' is %s (%lld to %lld)", what, s, errstr, min,
		    max);
	return v;
}

uint64_t
cmd_duration(const char *s, const char *what)
{
	ls_error e;
	uint64_t us;

	if (ls_duration_parse(s, &us, &e) != LS_OK)
		cmd_usage("%s: %s", what, e.msg);
	return us;
}

bool
cmd_sink_option(int ch, const char *arg, ls_sink_opts *ko)
{
	switch (ch) {
	case 'A':
		ko->append = true;
		return true;
	case 'B':
		ko->interval = (uint32_t)cmd_number(arg, LS_SS_MIN_INTERVAL,
		    UINT32_MAX, "beacon interval");
		return true;
	case 'F':
		ko->force = true;
		return true;
	}
	return false;
}
