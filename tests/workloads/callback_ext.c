/* SPDX-License-Identifier: MIT */
/*
 * A C extension for test_native_python.py, built by the test against each
 * interpreter's headers: call_back(f, n) calls f(n) from C, so a stack
 * alternates Python and C; burn(seconds) spins in C for that much of the
 * thread's CPU. Built -O0, so that neither call is made a tail call (the
 * frame would go) nor inlined.
 */
#include <Python.h>
#include <time.h>

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static PyObject *call_back(PyObject *self, PyObject *args)
{
	PyObject *f, *n;

	(void)self;
	if (!PyArg_ParseTuple(args, "OO", &f, &n))
		return NULL;
	return PyObject_CallFunctionObjArgs(f, n, NULL);
}

static PyObject *burn(PyObject *self, PyObject *args)
{
	volatile unsigned long sink = 0;
	double seconds, start = thread_cpu();

	(void)self;
	if (!PyArg_ParseTuple(args, "d", &seconds))
		return NULL;
	while (thread_cpu() - start < seconds)
		for (unsigned long i = 0; i < 100000; i++)
			sink += i;
	Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"call_back", call_back, METH_VARARGS, "f(n), called from C"},
    {"burn", burn, METH_VARARGS, "spin in C for SECONDS of CPU"},
    {NULL, NULL, 0, NULL},
};

/* The one place the two APIs differ: how a module is made. */
#if PY_MAJOR_VERSION >= 3
static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "callback_ext", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_callback_ext(void);
PyMODINIT_FUNC PyInit_callback_ext(void)
{
	return PyModule_Create(&module);
}
#else
PyMODINIT_FUNC initcallback_ext(void);
PyMODINIT_FUNC initcallback_ext(void)
{
	Py_InitModule("callback_ext", methods);
}
#endif
