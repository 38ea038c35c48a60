/* SPDX-License-Identifier: MIT */
#ifndef SG_UTIL_ERR_H
#define SG_UTIL_ERR_H

/*
 * One list of reasons a user can be told about, one message table (err.c).
 * Functions return 0 on success or a negative enum sg_err; the CLI turns a
 * reason into one line with sg_err_str() plus the detail it knows.
 */

enum sg_err {
	SG_OK = 0,
	SG_ENOPROC = -1,   /* no such process */
	SG_EPERM = -2,     /* not allowed to read the target */
	SG_ENOTPY = -3,    /* no CPython found in the target's mappings */
	SG_EVERSION = -4,  /* a CPython version we have no layout for */
	SG_EREAD = -5,     /* a remote read failed or tore */
	SG_ECORRUPT = -6,  /* data did not pass validation */
	SG_ENOMEM = -7,    /* out of memory */
	SG_EIO = -8,       /* a local file could not be read or written */
	SG_ENOTREADY = -9, /* the interpreter is not initialised yet */
	SG_EGONE = -10,    /* the target exited */
	SG_EUSAGE = -11,   /* bad arguments */
	SG_ENOSYS = -12,   /* kernel lacks process_vm_readv */
	SG_EFORMAT = -13,  /* a file is not in the format it claims */
	SG_EFULL = -14,    /* a table reached the budget it was given */
};

/* A static, human-readable string for err (never NULL). */
const char *sg_err_str(int err);

#endif
