/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Files to commands (stage 3 of config.h): the reader that cuts a file into
 * logical lines (comments, continuations, file:line) and hands each to
 * cfg_split() (lex.c), cfg_parse() (parse.c) and the caller's apply; and
 * cfg_parse_line(), the same two stages for one line of text.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/lex_priv.h"

/* Split @p len bytes of @p text, then parse. @p cmd is initialised even
 * when the split fails. */
static int
split_parse(const char *text, size_t len, struct cfg_cmd *cmd,
	    struct cfg_error *err)
{
	struct cfg_words ws;
	int ret;

	memset(cmd, 0, sizeof(*cmd));
	ret = cfg_split(text, len, &ws, err);
	if (ret < 0)
		return ret;
	ret = cfg_parse((int)ws.n, ws.w, cmd, err);
	cfg_words_free(&ws);
	return ret;
}

int
cfg_parse_line(const char *line, struct cfg_cmd *cmd, struct cfg_error *err)
{
	return split_parse(line, strlen(line), cmd, err);
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
	bool esc_inword; /* inword before that backslash (unquoted): a
			  * continuation starts no word, in the splitter */
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
	if (cfg_blank(c)) {
		s->inword = false;
		return;
	}
	if (c == '#' && !s->inword) {
		s->comment = true;
		return;
	}
	s->esc_inword = s->inword;
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
	struct cfg_error err = { .word = -1 };
	struct cfg_cmd cmd;
	int ret;

	ret = split_parse(text, len, &cmd, &err);
	if (ret < 0) {
		report(ld, name, line, err.msg);
		goto out;
	}
	if (cmd.type == CFG_CMD_NONE)
		goto out;
	ld->ncmds++;
	if (ld->apply != NULL) {
		err.msg[0] = '\0';
		ld->text = text;
		ld->text_len = len;
		ret = ld->apply(ld->arg, &cmd, name, line, &err);
		ld->text = NULL;
		ld->text_len = 0;
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
			 * removes it (and knows what it means in quotes); out
			 * of quotes it starts no word, so a '#' next is a
			 * comment there, and here. */
			sc.escape = false;
			if (sc.quote == 0)
				sc.inword = sc.esc_inword;
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
	enum { IOBUF = 64 * 1024 };
	char *iobuf;
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
	/* Keys pass through stdio's buffer: one of ours, wiped after. */
	iobuf = malloc(IOBUF);
	if (iobuf != NULL && setvbuf(f, iobuf, _IOFBF, IOBUF) != 0) {
		free(iobuf);
		iobuf = NULL;
	}
	ret = cfg_load_stream(f, path, ld);
	fclose(f);
	if (iobuf != NULL) {
		explicit_bzero(iobuf, IOBUF);
		free(iobuf);
	}
	return ret;
}
