/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The invalid-spi rate limit (DESIGN.md "Packet paths" 7: at most one
 * event per (src, SPI) per second), as one small direct-mapped table.
 * Each worker keeps one, so a flood of unknown SPIs cannot fill its event
 * ring; the control plane keeps another, so several workers seeing the
 * same (src, SPI) still raise one event. A slot collision only lets an
 * extra event through. Plain C.
 */
#ifndef ESPD_SPI_LIMIT_H
#define ESPD_SPI_LIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define SPI_LIMIT_SLOTS 1024

struct spi_limit {
	struct {
		uint32_t spi;
		uint8_t used;
		uint8_t family;
		uint8_t src[16];
		uint64_t at;
	} slot[SPI_LIMIT_SLOTS];
};

/**
 * May an event for @p spi from @p src (family 4/6, 16 bytes, v4 in the
 * first 4) go out at time @p now, where @p period is one second in the
 * same unit? Records it when so.
 */
static inline bool
spi_limit_allow(struct spi_limit *l, uint32_t spi, uint8_t family,
		const uint8_t src[16], uint64_t now, uint64_t period)
{
	uint32_t h = spi * 2654435761u, i, w;

	for (i = 0; i < 16; i += 4) {
		memcpy(&w, src + i, 4);
		h = (h ^ w) * 2654435761u;
	}
	i = (h >> 16) % SPI_LIMIT_SLOTS;
	if (l->slot[i].used && l->slot[i].spi == spi && l->slot[i].family == family &&
	    memcmp(l->slot[i].src, src, 16) == 0 && now - l->slot[i].at < period)
		return false;
	l->slot[i].spi = spi;
	l->slot[i].family = family;
	memcpy(l->slot[i].src, src, 16);
	l->slot[i].used = 1;
	l->slot[i].at = now;
	return true;
}

#endif /* ESPD_SPI_LIMIT_H */
