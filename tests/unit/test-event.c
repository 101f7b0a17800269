/* Unit tests of the event core (event.c) and the process helpers
 * (proc.c). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "libstream.h"

struct log {
	char s[256];
	size_t n;
};

static void
note(struct log *g, const char *what)
{
	size_t k = strlen(what);

	assert_true(g->n + k < sizeof(g->s));
	memcpy(g->s + g->n, what, k + 1);
	g->n += k;
}

static void
on_timer(ls_loop *l, void *ctx)
{
	(void)l;
	note(ctx, "t");
}

/* Timers run in the order of their times (ties in the order they were
 * set), a cancelled one never, and the loop waits for the nearest. */
static void
test_timers(void **state)
{
	struct log g = { .n = 0 };
	ls_loop *l = ls_loop_new(NULL);
	uint64_t t0 = ls_mono_ms(), ids[5];
	static const uint64_t after[] = { 60, 20, 40, 20, 10 };
	ls_error e;
	int ran = 0;

	(void)state;
	assert_non_null(l);
	assert_true(ls_loop_idle(l));
	for (int i = 0; i < 5; i++) {
		ids[i] = ls_loop_timer(l, t0 + after[i], on_timer, &g, &e);
		assert_true(ids[i] != 0);
	}
	ls_loop_cancel(l, ids[2]);
	while (!ls_loop_idle(l)) {
		int n = ls_loop_once(l, -1, &e);
		assert_true(n >= 0);
		ran += n;
		if (ran == 1)
			assert_true(ls_mono_ms() >= t0 + 10);
	}
	assert_int_equal(ran, 4);
	assert_true(ls_mono_ms() >= t0 + 60);
	ls_loop_free(l);
}

struct pipe_ctx {
	int reads, hangups;
	char got[16];
	size_t n;
};

static void
on_read(ls_loop *l, int fd, unsigned ev, void *ctx)
{
	struct pipe_ctx *p = ctx;
	ssize_t r;

	assert_true(ev & LS_EV_READ);
	r = read(fd, p->got + p->n, sizeof(p->got) - p->n);
	if (r > 0) {
		p->reads++;
		p->n += (size_t)r;
	} else {
		p->hangups++;
		ls_loop_fd(l, fd, 0, NULL, NULL, NULL);
	}
}

/* A readable descriptor is called back, its end of file too, and a
 * watch removed inside its callback is gone. */
static void
test_fds(void **state)
{
	struct pipe_ctx p = { 0 };
	ls_loop *l = ls_loop_new(NULL);
	ls_error e;
	int fd[2];

	(void)state;
	assert_int_equal(pipe(fd), 0);
	assert_int_equal(ls_loop_fd(l, fd[0], LS_EV_READ, on_read, &p, &e),
	    LS_OK);
	assert_int_equal(ls_loop_once(l, 0, &e), 0);	/* nothing yet */
	assert_int_equal(write(fd[1], "abc", 3), 3);
	assert_int_equal(ls_loop_once(l, 1000, &e), 1);
	close(fd[1]);
	assert_int_equal(ls_loop_once(l, 1000, &e), 1);
	assert_int_equal(p.reads, 1);
	assert_int_equal(p.hangups, 1);
	assert_memory_equal(p.got, "abc", 3);
	assert_true(ls_loop_idle(l));
	close(fd[0]);
	ls_loop_free(l);
}

struct child_ctx {
	pid_t pid;
	int status, calls;
};

static void
on_child(ls_loop *l, pid_t pid, int status, void *ctx)
{
	struct child_ctx *c = ctx;

	(void)l;
	assert_int_equal(pid, c->pid);
	c->status = status;
	c->calls++;
}

/* Children started with and without a shell are reaped by the loop,
 * their status told as text. */
static void
test_children(void **state)
{
	static const char *const noshell[] = { "sh", "-c", "kill -9 $$",
	    NULL };
	static const char *const shell[] = { "exit 3", NULL };
	struct child_ctx a = { 0 }, b = { 0 };
	ls_loop *l = ls_loop_new(NULL);
	ls_error e;
	char text[64];

	(void)state;
	assert_int_equal(ls_spawn(shell, true, 0, 1, NULL, &a.pid), 0);
	assert_int_equal(ls_spawn(noshell, false, 0, 1, NULL, &b.pid), 0);
	assert_int_equal(ls_loop_child(l, a.pid, on_child, &a, &e), LS_OK);
	assert_int_equal(ls_loop_child(l, b.pid, on_child, &b, &e), LS_OK);
	while (!ls_loop_idle(l))
		assert_true(ls_loop_once(l, 5000, &e) >= 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	ls_status_text(a.status, text, sizeof(text));
	assert_string_equal(text, "exited with status 3");
	ls_status_text(b.status, text, sizeof(text));
	assert_string_equal(text, "killed by signal 9 (Killed)");
	assert_int_equal(waitpid(a.pid, NULL, WNOHANG), -1);	/* reaped */
	assert_int_equal(errno, ECHILD);
	ls_loop_free(l);
}

static void
test_backoff(void **state)
{
	(void)state;
	assert_int_equal(ls_backoff_ms(0, 100, 5000), 100);
	assert_int_equal(ls_backoff_ms(1, 100, 5000), 200);
	assert_int_equal(ls_backoff_ms(5, 100, 5000), 3200);
	assert_int_equal(ls_backoff_ms(6, 100, 5000), 5000);
	assert_int_equal(ls_backoff_ms(200, 100, 5000), 5000);
	assert_true(ls_backoff_ms(70, 1, UINT64_MAX) == UINT64_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_fds),
		cmocka_unit_test(test_children),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
