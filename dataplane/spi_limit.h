/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The invalid-spi rate limit (DESIGN.md "Packet paths" 7: at most one
 * event per (src, SPI) per second), as one small set-associative table.
 * Each worker keeps one, so a flood of unknown SPIs cannot fill its event
 * ring; the control plane keeps another, so several workers seeing the
 * same (src, SPI) still raise one event. Neither is shared: no locks or
 * atomics. Plain C.
 *
 * A pair is remembered in one of SPI_LIMIT_WAYS ways of its set. When
 * every way holds a pair seen within the last second, a new pair of that
 * set raises nothing: a colliding pair must not push out one still
 * limited, or the two alternating would each raise an event every time.
 */
#ifndef ESPD_SPI_LIMIT_H
#define ESPD_SPI_LIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define SPI_LIMIT_SETS 256
#define SPI_LIMIT_WAYS 4 /* 1024 pairs, 32 KiB */

_Static_assert((SPI_LIMIT_SETS & (SPI_LIMIT_SETS - 1)) == 0, "a power of two");

struct spi_limit_entry {
	uint64_t at;
	uint32_t spi;
	uint8_t used;
	uint8_t family;
	uint8_t src[16];
};

struct spi_limit {
	struct spi_limit_entry set[SPI_LIMIT_SETS][SPI_LIMIT_WAYS];
};

/** The set that (@p spi, @p src) belongs to. */
static inline uint32_t
spi_limit_set(uint32_t spi, const uint8_t src[16])
{
	uint32_t h = spi * 2654435761u, i, w;

	for (i = 0; i < 16; i += 4) {
		memcpy(&w, src + i, 4);
		h = (h ^ w) * 2654435761u;
	}
	return (h >> 16) & (SPI_LIMIT_SETS - 1);
}

/**
 * May an event for @p spi from @p src (family 4/6, 16 bytes, v4 in the
 * first 4) go out at time @p now, where @p period is one second in the
 * same unit? Records it when so.
 */
static inline bool
spi_limit_allow(struct spi_limit *l, uint32_t spi, uint8_t family,
		const uint8_t src[16], uint64_t now, uint64_t period)
{
	struct spi_limit_entry *s = l->set[spi_limit_set(spi, src)], *free = NULL;
	uint32_t i;

	for (i = 0; i < SPI_LIMIT_WAYS; i++) {
		bool fresh = s[i].used && now - s[i].at < period;

		if (s[i].used && s[i].spi == spi && s[i].family == family &&
		    memcmp(s[i].src, src, 16) == 0) {
			if (fresh)
				return false;
			free = &s[i];
			break;
		}
		if (!fresh && free == NULL)
			free = &s[i];
	}
	if (free == NULL)
		return false; /* every way limited: this one waits too */
	free->spi = spi;
	free->family = family;
	memcpy(free->src, src, 16);
	free->used = 1;
	free->at = now;
	return true;
}

#endif /* ESPD_SPI_LIMIT_H */
