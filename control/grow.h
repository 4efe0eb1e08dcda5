/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * GROW(): make room for one more element at arr[n] of an array that
 * doubles (from 16) when full. Plain C, for every control-plane layer.
 */
#ifndef ESPD_CONTROL_GROW_H
#define ESPD_CONTROL_GROW_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/** 0, or -ENOMEM with @p arr and @p cap as they were. */
#define GROW(arr, n, cap)                                                     \
	({                                                                    \
		int _rc = 0;                                                  \
		if ((n) == (cap) && (cap) > UINT32_MAX / 2) {                 \
			_rc = -ENOMEM; /* the doubled count would wrap */     \
		} else if ((n) == (cap)) {                                    \
			uint32_t _c = (cap) ? (cap) * 2 : 16;                 \
			void *_p = realloc((arr), _c * sizeof(*(arr)));       \
			if (_p == NULL)                                       \
				_rc = -ENOMEM;                                \
			else {                                                \
				(arr) = _p;                                   \
				(cap) = _c;                                   \
			}                                                     \
		}                                                             \
		_rc;                                                          \
	})

#endif
