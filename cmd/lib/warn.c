/* Diagnostics: warn(3), warnx, err and errx, each message written with
 * one write(2), its control bytes escaped. */
#include <stdarg.h>

#include "cmd.h"

/* Writes the diagnostic p[0..n) and a newline with one write(2), each
 * control byte of it (bad input echoed: an escape sequence, a newline)
 * as \xNN, so that it stays one line and cannot drive a terminal. */
static void
cmd_put_escaped(const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char out[4 * 2048 + 1];
	size_t k = 0;

	for (size_t i = 0; i < n && k < sizeof(out) - 5; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 0x20 && c != 0x7f) {
			out[k++] = (char)c;
			continue;
		}
		out[k++] = '\\';
		out[k++] = 'x';
		out[k++] = hex[c >> 4];
		out[k++] = hex[c & 15];
	}
	out[k++] = '\n';
	(void)ls_write_all(STDERR_FILENO, out, k);
}

static void
cmd_vwarn(int e, const char *fmt, va_list ap)
{
	char buf[2048];
	size_t n;
	int k;

	k = snprintf(buf, sizeof(buf), "%s: ", getprogname());
	n = k > 0 ? (size_t)k : 0;
	if (fmt != NULL && n < sizeof(buf)) {
		k = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
		n += k > 0 ? (size_t)k : 0;
	}
	if (e >= 0 && n < sizeof(buf)) {
		k = snprintf(buf + n, sizeof(buf) - n, "%s%s",
		    fmt != NULL ? ": " : "", strerror(e));
		n += k > 0 ? (size_t)k : 0;
	}
	if (n > sizeof(buf) - 1)
		n = sizeof(buf) - 1;	/* cut short, with its newline */
	cmd_put_escaped(buf, n);
}

void
cmd_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_vwarn(-1, fmt, ap);
	va_end(ap);
}

void
cmd_warn(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	cmd_vwarn(e, fmt, ap);
	va_end(ap);
}

_Noreturn void
cmd_errx(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_vwarn(-1, fmt, ap);
	va_end(ap);
	exit(status);
}

_Noreturn void
cmd_err(int status, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	cmd_vwarn(e, fmt, ap);
	va_end(ap);
	exit(status);
}

_Noreturn void
cmd_errc(int status, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_vwarn(code, fmt, ap);
	va_end(ap);
	exit(status);
}

const char *cmd_usage_text = "";

_Noreturn void
cmd_usage(const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		cmd_vwarn(-1, fmt, ap);
		va_end(ap);
	}
	(void)ls_write_all(STDERR_FILENO, cmd_usage_text,
	    strlen(cmd_usage_text));
	exit(2);
}

static _Noreturn void
cmd_print_exit(const char *s)
{
	if (fputs(s, stdout) == EOF || fflush(stdout) != 0)
		err(1, "stdout");
	exit(0);
}

void
cmd_option(int ch)
{
	char line[128];

	switch (ch) {
	case 'h':
		cmd_print_exit(cmd_usage_text);
	case CMD_OPT_VERSION:
		snprintf(line, sizeof(line), "%s %s\n", getprogname(),
		    LS_VERSION);
		cmd_print_exit(line);
	case '?':
	case ':':
		cmd_usage(NULL);
	}
}
