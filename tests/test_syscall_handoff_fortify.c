/*
 * test_syscall_handoff_fortify.c — test_syscall_handoff.c built with
 * _FORTIFY_SOURCE=2, as distributions build programs: read, fgets, fread,
 * recv and poll on buffers of known size compile to libc's __read_chk,
 * __fgets_chk, __fread_chk, __recv_chk and __poll_chk, which must hand
 * the P off as the plain calls do.
 */
#undef _FORTIFY_SOURCE
#define _FORTIFY_SOURCE 2
#define TEST_NAME "test_syscall_handoff_fortify"
#include "test_syscall_handoff.c"
