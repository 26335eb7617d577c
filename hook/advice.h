/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_ADVICE_H
#define OCB_ADVICE_H

#include <stddef.h>

struct profile;

#define ADVICE_LEN 256

/*
 * What a profile that compiles probably does not mean (check prints each
 * as a warning): a rule that repeats another, a direction whose denies
 * name IPv4 addresses only while IPv6 is allowed by default, an egress
 * default of deny whose allows leave out loopback. Writes up to @max lines
 * into @out; returns how many there were.
 */
size_t profile_advise(const struct profile *p, char (*out)[ADVICE_LEN], size_t max);

#endif
