/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kernel-espd: a charon plugin (strongSwan 5.9.8) that makes espd charon's
 * IPsec backend. It provides only "kernel-ipsec": kernel-netlink stays
 * loaded for "kernel-net" (addresses and routes of the TAP interfaces
 * that carry espd's addresses). Give it a higher `load` priority than
 * kernel-netlink, with charon.load_modular = yes: the first kernel-ipsec
 * registered wins.
 */
#include <library.h>
#include <daemon.h>
#include <plugins/plugin.h>

#include "kernel_espd_ipsec.h"

typedef struct {
	plugin_t plugin;
} private_kernel_espd_plugin_t;

METHOD(plugin_t, get_name, char *, private_kernel_espd_plugin_t *this)
{
	return "kernel-espd";
}

METHOD(plugin_t, get_features, int, private_kernel_espd_plugin_t *this,
       plugin_feature_t *features[])
{
	static plugin_feature_t f[] = {
		PLUGIN_CALLBACK(kernel_ipsec_register, kernel_espd_ipsec_create),
			PLUGIN_PROVIDE(CUSTOM, "kernel-ipsec"),
	};

	*features = f;
	return countof(f);
}

METHOD(plugin_t, destroy, void, private_kernel_espd_plugin_t *this)
{
	free(this);
}

plugin_t *kernel_espd_plugin_create(void);

plugin_t *
kernel_espd_plugin_create(void)
{
	private_kernel_espd_plugin_t *this;

	INIT(this,
		.plugin = {
			.get_name = _get_name,
			.get_features = _get_features,
			.destroy = _destroy,
		},
	);
	return &this->plugin;
}
