/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_cmd: bytes as configuration text.
 *  - each line (up to a newline) through cfg_parse_line(), and the parsed
 *    command through model_apply() of a running model (no data plane);
 *  - the whole input as a file (fmemopen) through cfg_load_stream() into
 *    a fresh model, as `espd --check` reads one.
 * An error message must be NUL-terminated, short, one line, and must never
 * carry a key: the harness plants a marker key in the seeds' style and
 * aborts if the message repeats a hex word longer than 16 digits of the
 * input (keys are at least 16 bytes).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "control/model.h"

static void
check_msg(const struct cfg_error *err)
{
	size_t n = strnlen(err->msg, sizeof(err->msg));

	if (n == sizeof(err->msg))
		abort(); /* not terminated */
	if (memchr(err->msg, '\n', n) != NULL)
		abort(); /* one line */
}

/* A key never appears in an error (README "Keys in errors"): no word of
 * the line that is 0x and 32 or more hex digits (a 16-byte key or longer)
 * may show up, even in part (its first 32 digits), in a message. */
static void
check_no_key(const struct cfg_error *err, const char *line)
{
	const char *p = line;

	while (*p != '\0') {
		size_t n = 0, len = strcspn(p, " \t");

		if (len > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
			while (n < len - 2 && isxdigit((unsigned char)p[2 + n]))
				n++;
			if (n >= 32 && n == len - 2) {
				char key[33];

				memcpy(key, p + 2, 32);
				key[32] = '\0';
				if (strstr(err->msg, key) != NULL) {
					fprintf(stderr, "key text in an error: %s\n", err->msg);
					abort();
				}
			}
		}
		p += len;
		p += strspn(p, " \t");
	}
}

static FILE *
devnull(void)
{
	static FILE *f;

	if (f == NULL)
		f = fopen("/dev/null", "w");
	return f;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_model m;
	struct cfg_load ld = { 0 };
	char *text, *line, *save = NULL;
	unsigned int n = 0;
	FILE *f;

	if (size > 256 * 1024)
		return -1;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	/* 1. Line by line (a NUL ends the text, as it would a C string). */
	if (model_init(&m, CRYPTO_ENGINE_NULL, 256) < 0)
		abort();
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		struct cfg_error err = { .word = -1 };
		struct cfg_cmd cmd;
		int rc = cfg_parse_line(line, &cmd, &err);

		if (rc == 0) {
			rc = model_apply(&m, &cmd, "fuzz", ++n, &err);
		} else if (cmd.type != CFG_CMD_NONE) {
			abort(); /* cleared on error (config.h) */
		}
		if (rc != 0) {
			check_msg(&err);
			check_no_key(&err, line);
			if (err.msg[0] == '\0')
				abort(); /* every error says something */
		}
		cfg_cmd_clear(&cmd);
	}
	model_free(&m);

	/* 2. The whole input as a file, NULs and all. */
	memcpy(text, data, size);
	f = fmemopen(text, size ? size : 1, "r");
	if (f == NULL || model_init(&m, CRYPTO_ENGINE_NULL, 256) < 0)
		abort();
	ld.apply = model_apply;
	ld.arg = &m;
	ld.keep_going = true;
	ld.errs = devnull();
	(void)cfg_load_stream(f, "fuzz.conf", &ld);
	fclose(f);
	model_free(&m);
	free(text);
	return 0;
}
