/*
 * librdkafka, loaded when kafka:// first needs it (dl-internal.h): the
 * functions the backend calls, each name a call through ls__rdkafka.
 */
#ifndef DL_RDKAFKA_H
#define DL_RDKAFKA_H

#include <librdkafka/rdkafka.h>

#include "dl-internal.h"

/* the soname and Debian package the build found (Makefile) */
#ifndef LS_SONAME_RDKAFKA
#define LS_SONAME_RDKAFKA "librdkafka.so"
#endif
#ifndef LS_PKG_RDKAFKA
#define LS_PKG_RDKAFKA ""
#endif

#define LS__RDKAFKA_FNS(X) \
	X(rd_kafka_assign) \
	X(rd_kafka_commit) \
	X(rd_kafka_committed) \
	X(rd_kafka_conf_destroy) \
	X(rd_kafka_conf_new) \
	X(rd_kafka_conf_set) \
	X(rd_kafka_conf_set_dr_msg_cb) \
	X(rd_kafka_conf_set_error_cb) \
	X(rd_kafka_conf_set_log_cb) \
	X(rd_kafka_conf_set_offset_commit_cb) \
	X(rd_kafka_conf_set_opaque) \
	X(rd_kafka_conf_set_rebalance_cb) \
	X(rd_kafka_consumer_close) \
	X(rd_kafka_consumer_poll) \
	X(rd_kafka_destroy) \
	X(rd_kafka_err2str) \
	X(rd_kafka_error_code) \
	X(rd_kafka_error_destroy) \
	X(rd_kafka_error_string) \
	X(rd_kafka_flush) \
	X(rd_kafka_header_get_last) \
	X(rd_kafka_incremental_assign) \
	X(rd_kafka_incremental_unassign) \
	X(rd_kafka_last_error) \
	X(rd_kafka_message_destroy) \
	X(rd_kafka_message_errstr) \
	X(rd_kafka_message_headers) \
	X(rd_kafka_message_timestamp) \
	X(rd_kafka_metadata) \
	X(rd_kafka_metadata_destroy) \
	X(rd_kafka_new) \
	X(rd_kafka_offset_store) \
	X(rd_kafka_offsets_for_times) \
	X(rd_kafka_outq_len) \
	X(rd_kafka_poll) \
	X(rd_kafka_poll_set_consumer) \
	X(rd_kafka_produceva) \
	X(rd_kafka_purge) \
	X(rd_kafka_rebalance_protocol) \
	X(rd_kafka_subscribe) \
	X(rd_kafka_topic_destroy) \
	X(rd_kafka_topic_name) \
	X(rd_kafka_topic_new) \
	X(rd_kafka_topic_partition_list_add) \
	X(rd_kafka_topic_partition_list_destroy) \
	X(rd_kafka_topic_partition_list_find) \
	X(rd_kafka_topic_partition_list_new)

LS__DL_DECLARE(ls__rdkafka, LS__RDKAFKA_FNS)

