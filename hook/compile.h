/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_COMPILE_H
#define OCB_COMPILE_H

struct profile;
struct ocb_policy;

/* Beyond this many map entries a profile is refused, not truncated. */
#define OCB_MAX_ENTRIES 4000000

/*
 * Compiles a profile to map entries. Protocol/port rules are reduced to
 * port classes: the port space of each protocol is cut where any rule's
 * ranges begin or end, and ports covered by the same rules share a class.
 */
int policy_compile(const struct profile *prof, const char *name, struct ocb_policy **out);

#endif
