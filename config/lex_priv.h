/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to config/: what the splitter (lex.c) shares with the file
 * reader (load.c), so that the two always agree on where words end.
 */
#ifndef ESPD_CONFIG_LEX_PRIV_H
#define ESPD_CONFIG_LEX_PRIV_H

#include <stdbool.h>

/* A blank between words: space, tab and newline as in sh, and \r, \v,
 * \f too. */
static inline bool
cfg_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	       c == '\v' || c == '\f';
}

#endif /* ESPD_CONFIG_LEX_PRIV_H */
