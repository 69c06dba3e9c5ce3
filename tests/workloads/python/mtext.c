/*
 * A C extension that allocates for its Python callers: native blocks with
 * malloc, kept in C, and Python bytes objects made through the
 * interpreter's API. Built against the interpreter's headers (the tests'
 * Python workloads import it as _mtext).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline, noclone))
#define MAX_KEPT 65536

static void *kept[MAX_KEPT];
static size_t nr_kept;

/* The native allocation the tests look for by name. */
static NOINLINE void *native_block(size_t size)
{
	void *p = malloc(size);

	if (p)
		((volatile char *)p)[0] = 0;
	return p;
}

/* keep_native(n, size): n blocks of size bytes, kept until free_native(). */
static PyObject *keep_native(PyObject *self, PyObject *args)
{
	Py_ssize_t n, size, i;

	if (!PyArg_ParseTuple(args, "nn", &n, &size))
		return NULL;
	for (i = 0; i < n && nr_kept < MAX_KEPT; i++) {
		void *p = native_block((size_t)size);

		if (!p)
			return PyErr_NoMemory();
		kept[nr_kept++] = p;
	}
	Py_RETURN_NONE;
}

static PyObject *free_native(PyObject *self, PyObject *noargs)
{
	while (nr_kept)
		free(kept[--nr_kept]);
	Py_RETURN_NONE;
}

/* make_buffers(n, size): a list of n bytes objects of size bytes, through the API. */
static PyObject *make_buffers(PyObject *self, PyObject *args)
{
	Py_ssize_t n, size, i;
	PyObject *list;

	if (!PyArg_ParseTuple(args, "nn", &n, &size))
		return NULL;
	list = PyList_New(n);
	if (!list)
		return NULL;
	for (i = 0; i < n; i++) {
		PyObject *b = PyBytes_FromStringAndSize(NULL, size);

		if (!b) {
			Py_DECREF(list);
			return NULL;
		}
		memset(PyBytes_AS_STRING(b), 0, (size_t)size);
		PyList_SET_ITEM(list, i, b);
	}
	return list;
}

static PyMethodDef methods[] = {
	{ "keep_native", keep_native, METH_VARARGS, "malloc n blocks of size bytes, kept" },
	{ "free_native", free_native, METH_NOARGS, "free them" },
	{ "make_buffers", make_buffers, METH_VARARGS, "a list of n bytes objects" },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT, "_mtext", "memtrace's test extension", -1, methods,
};

PyMODINIT_FUNC PyInit__mtext(void)
{
	return PyModule_Create(&module);
}
