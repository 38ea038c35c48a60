/* SPDX-License-Identifier: MIT */
/* A C program that embeds CPython (linked against libpython) and runs the
 * script named in argv[1], with argv[1:] as sys.argv: the case of
 * applications that host an interpreter rather than being one. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	PyConfig config;
	PyStatus status;

	if (argc < 2) {
		fprintf(stderr, "usage: embed SCRIPT [ARGS...]\n");
		return 2;
	}
	PyConfig_InitPythonConfig(&config);
	config.parse_argv = 0;
	/* As `python SCRIPT ARGS`: sys.argv, and the script's folder on sys.path. */
	status = PyConfig_SetBytesArgv(&config, argc - 1, argv + 1);
	if (!PyStatus_Exception(status))
		status = PyConfig_SetBytesString(&config, &config.run_filename, argv[1]);
	if (!PyStatus_Exception(status))
		status = Py_InitializeFromConfig(&config);
	PyConfig_Clear(&config);
	if (PyStatus_Exception(status))
		Py_ExitStatusException(status);
	return Py_RunMain();
}
