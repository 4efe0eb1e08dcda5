/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * kernel_ipsec_t on espd's control socket: charon's SAs and policies
 * become `state` and `policy` commands, espd's acquire, expire,
 * invalid-spi and mapping events become charon's.
 */
#ifndef KERNEL_ESPD_IPSEC_H_
#define KERNEL_ESPD_IPSEC_H_

#include <library.h>
#include <kernel/kernel_ipsec.h>

typedef struct kernel_espd_ipsec_t kernel_espd_ipsec_t;

struct kernel_espd_ipsec_t {
	kernel_ipsec_t interface;
};

/** The instance charon registers (PLUGIN_CALLBACK kernel_ipsec_register). */
kernel_espd_ipsec_t *kernel_espd_ipsec_create(void);

#endif /* KERNEL_ESPD_IPSEC_H_ */
