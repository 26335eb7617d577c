// SPDX-License-Identifier: GPL-2.0
/* Free text recorded for list and show (text.h). */
#include "text.h"

/* The length of the UTF-8 sequence that starts with @s, 0 if it is not
 * one (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF;
 * what JSON encoders refuse). */
static size_t seq_len(const unsigned char *s)
{
	unsigned char c = s[0], d = s[1];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if ((c == 0xe0 && d < 0xa0) || (c == 0xed && d > 0x9f))
		return 0;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if ((c == 0xf0 && d < 0x90) || (c == 0xf4 && d > 0x8f))
		return 0;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

void text_copy(char *dst, size_t size, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, n, k;

	if (!size)
		return;
	while (s && *s) {
		n = seq_len(s);
		if (!n || i + n >= size)
			break;
		for (k = 1; k < n && (s[k] & 0xc0) == 0x80; k++)
			;
		if (k < n)
			break;
		for (k = 0; k < n; k++)
			dst[i + k] = (char)s[k];
		if (n == 1 && (*s < 0x20 || *s == 0x7f))
			dst[i] = '?';
		i += n;
		s += n;
	}
	dst[i] = '\0';
}
