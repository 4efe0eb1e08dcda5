/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Text to words: shell-style splitting of one logical line (stage 1 of
 * config.h). The file reader that cuts a file into logical lines is
 * load.c; it shares cfg_blank() (lex_priv.h) with the splitter.
 *
 * The splitter follows POSIX XCU 2.2 (quoting) and 2.3 (token recognition)
 * for the parts that make sense without a shell: quote removal, escapes,
 * comments. There is no expansion and no operator recognition, so `$x`,
 * `;` and `(` stay plain characters (an unquoted rfc4106(gcm(aes)) works).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/lex_priv.h"

int
cfg_error_set(struct cfg_error *err, int word, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -EINVAL;
	err->word = word;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void
cfg_words_free(struct cfg_words *ws)
{
	if (ws->buf != NULL) {
		explicit_bzero(ws->buf, ws->buf_len);
		free(ws->buf);
	}
	explicit_bzero(ws, sizeof(*ws));
}

int
cfg_split(const char *line, size_t len, struct cfg_words *out,
	  struct cfg_error *err)
{
	char quote = 0;      /* 0, '\'' or '"' */
	bool inword = false;
	char *p;
	size_t i;
	int ret;

	memset(out, 0, sizeof(*out));
	if (len > CFG_LINE_MAX) {
		cfg_error_set(err, 0, "line too long (%zu bytes, at most %d)",
			      len, CFG_LINE_MAX);
		return -E2BIG;
	}
	/* Quote removal only shrinks the text and each word ends at a blank,
	 * a quote or the end, so len + 1 bytes always hold every word. */
	out->buf_len = len + 1;
	out->buf = malloc(out->buf_len);
	if (out->buf == NULL) {
		cfg_error_set(err, 0, "out of memory");
		ret = -ENOMEM;
		goto err_free;
	}
	p = out->buf;

	for (i = 0; i < len; i++) {
		char c = line[i];

		if (c == '\0') {
			ret = cfg_error_set(err, (int)out->n, "NUL byte in line");
			goto err_free;
		}
		if (quote == '\'') {
			if (c == '\'') {
				quote = 0;
			} else if (c == '\n') {
				goto err_quote;
			} else {
				*p++ = c;
			}
			continue;
		}
		if (quote == '"') {
			if (c == '"') {
				quote = 0;
			} else if (c == '\\' && i + 1 < len && line[i + 1] != '\0' &&
				   strchr("\"\\$`\n", line[i + 1]) != NULL) {
				/* XCU 2.2.3: these four (and newline) are the
				 * only characters a backslash quotes here. */
				if (line[i + 1] != '\n')
					*p++ = line[i + 1];
				i++;
			} else if (c == '\n') {
				goto err_quote;
			} else {
				*p++ = c;
			}
			continue;
		}
		if (cfg_blank(c)) {
			if (inword) {
				*p++ = '\0';
				inword = false;
			}
			continue;
		}
		if (c == '#' && !inword)
			break; /* XCU 2.3 rule 9: a comment runs to the end */
		if (c == '\\' && i + 1 < len && line[i + 1] == '\n') {
			i++; /* line continuation, removed wherever it is */
			continue;
		}
		if (!inword) {
			if (out->n == CFG_WORDS_MAX) {
				ret = cfg_error_set(err, (int)out->n,
						    "too many words (at most %d)",
						    CFG_WORDS_MAX);
				goto err_free;
			}
			out->w[out->n++] = p;
			inword = true;
		}
		if (c == '\'' || c == '"') {
			quote = c;
		} else if (c == '\\' && i + 1 < len) {
			*p++ = line[++i];
			if (line[i] == '\0') {
				ret = cfg_error_set(err, (int)out->n - 1,
						    "NUL byte in line");
				goto err_free;
			}
		} else {
			/* A lone backslash at the very end stays literal. */
			*p++ = c;
		}
	}
	if (quote != 0)
		goto err_quote;
	if (inword)
		*p++ = '\0';
	out->w[out->n] = NULL;
	return 0;

err_quote:
	ret = cfg_error_set(err, out->n > 0 ? (int)out->n - 1 : 0,
			    "unterminated %s quote",
			    quote == '\'' ? "single" : "double");
err_free:
	cfg_words_free(out);
	return ret;
}
