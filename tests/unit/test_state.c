// SPDX-License-Identifier: GPL-2.0
/* Unit tests for hook/state.c: the OCI state a runtime passes on stdin. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "state.h"

#define FIXTURES "tests/fixtures/state/"

/* Reads a whole fixture file into a malloc'd buffer. */
static char *read_fixture(const char *name, size_t *len)
{
	char path[256];
	struct stat sb;
	char *buf;
	int fd;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("cannot open %s (run from the repo root): %s", path, strerror(errno));
	assert_int_equal(fstat(fd, &sb), 0);
	buf = malloc(sb.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, sb.st_size), sb.st_size);
	buf[sb.st_size] = '\0';
	close(fd);
	*len = sb.st_size;
	return buf;
}

/* A message was recorded, and it is a real sentence. */
static void assert_err_msg(const char *want)
{
	const char *msg = ocb_err_msg();

	assert_non_null(msg);
	if (strlen(msg) < 10)
		fail_msg("error message too short: '%s'", msg);
	if (want && !strstr(msg, want))
		fail_msg("error message '%s' does not mention '%s'", msg, want);
}

static void assert_state_empty(const struct oci_state *st)
{
	assert_null(st->root);
	assert_null(st->id);
	assert_null(st->status);
	assert_null(st->annotations);
	assert_int_equal(st->pid, 0);
}

/* Parses @len bytes of @buf, expects @want_err and a message holding @want. */
static void refuse_buf(const char *buf, size_t len, int want_err, const char *want)
{
	struct oci_state st;
	int err;

	ocb_err_clear();
	memset(&st, 0xa5, sizeof(st));
	err = oci_state_parse(buf, len, &st);
	if (err != want_err)
		fail_msg("state '%.*s': got %d (%s), want %d; message: %s", (int)(len > 200 ? 200 : len),
			 buf, err, strerror(-err), want_err, ocb_err_msg());
	assert_err_msg(want);
	assert_state_empty(&st);
	ocb_err_clear();
}

static void refuse(const char *json, int want_err, const char *want)
{
	refuse_buf(json, strlen(json), want_err, want);
}

static void accept_json(const char *json, struct oci_state *st)
{
	int err;

	ocb_err_clear();
	err = oci_state_parse(json, strlen(json), st);
	if (err)
		fail_msg("state '%s' refused: %d: %s", json, err, ocb_err_msg());
	assert_string_equal(ocb_err_msg(), "");
}

/* Writes @len bytes of @buf to a fresh memfd and rewinds it. */
static int memfd_with(const char *buf, size_t len)
{
	int fd = memfd_create("ocb-state", MFD_CLOEXEC);
	size_t off = 0;

	assert_true(fd >= 0);
	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		assert_true(n > 0);
		off += n;
	}
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* A valid state padded to exactly @len bytes. */
static char *padded_state(size_t len)
{
	static const char head[] = "{\"id\":\"big\",\"pad\":\"";
	static const char tail[] = "\"}";
	size_t hl = sizeof(head) - 1, tl = sizeof(tail) - 1;
	char *buf = malloc(len);

	assert_non_null(buf);
	assert_true(len > hl + tl);
	memcpy(buf, head, hl);
	memset(buf + hl, 'a', len - hl - tl);
	memcpy(buf + len - tl, tail, tl);
	return buf;
}

/* Feeds @buf to a pipe from a child, like a runtime writing to stdin. */
static pid_t pipe_writer(const char *buf, size_t len, int *rfd)
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		size_t off = 0;

		close(fds[0]);
		while (off < len) {
			ssize_t n = write(fds[1], buf + off, len - off);

			if (n <= 0)
				_exit(1);
			off += n;
		}
		_exit(0);
	}
	close(fds[1]);
	*rfd = fds[0];
	return pid;
}

/* ---- valid states ---- */

