/* SPDX-License-Identifier: MIT */
#include "util/err.h"

static const char *const messages[] = {
    [-SG_OK] = "success",
    [-SG_ENOPROC] = "no such process",
    [-SG_EPERM] = "permission denied",
    [-SG_ENOTPY] = "not a CPython process",
    [-SG_EVERSION] = "unsupported Python version",
    [-SG_EREAD] = "could not read the target's memory",
    [-SG_ECORRUPT] = "inconsistent data",
    [-SG_ENOMEM] = "out of memory",
    [-SG_EIO] = "input/output error",
    [-SG_ENOTREADY] = "the interpreter is not initialised yet",
    [-SG_EGONE] = "the target exited",
    [-SG_EUSAGE] = "bad usage",
    [-SG_ENOSYS] = "process_vm_readv is not available in this kernel",
    [-SG_EFORMAT] = "not a valid profile file",
    [-SG_EFULL] = "a memory budget is reached",
};

const char *sg_err_str(int err)
{
	unsigned idx = err <= 0 ? (unsigned)-err : 0;

	if (idx >= sizeof(messages) / sizeof(messages[0]) || !messages[idx])
		return "unknown error";
	return messages[idx];
}
