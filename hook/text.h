/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_TEXT_H
#define OCB_TEXT_H

#include <stddef.h>

/*
 * Copies @src into @dst (@size bytes with its NUL) as text fit for a
 * terminal and for JSON: control characters become '?', and a UTF-8
 * sequence that the size cuts, or that is invalid, is dropped from there.
 * For what a container's author or a profile writes and list/show print.
 */
void text_copy(char *dst, size_t size, const char *src);

#endif