static void test_runc_prestart(void **state)
{
	struct oci_state st;
	char *buf;
	size_t len;

	(void)state;
	buf = read_fixture("runc-prestart.json", &len);
	ocb_err_clear();
	assert_int_equal(oci_state_parse(buf, len, &st), 0);
	assert_string_equal(ocb_err_msg(), "");
	assert_string_equal(st.id, "4f3c2e1d0b9a8f7e6d5c4b3a29180716f5e4d3c2b1a09f8e7d6c5b4a39281706");
	assert_string_equal(st.status, "creating");
	assert_string_equal(st.oci_version, "1.0.2-dev");
	assert_int_equal(st.pid, 48213);
	assert_non_null(st.bundle);
	assert_non_null(strstr(st.bundle, "/run/containerd/io.containerd.runtime.v2.task/k8s.io/"));
	assert_non_null(st.annotations);
	oci_state_free(&st);
	assert_state_empty(&st);
	free(buf);
}

static void test_crun_created(void **state)
{
	struct oci_state st;
	char *buf;
	size_t len;

	(void)state;
	buf = read_fixture("crun-created.json", &len);
	ocb_err_clear();
	assert_int_equal(oci_state_parse(buf, len, &st), 0);
	assert_string_equal(st.id, "web-1.example.com");
	assert_string_equal(st.status, "created");
	assert_string_equal(st.oci_version, "1.0.0");
	assert_int_equal(st.pid, 0);
	assert_string_equal(st.bundle,
			    "/var/lib/containers/storage/overlay-containers/0f1e2d3c/userdata");
	assert_string_equal(oci_state_annotation(&st, "io.container.manager"), "libpod");
	oci_state_free(&st);
	free(buf);
}

static void test_runc_poststop_no_pid(void **state)
{
	struct oci_state st;
	char *buf;
	size_t len;

	(void)state;
	buf = read_fixture("runc-poststop.json", &len);
	ocb_err_clear();
	assert_int_equal(oci_state_parse(buf, len, &st), 0);
	assert_string_equal(st.status, "stopped");
	assert_int_equal(st.pid, 0);
	assert_string_equal(st.id, "4f3c2e1d0b9a8f7e6d5c4b3a29180716f5e4d3c2b1a09f8e7d6c5b4a39281706");
	oci_state_free(&st);
	free(buf);
}

static void test_minimal_and_null_fields(void **state)
{
	struct oci_state st;

	(void)state;
	accept_json("{\"id\":\"x\"}", &st);
	assert_string_equal(st.id, "x");
	assert_null(st.oci_version);
	assert_null(st.status);
	assert_null(st.bundle);
	assert_null(st.annotations);
	assert_int_equal(st.pid, 0);
	assert_null(oci_state_annotation(&st, "anything"));
	oci_state_free(&st);

	accept_json("{\"id\":\"x\",\"pid\":null,\"status\":null,\"annotations\":null}", &st);
	assert_int_equal(st.pid, 0);
	assert_null(st.status);
	assert_null(st.annotations);
	oci_state_free(&st);

	/* The largest pid the kernel can hand out (PID_MAX_LIMIT). */
	accept_json("{\"id\":\"x\",\"pid\":4194304}", &st);
	assert_int_equal(st.pid, 4194304);
	oci_state_free(&st);
}

static void test_unknown_fields_ignored(void **state)
{
	struct oci_state st;
	char *buf;
	size_t len;

	(void)state;
	buf = read_fixture("unknown-fields.json", &len);
	ocb_err_clear();
	assert_int_equal(oci_state_parse(buf, len, &st), 0);
	assert_string_equal(st.id, "ctr-unknown");
	assert_string_equal(st.status, "running");
	assert_string_equal(st.oci_version, "1.2.0");
	assert_int_equal(st.pid, 4242);
	assert_null(st.annotations);
	oci_state_free(&st);
	free(buf);
}

static void test_annotations(void **state)
{
	struct oci_state st;
	char *buf;
	size_t len;

	(void)state;
	buf = read_fixture("runc-prestart.json", &len);
	ocb_err_clear();
	assert_int_equal(oci_state_parse(buf, len, &st), 0);
	assert_string_equal(oci_state_annotation(&st, "org.oci-cgroup-bpf-hook.policy"), "web");
	assert_string_equal(oci_state_annotation(&st, "io.kubernetes.cri.container-name"), "nginx");
	assert_null(oci_state_annotation(&st, "org.oci-cgroup-bpf-hook.missing"));
	assert_null(oci_state_annotation(&st, ""));
	oci_state_free(&st);
	free(buf);

	/* Non-string values are not returned as strings. */
	accept_json("{\"id\":\"a\",\"annotations\":{\"n\":1,\"b\":true,\"o\":{},\"z\":null,\"s\":\"\"}}",
		    &st);
	assert_null(oci_state_annotation(&st, "n"));
	assert_null(oci_state_annotation(&st, "b"));
	assert_null(oci_state_annotation(&st, "o"));
	assert_null(oci_state_annotation(&st, "z"));
	assert_string_equal(oci_state_annotation(&st, "s"), "");
	oci_state_free(&st);
}

