/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Text to words: shell-style splitting of one logical line, and the file
 * reader that cuts a file into logical lines (comments, continuations,
 * file:line) before handing each to the parser and the caller's apply.
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

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	       c == '\v' || c == '\f';
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
			} else if (c == '\\' && i + 1 < len &&
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
		if (is_blank(c)) {
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

/* ---- The file reader ------------------------------------------------- */

/*
 * Tracks, character by character, just enough of the splitter's state to
 * know whether a physical line ends in a continuing backslash: quotes and
 * comments can hide one, and a quote may span lines through a
 * backslash-newline inside double quotes.
 */
struct scan {
	char quote;
	bool inword;
	bool comment;
	bool escape; /* the last character was an unconsumed backslash */
};

static void
scan_char(struct scan *s, char c)
{
	if (s->comment)
		return;
	if (s->escape) {
		s->escape = false;
		return;
	}
	if (s->quote == '\'') {
		if (c == '\'')
			s->quote = 0;
		return;
	}
	if (s->quote == '"') {
		if (c == '"')
			s->quote = 0;
		else if (c == '\\')
			s->escape = true; /* only matters before a newline */
		return;
	}
	if (is_blank(c)) {
		s->inword = false;
		return;
	}
	if (c == '#' && !s->inword) {
		s->comment = true;
		return;
	}
	s->inword = true;
	if (c == '\'' || c == '"')
		s->quote = c;
	else if (c == '\\')
		s->escape = true;
}

static void
report(struct cfg_load *ld, const char *name, unsigned int line,
       const char *msg)
{
	ld->nerrors++;
	if (ld->errs != NULL)
		fprintf(ld->errs, "%s:%u: error: %s\n", name, line, msg);
}

/* One logical line: split, parse, apply. @return 0 or -errno. */
static int
do_line(struct cfg_load *ld, const char *name, unsigned int line,
	const char *text, size_t len)
{
	struct cfg_words ws;
	struct cfg_error err = { .word = -1 };
	struct cfg_cmd cmd;
	int ret;

	ret = cfg_split(text, len, &ws, &err);
	if (ret < 0) {
		report(ld, name, line, err.msg);
		return ret;
	}
	ret = cfg_parse((int)ws.n, ws.w, &cmd, &err);
	cfg_words_free(&ws);
	if (ret < 0) {
		report(ld, name, line, err.msg);
		goto out;
	}
	if (cmd.type == CFG_CMD_NONE)
		goto out;
	ld->ncmds++;
	if (ld->apply != NULL) {
		err.msg[0] = '\0';
		ret = ld->apply(ld->arg, &cmd, name, line, &err);
		if (ret != 0) {
			if (err.msg[0] == '\0')
				snprintf(err.msg, sizeof(err.msg), "%s failed: %s",
					 cfg_cmd_name(cmd.type),
					 strerror(ret < 0 ? -ret : ret));
			report(ld, name, line, err.msg);
			ret = ret < 0 ? ret : -EINVAL;
		}
	}
out:
	cfg_cmd_clear(&cmd);
	return ret;
}

int
cfg_load_stream(FILE *f, const char *name, struct cfg_load *ld)
{
	struct scan sc = { 0 };
	unsigned int lineno = 0, start = 1;
	size_t len = 0;
	bool too_long = false, eof = false;
	char *buf;
	int fatal = 0; /* I/O or memory: stops the load whatever keep_going */
	int ret = 0;

	ld->nerrors = 0;
	ld->ncmds = 0;
	buf = malloc(CFG_LINE_MAX + 1);
	if (buf == NULL) {
		report(ld, name, 0, "out of memory");
		return -ENOMEM;
	}

	while (!eof) {
		bool phys_end = false;
		int c;

		lineno++;
		/* One physical line. Characters past CFG_LINE_MAX are scanned
		 * (so continuations stay right) but never stored. */
		while (!phys_end) {
			c = getc(f);
			if (c == EOF) {
				eof = true;
				break;
			}
			if (c == '\r') {
				int d = getc(f);

				if (d == '\n') {
					c = '\n';
				} else if (d != EOF) {
					ungetc(d, f);
				}
			}
			if (c == '\n')
				break;
			scan_char(&sc, (char)c);
			if (len < CFG_LINE_MAX)
				buf[len++] = (char)c;
			else
				too_long = true;
		}
		if (ferror(f)) {
			fatal = errno != 0 ? -errno : -EIO;
			report(ld, name, lineno, strerror(-fatal));
			break;
		}
		if (eof && len == 0 && !too_long && lineno == start)
			break; /* nothing after the last newline */

		if (sc.escape && !sc.comment && !eof) {
			/* Keep the backslash-newline for the splitter, which
			 * removes it (and knows what it means in quotes). */
			sc.escape = false;
			if (len < CFG_LINE_MAX)
				buf[len++] = '\n';
			else
				too_long = true;
			continue;
		}

		if (too_long) {
			char msg[96];

			snprintf(msg, sizeof(msg),
				 "line too long (more than %d bytes)", CFG_LINE_MAX);
			report(ld, name, start, msg);
			ret = -E2BIG;
		} else {
			ret = do_line(ld, name, start, buf, len);
			if (ret == -ENOMEM)
				fatal = ret;
		}
		explicit_bzero(buf, len);
		len = 0;
		too_long = false;
		memset(&sc, 0, sizeof(sc));
		start = lineno + 1;
		if (fatal != 0 || (ret < 0 && !ld->keep_going))
			break;
	}

	explicit_bzero(buf, CFG_LINE_MAX + 1);
	free(buf);
	if (fatal != 0)
		return fatal;
	return ld->nerrors > 0 ? -EINVAL : 0;
}

int
cfg_load_file(const char *path, struct cfg_load *ld)
{
	FILE *f;
	int ret;

	if (strcmp(path, "-") == 0)
		return cfg_load_stream(stdin, "<stdin>", ld);
	f = fopen(path, "r");
	if (f == NULL) {
		ret = -errno;
		ld->nerrors = 1;
		ld->ncmds = 0;
		if (ld->errs != NULL)
			fprintf(ld->errs, "%s: error: %s\n", path, strerror(errno));
		return ret;
	}
	ret = cfg_load_stream(f, path, ld);
	fclose(f);
	return ret;
}
