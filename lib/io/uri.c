/*
 * The parts of a network URI, SCHEME://[USERINFO@]HOSTS[/PATH], found
 * once for every backend that connects or listens: endpoint.c splits
 * the text (ls__uri_split), a backend reads each host with
 * ls__host_parse and decodes names with ls__pct_decode.
 */
#include <ctype.h>
#include <stdlib.h>

#include "ls-internal.h"
#include "io-internal.h"

void
ls__uri_split(struct ls__uri *u)
{
	const char *p = strstr(u->text, "://"), *end, *at = NULL;

	if (p == NULL)
		return;
	p += 3;
	end = p + strcspn(p, "/");
	for (const char *q = p; q < end; q++)
		if (*q == '@')
			at = q;		/* the last '@' before the path */
	if (at != NULL) {
		u->userinfo = p;
		u->userinfo_len = (size_t)(at - p);
		p = at + 1;
	}
	u->hosts = p;
	u->hosts_len = (size_t)(end - p);
	u->upath = *end == '/' ? end : NULL;
}

const char *
ls__host_parse(const char *p, size_t n, struct ls__host *h)
{
	const char *end = p + n, *he, *colon;
	uint64_t v;

	memset(h, 0, sizeof(*h));
	if (n > 0 && *p == '[') {
		if ((he = memchr(p, ']', n)) == NULL)
			return "unclosed '[' in the host";
		p++;
		h->v6 = true;
		colon = he + 1 < end && he[1] == ':' ? he + 1 : NULL;
		if (he + 1 < end && colon == NULL)
			return "bad host";
	} else {
		colon = memchr(p, ':', n);
		he = colon != NULL ? colon : end;
	}
	if (he == p)
		return "empty host";
	if (colon != NULL) {
		h->port_text = colon + 1;
		h->port_len = (size_t)(end - colon - 1);
		if (ls_u64_parse(h->port_text, h->port_len, &v) != LS_OK ||
		    v < 1 || v > 65535)
			return "bad port";
		h->port = (unsigned)v;
	}
	if ((size_t)(he - p) >= sizeof(h->host))
		return "host longer than 255 bytes";
	memcpy(h->host, p, (size_t)(he - p));
	h->host[he - p] = '\0';
	return NULL;
}

char *
ls__pct_decode(const char *p, size_t n, size_t *len)
{
	char *s = malloc(n + 1), *q = s;

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '%' && i + 2 < n &&
		    isxdigit((unsigned char)p[i + 1]) &&
		    isxdigit((unsigned char)p[i + 2])) {
			char hx[3] = { p[i + 1], p[i + 2], '\0' };
			*q++ = (char)strtoul(hx, NULL, 16);
			i += 2;
		} else
			*q++ = p[i];
	}
	*q = '\0';
	*len = (size_t)(q - s);
	return s;
}
