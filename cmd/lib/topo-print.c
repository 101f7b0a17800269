/* pipeline --dry-run and --graph: a topology as a shell script and as
 * Graphviz dot. */
#include "topo.h"

void
topo_print_sh(const struct topo *t, FILE *f)
{
	fprintf(f, "#!/bin/sh\n# pipeline --dry-run: no restarts, no "
	    "ordered stop\nD=$(mktemp -d) || exit 1\n"
	    "trap 'rm -rf \"$D\"' EXIT\n");
	if (t->nc > 0) {
		fprintf(f, "mkfifo");
		for (size_t i = 0; i < t->nc; i++)
			fprintf(f, " \"$D\"/%s", t->c[i].name);
		fprintf(f, " || exit 1\n");
	}
	fprintf(f, "pids=\n");
	for (size_t i = 0; i < t->nst; i++) {
		const struct topo_stage *st = &t->st[i];
		fprintf(f, "# %s (%s)\n", st->name, st->where);
		for (size_t j = 0; j < st->nseg; j++)
			fprintf(f, "%s%s", j ? " | " : "", st->seg[j].cmd);
		fprintf(f, " &\npids=\"$pids $!\"\n");
	}
	fprintf(f, "st=0\nfor p in $pids; do wait \"$p\" || st=1; done\n"
	    "exit $st\n");
}

/* s as the inside of a dot string. */
static void
dot_str(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
}

void
topo_print_dot(const struct topo *t, FILE *f)
{
	fprintf(f, "digraph pipeline {\n\trankdir=LR;\n"
	    "\tnode [shape=box];\n");
	for (size_t i = 0; i < t->nst; i++) {
		fprintf(f, "\ts%zu [label=\"", i);
		dot_str(f, t->st[i].name);
		fprintf(f, "\", tooltip=\"");
		dot_str(f, t->st[i].text);
		fprintf(f, "\"];\n");
	}
	for (size_t i = 0; i < t->nc; i++) {
		fprintf(f, "\ts%d -> s%d [label=\"@", t->c[i].writer,
		    t->c[i].reader);
		dot_str(f, t->c[i].name);
		fprintf(f, "\"];\n");
	}
	fprintf(f, "}\n");
}
