/*
 * kafka-mock: a test tool that runs librdkafka's mock Kafka cluster in
 * memory on loopback. Usage: kafka-mock [-h] [-b brokers]
 * [-t topic:partitions]... Creates each topic (replication factor 1),
 * prints the bootstrap servers ("127.0.0.1:PORT,...") on a line of
 * standard output and runs until SIGTERM or SIGINT, then exits 0. The
 * ports are free ones the system picks (librdkafka's mock cluster cannot
 * be given one), never Kafka's 9092: use the printed list. The mock has
 * no Admin API, no SASL or TLS, and keeps everything in memory. -h prints
 * this to standard output and exits 0.
 */
#include <err.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef LS_HAVE_RDKAFKA
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static void
usage(FILE *f, int status)
{
	fprintf(f, "usage: kafka-mock [-h] [-b brokers] "
	    "[-t topic:partitions]...\n");
	if (f == stdout)
		fprintf(f, "Runs librdkafka's mock cluster of brokers (default "
		    "3) on 127.0.0.1, on free ports\nthe system picks, "
		    "with each topic given; prints the bootstrap list\n"
		    "(127.0.0.1:PORT,...) on one line, then runs until "
		    "SIGTERM or SIGINT.\n");
	exit(status);
}

int
main(int argc, char *argv[])
{
	rd_kafka_conf_t *conf;
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *rk;
	sigset_t set;
	char errstr[512], **topics;
	int ch, brokers = 3, ntopics = 0, sig;

	if ((topics = calloc((size_t)argc, sizeof(*topics))) == NULL)
		err(1, NULL);
	while ((ch = getopt(argc, argv, "b:ht:")) != -1) {
		switch (ch) {
		case 'b':
			brokers = atoi(optarg);
			if (brokers < 1 || brokers > 16)
				errx(2, "-b: '%s' is not 1 to 16", optarg);
			break;
		case 'h':
			usage(stdout, 0);
			break;
		case 't':
			topics[ntopics++] = optarg;
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);
	/* librdkafka's threads inherit the mask: only sigwait sees these */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		errx(1, "pthread_sigmask failed");

	conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "log_level", "3", errstr,
	    sizeof(errstr)) != RD_KAFKA_CONF_OK)
		errx(1, "%s", errstr);
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
	    sizeof(errstr))) == NULL)
		errx(1, "rd_kafka_new: %s", errstr);
	if ((mc = rd_kafka_mock_cluster_new(rk, brokers)) == NULL)
		errx(1, "rd_kafka_mock_cluster_new failed");
	for (int i = 0; i < ntopics; i++) {
		char *t = topics[i], *colon = strrchr(t, ':'), *end;
		long parts;
		if (colon == NULL)
			errx(2, "-t: '%s' is not topic:partitions", t);
		*colon = '\0';
		parts = strtol(colon + 1, &end, 10);
		if (*t == '\0' || *end != '\0' || parts < 1 || parts > 1000)
			errx(2, "-t: '%s:%s' is not topic:partitions", t,
			    colon + 1);
		rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, t,
		    (int)parts, 1);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
			errx(1, "%s: %s", t, rd_kafka_err2str(e));
	}
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	if (fflush(stdout) != 0)
		err(1, "stdout");
	if (sigwait(&set, &sig) != 0)
		errx(1, "sigwait failed");
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	free(topics);
	return 0;
}
#else
int
main(void)
{
	errx(1, "built without librdkafka: install librdkafka-dev and "
	    "rebuild");
}
#endif
