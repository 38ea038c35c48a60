/* SPDX-License-Identifier: MIT */
#ifndef SG_UTIL_BANNED_H
#define SG_UTIL_BANNED_H

/*
 * Functions that invite overflows or hidden global state. Forced into every
 * translation unit by the Makefile (-include), as git does with banned.h.
 * Use snprintf, memcpy with a checked length, strtok_r, gmtime_r, localtime_r.
 */
#define SG_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) SG_BANNED(strcpy)
#undef strcat
#define strcat(x, y) SG_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) SG_BANNED(strncpy)
#undef sprintf
#define sprintf(...) SG_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) SG_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) SG_BANNED(strtok)
#undef gmtime
#define gmtime(t) SG_BANNED(gmtime)
#undef localtime
#define localtime(t) SG_BANNED(localtime)

#endif
