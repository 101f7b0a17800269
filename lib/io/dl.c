/* Client libraries loaded on demand (dl-internal.h). */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "ls-internal.h"
#include "dl-internal.h"

static int
dl_open(struct ls__dl *l)
{
	void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
	const char *e;

	if (h == NULL) {
		e = dlerror();
		if (*l->package != '\0')
			snprintf(l->why, sizeof(l->why), "%s (install the "
			    "Debian package %s)", e ? e : l->soname, l->package);
		else
			snprintf(l->why, sizeof(l->why), "%s",
			    e ? e : l->soname);
		return -1;
	}
	for (size_t i = 0; i < l->n; i++) {
		void *f = dlsym(h, l->names[i]);
		if (f == NULL) {
			snprintf(l->why, sizeof(l->why), "%s: no function %s "
			    "(older than the version built against)",
			    l->soname, l->names[i]);
			dlclose(h);
			return -1;
		}
		/* as POSIX's dlsym: an object pointer, copied into the
		 * function pointer's bytes */
		memcpy((char *)l->fns + i * sizeof(f), &f, sizeof(f));
	}
	return 0;
}

int
ls__dl_load(struct ls__dl *l, const char *name, ls_error *err)
{
	int state;

	pthread_mutex_lock(&l->lock);
	if (l->state == 0)
		l->state = dl_open(l) == 0 ? 1 : -1;
	state = l->state;
	pthread_mutex_unlock(&l->lock);
	if (state > 0)
		return LS_OK;
	return ls__failn(err, LS_ERR_INVAL, 0, name, "cannot load %s", l->why);
}

ls__dl_fn
ls__dl_loaded_fn(const char *soname, const char *fn)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);
	void *f;
	ls__dl_fn fp = NULL;

	if (h == NULL)
		return NULL;
	/* the library stays: what loaded it holds it */
	if ((f = dlsym(h, fn)) != NULL)
		memcpy(&fp, &f, sizeof(fp));	/* as in dl_open */
	dlclose(h);
	return fp;
}