#define rd_kafka_assign(...) (*ls__rdkafka.rd_kafka_assign)(__VA_ARGS__)
#define rd_kafka_commit(...) (*ls__rdkafka.rd_kafka_commit)(__VA_ARGS__)
#define rd_kafka_committed(...) (*ls__rdkafka.rd_kafka_committed)(__VA_ARGS__)
#define rd_kafka_conf_destroy(...) (*ls__rdkafka.rd_kafka_conf_destroy)(__VA_ARGS__)
#define rd_kafka_conf_new(...) (*ls__rdkafka.rd_kafka_conf_new)(__VA_ARGS__)
#define rd_kafka_conf_set(...) (*ls__rdkafka.rd_kafka_conf_set)(__VA_ARGS__)
#define rd_kafka_conf_set_dr_msg_cb(...) (*ls__rdkafka.rd_kafka_conf_set_dr_msg_cb)(__VA_ARGS__)
#define rd_kafka_conf_set_error_cb(...) (*ls__rdkafka.rd_kafka_conf_set_error_cb)(__VA_ARGS__)
#define rd_kafka_conf_set_log_cb(...) (*ls__rdkafka.rd_kafka_conf_set_log_cb)(__VA_ARGS__)
#define rd_kafka_conf_set_offset_commit_cb(...) (*ls__rdkafka.rd_kafka_conf_set_offset_commit_cb)(__VA_ARGS__)
#define rd_kafka_conf_set_opaque(...) (*ls__rdkafka.rd_kafka_conf_set_opaque)(__VA_ARGS__)
#define rd_kafka_conf_set_rebalance_cb(...) (*ls__rdkafka.rd_kafka_conf_set_rebalance_cb)(__VA_ARGS__)
#define rd_kafka_consumer_close(...) (*ls__rdkafka.rd_kafka_consumer_close)(__VA_ARGS__)
#define rd_kafka_consumer_poll(...) (*ls__rdkafka.rd_kafka_consumer_poll)(__VA_ARGS__)
#define rd_kafka_destroy(...) (*ls__rdkafka.rd_kafka_destroy)(__VA_ARGS__)
#define rd_kafka_err2str(...) (*ls__rdkafka.rd_kafka_err2str)(__VA_ARGS__)
#define rd_kafka_error_code(...) (*ls__rdkafka.rd_kafka_error_code)(__VA_ARGS__)
#define rd_kafka_error_destroy(...) (*ls__rdkafka.rd_kafka_error_destroy)(__VA_ARGS__)
#define rd_kafka_error_string(...) (*ls__rdkafka.rd_kafka_error_string)(__VA_ARGS__)
#define rd_kafka_flush(...) (*ls__rdkafka.rd_kafka_flush)(__VA_ARGS__)
#define rd_kafka_header_get_last(...) (*ls__rdkafka.rd_kafka_header_get_last)(__VA_ARGS__)
#define rd_kafka_incremental_assign(...) (*ls__rdkafka.rd_kafka_incremental_assign)(__VA_ARGS__)
#define rd_kafka_incremental_unassign(...) (*ls__rdkafka.rd_kafka_incremental_unassign)(__VA_ARGS__)
#define rd_kafka_last_error(...) (*ls__rdkafka.rd_kafka_last_error)(__VA_ARGS__)
#define rd_kafka_message_destroy(...) (*ls__rdkafka.rd_kafka_message_destroy)(__VA_ARGS__)
#define rd_kafka_message_errstr(...) (*ls__rdkafka.rd_kafka_message_errstr)(__VA_ARGS__)
#define rd_kafka_message_headers(...) (*ls__rdkafka.rd_kafka_message_headers)(__VA_ARGS__)
#define rd_kafka_message_timestamp(...) (*ls__rdkafka.rd_kafka_message_timestamp)(__VA_ARGS__)
#define rd_kafka_metadata(...) (*ls__rdkafka.rd_kafka_metadata)(__VA_ARGS__)
#define rd_kafka_metadata_destroy(...) (*ls__rdkafka.rd_kafka_metadata_destroy)(__VA_ARGS__)
#define rd_kafka_new(...) (*ls__rdkafka.rd_kafka_new)(__VA_ARGS__)
#define rd_kafka_offset_store(...) (*ls__rdkafka.rd_kafka_offset_store)(__VA_ARGS__)
#define rd_kafka_offsets_for_times(...) (*ls__rdkafka.rd_kafka_offsets_for_times)(__VA_ARGS__)
#define rd_kafka_outq_len(...) (*ls__rdkafka.rd_kafka_outq_len)(__VA_ARGS__)
#define rd_kafka_poll(...) (*ls__rdkafka.rd_kafka_poll)(__VA_ARGS__)
#define rd_kafka_poll_set_consumer(...) (*ls__rdkafka.rd_kafka_poll_set_consumer)(__VA_ARGS__)
#define rd_kafka_produceva(...) (*ls__rdkafka.rd_kafka_produceva)(__VA_ARGS__)
#define rd_kafka_purge(...) (*ls__rdkafka.rd_kafka_purge)(__VA_ARGS__)
#define rd_kafka_rebalance_protocol(...) (*ls__rdkafka.rd_kafka_rebalance_protocol)(__VA_ARGS__)
#define rd_kafka_subscribe(...) (*ls__rdkafka.rd_kafka_subscribe)(__VA_ARGS__)
#define rd_kafka_topic_destroy(...) (*ls__rdkafka.rd_kafka_topic_destroy)(__VA_ARGS__)
#define rd_kafka_topic_name(...) (*ls__rdkafka.rd_kafka_topic_name)(__VA_ARGS__)
#define rd_kafka_topic_new(...) (*ls__rdkafka.rd_kafka_topic_new)(__VA_ARGS__)
#define rd_kafka_topic_partition_list_add(...) (*ls__rdkafka.rd_kafka_topic_partition_list_add)(__VA_ARGS__)
#define rd_kafka_topic_partition_list_destroy(...) (*ls__rdkafka.rd_kafka_topic_partition_list_destroy)(__VA_ARGS__)
#define rd_kafka_topic_partition_list_find(...) (*ls__rdkafka.rd_kafka_topic_partition_list_find)(__VA_ARGS__)
#define rd_kafka_topic_partition_list_new(...) (*ls__rdkafka.rd_kafka_topic_partition_list_new)(__VA_ARGS__)

#endif