static void test_read_fd_file_and_pipe(void **state)
{
	struct oci_state st;
	char *buf;
	size_t len;
	pid_t pid;
	int fd, wstatus;

	(void)state;
	fd = open(FIXTURES "crun-created.json", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	ocb_err_clear();
	assert_int_equal(oci_state_read_fd(fd, &st), 0);
	assert_string_equal(st.id, "web-1.example.com");
	oci_state_free(&st);
	close(fd);

	buf = read_fixture("runc-prestart.json", &len);
	pid = pipe_writer(buf, len, &fd);
	assert_int_equal(oci_state_read_fd(fd, &st), 0);
	assert_int_equal(st.pid, 48213);
	assert_string_equal(st.status, "creating");
	oci_state_free(&st);
	close(fd);
	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
	free(buf);
}

/* ---- refusals: the input as a whole ---- */

static void test_refuse_over_size_cap(void **state)
{
	struct oci_state st;
	char *buf;
	pid_t pid;
	int fd, err;

	(void)state;
	/* Exactly at the cap is still accepted. */
	buf = padded_state(OCB_STATE_MAX);
	fd = memfd_with(buf, OCB_STATE_MAX);
	ocb_err_clear();
	err = oci_state_read_fd(fd, &st);
	if (err)
		fail_msg("state of exactly OCB_STATE_MAX bytes refused: %s", ocb_err_msg());
	assert_string_equal(st.id, "big");
	oci_state_free(&st);
	close(fd);
	free(buf);

	/* One byte over, from a memfd. */
	buf = padded_state(OCB_STATE_MAX + 1);
	fd = memfd_with(buf, OCB_STATE_MAX + 1);
	ocb_err_clear();
	assert_int_equal(oci_state_read_fd(fd, &st), -EFBIG);
	assert_err_msg("bytes");
	assert_state_empty(&st);
	close(fd);

	/* And straight into the parser. */
	refuse_buf(buf, OCB_STATE_MAX + 1, -EFBIG, "bytes");
	free(buf);

	/* Far over, from a pipe: the reader stops without reading it all. */
	buf = padded_state(4 * OCB_STATE_MAX);
	pid = pipe_writer(buf, 4 * OCB_STATE_MAX, &fd);
	ocb_err_clear();
	memset(&st, 0xa5, sizeof(st));
	assert_int_equal(oci_state_read_fd(fd, &st), -EFBIG);
	assert_err_msg("bytes");
	assert_state_empty(&st);
	close(fd);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	free(buf);
	ocb_err_clear();
}

static void test_refuse_empty(void **state)
{
	struct oci_state st;
	int fds[2];

	(void)state;
	refuse("", -EINVAL, "JSON");
	refuse("   \n\t ", -EINVAL, "JSON");

	/* Nothing on stdin at all. */
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	close(fds[1]);
	ocb_err_clear();
	memset(&st, 0xa5, sizeof(st));
	assert_int_equal(oci_state_read_fd(fds[0], &st), -EINVAL);
	assert_err_msg("no state on stdin");
	/* Failures leave an empty state, safe to oci_state_free(). */
	assert_state_empty(&st);
	oci_state_free(&st);
	close(fds[0]);
	ocb_err_clear();
}

static void test_refuse_unreadable_fd(void **state)
{
	struct oci_state st;
	int fd;

	(void)state;
	ocb_err_clear();
	memset(&st, 0xa5, sizeof(st));
	assert_int_equal(oci_state_read_fd(-1, &st), -EBADF);
	assert_err_msg("cannot read");
	assert_state_empty(&st);
	ocb_err_clear();

	fd = open("tests/fixtures", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(oci_state_read_fd(fd, &st), -EISDIR);
	assert_err_msg("cannot read");
	close(fd);
	ocb_err_clear();
}

static void test_refuse_invalid_json(void **state)
{
	(void)state;
	refuse("{\"id\":\"x\"", -EINVAL, "not valid JSON");
	refuse("{\"id\":\"x\",}", -EINVAL, "not valid JSON");
	refuse("{id:\"x\"}", -EINVAL, "not valid JSON");
	refuse("{\"id\":'x'}", -EINVAL, "not valid JSON");
	/* Trailing data after the object. */
	refuse("{\"id\":\"x\"}{\"id\":\"y\"}", -EINVAL, "not valid JSON");
	/* Invalid UTF-8 in a string. */
	refuse("{\"id\":\"\xff\xfe\"}", -EINVAL, "not valid JSON");
	/* The message locates the error. */
	refuse("{\n\"id\": \"x\",\n\"pid\": 12x\n}", -EINVAL, "line 3");
}

static void test_refuse_non_object(void **state)
{
	(void)state;
	refuse("[{\"id\":\"x\"}]", -EINVAL, "object");
	refuse("[]", -EINVAL, "object");
	/* Bare scalars are not JSON documents to jansson's default decoder. */
	refuse("\"x\"", -EINVAL, NULL);
	refuse("42", -EINVAL, NULL);
	refuse("null", -EINVAL, NULL);
}

static void test_refuse_duplicate_keys(void **state)
{
	(void)state;
	/* A second "id" must not silently win over the first. */
	refuse("{\"id\":\"good\",\"id\":\"../../evil\"}", -EINVAL, "duplicate");
	refuse("{\"id\":\"a\",\"pid\":1,\"pid\":2}", -EINVAL, "duplicate");
	refuse("{\"id\":\"a\",\"annotations\":{\"k\":\"1\",\"k\":\"2\"}}", -EINVAL, "duplicate");
}

/* ---- refusals: the id ---- */

static void test_refuse_missing_id(void **state)
{
	(void)state;
	refuse("{}", -EINVAL, "\"id\"");
	refuse("{\"status\":\"creating\",\"pid\":1}", -EINVAL, "\"id\"");
	refuse("{\"ID\":\"x\"}", -EINVAL, "\"id\"");
	refuse("{\"id\":null}", -EINVAL, "\"id\"");
}

static void test_refuse_empty_id(void **state)
{
	(void)state;
	refuse("{\"id\":\"\"}", -EINVAL, "empty");
	ocb_err_clear();
	assert_int_equal(ocb_id_check(""), -EINVAL);
	assert_err_msg("empty");
	ocb_err_clear();
}

static void test_refuse_non_string_id(void **state)
{
	(void)state;
	refuse("{\"id\":42}", -EINVAL, "\"id\"");
	refuse("{\"id\":true}", -EINVAL, "\"id\"");
	refuse("{\"id\":[\"x\"]}", -EINVAL, "\"id\"");
	refuse("{\"id\":{\"x\":\"y\"}}", -EINVAL, "\"id\"");
}

static void test_refuse_id_with_slash(void **state)
{
	(void)state;
	refuse("{\"id\":\"a/b\"}", -EINVAL, "'/'");
	refuse("{\"id\":\"../../etc\"}", -EINVAL, NULL);
	refuse("{\"id\":\"abc/\"}", -EINVAL, "'/'");
	/* JSON's escaped solidus is still a '/'. */
	refuse("{\"id\":\"a\\/b\"}", -EINVAL, "'/'");
	ocb_err_clear();
	assert_int_equal(ocb_id_check("x/y"), -EINVAL);
	assert_err_msg("'/'");
	ocb_err_clear();
}

static void test_refuse_id_dotdot(void **state)
{
	(void)state;
	refuse("{\"id\":\"..\"}", -EINVAL, "'.'");
	ocb_err_clear();
	assert_int_equal(ocb_id_check(".."), -EINVAL);
	assert_err_msg(NULL);
	ocb_err_clear();
	assert_int_equal(ocb_id_check("."), -EINVAL);
	assert_err_msg(NULL);
	ocb_err_clear();
}

static void test_refuse_id_leading_dot(void **state)
{
	struct oci_state st;

	(void)state;
	refuse("{\"id\":\".hidden\"}", -EINVAL, "'.'");
	refuse("{\"id\":\".staging-123\"}", -EINVAL, "'.'");
	/* Dots elsewhere are fine (they are escaped in pin names). */
	accept_json("{\"id\":\"a..b.\"}", &st);
	assert_string_equal(st.id, "a..b.");
	oci_state_free(&st);
}

static void test_refuse_id_control_char(void **state)
{
	char id[4];
	unsigned int c;

	(void)state;
	refuse("{\"id\":\"abc\\ndef\"}", -EINVAL, "control character 0x0a");
	refuse("{\"id\":\"abc\\u001b[31m\"}", -EINVAL, "0x1b");
	refuse("{\"id\":\"x\\u007f\"}", -EINVAL, "0x7f");
	refuse("{\"id\":\"\\t\"}", -EINVAL, "0x09");
	/* Raw control bytes are not even valid JSON. */
	refuse("{\"id\":\"a\x01z\"}", -EINVAL, NULL);

	/* Every control byte, through ocb_id_check() directly. */
	for (c = 1; c < 0x20; c++) {
		id[0] = 'a';
		id[1] = (char)c;
		id[2] = 'b';
		id[3] = '\0';
		ocb_err_clear();
		if (ocb_id_check(id) != -EINVAL)
			fail_msg("id with byte 0x%02x accepted", c);
		assert_err_msg("control character");
	}
	ocb_err_clear();
	/* Bytes above 0x7f (UTF-8) are not control characters. */
	assert_int_equal(ocb_id_check("caf\xc3\xa9"), 0);
	assert_string_equal(ocb_err_msg(), "");
}

static void test_refuse_id_nul_byte(void **state)
{
	static const char raw[] = "{\"id\":\"ab\0cd\"}";

	(void)state;
	/* The id would be cut at the NUL, naming another container. */
	refuse("{\"id\":\"ab\\u0000cd\"}", -EINVAL, NULL);
	refuse("{\"id\":\"\\u0000\"}", -EINVAL, NULL);
	refuse("{\"id\":\"abc\\u0000\"}", -EINVAL, NULL);
	/* A raw NUL byte inside the buffer. */
	refuse_buf(raw, sizeof(raw) - 1, -EINVAL, NULL);
	/* A NUL after a complete object is trailing garbage. */
	refuse_buf("{\"id\":\"x\"}\0", 11, -EINVAL, NULL);
}

static void test_id_length_limit(void **state)
{
	char json[OCB_ID_MAX + 64];
	char id[OCB_ID_MAX + 2];
	struct oci_state st;

	(void)state;
	/* 255 bytes: accepted. */
	memset(id, 'c', OCB_ID_MAX);
	id[OCB_ID_MAX] = '\0';
	ocb_err_clear();
	assert_int_equal(ocb_id_check(id), 0);
	snprintf(json, sizeof(json), "{\"id\":\"%s\"}", id);
	accept_json(json, &st);
	assert_int_equal(strlen(st.id), OCB_ID_MAX);
	oci_state_free(&st);

	/* 256 bytes: refused. */
	memset(id, 'c', OCB_ID_MAX + 1);
	id[OCB_ID_MAX + 1] = '\0';
	ocb_err_clear();
	assert_int_equal(ocb_id_check(id), -EINVAL);
	assert_err_msg("256");
	snprintf(json, sizeof(json), "{\"id\":\"%s\"}", id);
	refuse(json, -EINVAL, "256 bytes");
}

/* ---- refusals: other fields ---- */

static void test_refuse_pid_negative(void **state)
{
	(void)state;
	refuse("{\"id\":\"x\",\"pid\":-1}", -EINVAL, "-1");
	refuse("{\"id\":\"x\",\"pid\":-2147483648}", -EINVAL, "pid");
}

static void test_refuse_pid_too_large(void **state)
{
	(void)state;
	/* Would wrap to a negative or unrelated pid_t if truncated. */
	refuse("{\"id\":\"x\",\"pid\":4294967297}", -EINVAL, "pid");
	refuse("{\"id\":\"x\",\"pid\":2147483648}", -EINVAL, "pid");
	refuse("{\"id\":\"x\",\"pid\":9223372036854775807}", -EINVAL, "pid");
}

static void test_refuse_pid_non_integer(void **state)
{
	(void)state;
	refuse("{\"id\":\"x\",\"pid\":1.5}", -EINVAL, "integer");
	refuse("{\"id\":\"x\",\"pid\":1e3}", -EINVAL, "integer");
	refuse("{\"id\":\"x\",\"pid\":true}", -EINVAL, "integer");
	refuse("{\"id\":\"x\",\"pid\":[1]}", -EINVAL, "integer");
}

static void test_refuse_pid_string(void **state)
{
	(void)state;
	refuse("{\"id\":\"x\",\"pid\":\"1234\"}", -EINVAL, "\"pid\"");
	refuse("{\"id\":\"x\",\"pid\":\"\"}", -EINVAL, "\"pid\"");
}

static void test_refuse_annotations_not_object(void **state)
{
	(void)state;
	refuse("{\"id\":\"x\",\"annotations\":[]}", -EINVAL, "\"annotations\"");
	refuse("{\"id\":\"x\",\"annotations\":\"a=b\"}", -EINVAL, "\"annotations\"");
	refuse("{\"id\":\"x\",\"annotations\":[[\"a\",\"b\"]]}", -EINVAL, "\"annotations\"");
	refuse("{\"id\":\"x\",\"annotations\":1}", -EINVAL, "\"annotations\"");
}

static void test_refuse_string_fields_wrong_type(void **state)
{
	(void)state;
	refuse("{\"id\":\"x\",\"status\":1}", -EINVAL, "\"status\"");
	refuse("{\"id\":\"x\",\"bundle\":{}}", -EINVAL, "\"bundle\"");
	refuse("{\"id\":\"x\",\"ociVersion\":1.0}", -EINVAL, "\"ociVersion\"");
}

static void test_first_error_message_kept(void **state)
{
	(void)state;
	/* The first failure's sentence is kept until cleared. */
	ocb_err_clear();
	assert_int_equal(ocb_id_check(""), -EINVAL);
	assert_int_equal(ocb_id_check("a/b"), -EINVAL);
	assert_err_msg("empty");
	ocb_err_clear();
	assert_string_equal(ocb_err_msg(), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runc_prestart),
		cmocka_unit_test(test_crun_created),
		cmocka_unit_test(test_runc_poststop_no_pid),
		cmocka_unit_test(test_minimal_and_null_fields),
		cmocka_unit_test(test_unknown_fields_ignored),
		cmocka_unit_test(test_annotations),
		cmocka_unit_test(test_read_fd_file_and_pipe),
		cmocka_unit_test(test_refuse_over_size_cap),
		cmocka_unit_test(test_refuse_empty),
		cmocka_unit_test(test_refuse_unreadable_fd),
		cmocka_unit_test(test_refuse_invalid_json),
		cmocka_unit_test(test_refuse_non_object),
		cmocka_unit_test(test_refuse_duplicate_keys),
		cmocka_unit_test(test_refuse_missing_id),
		cmocka_unit_test(test_refuse_empty_id),
		cmocka_unit_test(test_refuse_non_string_id),
		cmocka_unit_test(test_refuse_id_with_slash),
		cmocka_unit_test(test_refuse_id_dotdot),
		cmocka_unit_test(test_refuse_id_leading_dot),
		cmocka_unit_test(test_refuse_id_control_char),
		cmocka_unit_test(test_refuse_id_nul_byte),
		cmocka_unit_test(test_id_length_limit),
		cmocka_unit_test(test_refuse_pid_negative),
		cmocka_unit_test(test_refuse_pid_too_large),
		cmocka_unit_test(test_refuse_pid_non_integer),
		cmocka_unit_test(test_refuse_pid_string),
		cmocka_unit_test(test_refuse_annotations_not_object),
		cmocka_unit_test(test_refuse_string_fields_wrong_type),
		cmocka_unit_test(test_first_error_message_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
