/* SPDX-License-Identifier: MIT */
/*
 * A C extension for test_native_python.py, built by the test against each
 * interpreter's headers: call_back(f, n) calls f(n) from C, so a stack
 * alternates Python and C; burn(seconds) spins in C for that much of the
 * thread's CPU; in_c_thread(f, n) calls f(n) in a thread started by C (a
 * pthread taking the GIL with PyGILState_Ensure, as a library's callback
 * thread does) and waits for it. Built -O0, so that neither call is made a tail call (the
 * frame would go) nor inlined.
 */
#include <Python.h>
#include <pthread.h>
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

struct c_call {
	PyObject *f, *n;
	int failed;
};

static void *c_thread_main(void *arg)
{
	struct c_call *call = arg;
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *r = PyObject_CallFunctionObjArgs(call->f, call->n, NULL);

	call->failed = r == NULL;
	if (r == NULL)
		PyErr_Print();
	Py_XDECREF(r);
	PyGILState_Release(gil);
	return NULL;
}

static PyObject *in_c_thread(PyObject *self, PyObject *args)
{
	struct c_call call = {NULL, NULL, 0};
	PyThreadState *saved;
	pthread_t thread;
	int err;

	(void)self;
	if (!PyArg_ParseTuple(args, "OO", &call.f, &call.n))
		return NULL;
#if PY_VERSION_HEX < 0x03070000
	PyEval_InitThreads();
#endif
	/* The GIL let go while the C thread runs (Py_BEGIN_ALLOW_THREADS). */
	saved = PyEval_SaveThread();
	err = pthread_create(&thread, NULL, c_thread_main, &call);
	if (!err)
		pthread_join(thread, NULL);
	PyEval_RestoreThread(saved);
	if (err || call.failed) {
		PyErr_SetString(PyExc_RuntimeError, err ? "pthread_create failed" : "f failed");
		return NULL;
	}
	Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"call_back", call_back, METH_VARARGS, "f(n), called from C"},
    {"burn", burn, METH_VARARGS, "spin in C for SECONDS of CPU"},
    {"in_c_thread", in_c_thread, METH_VARARGS, "f(n) in a thread started by C"},
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
