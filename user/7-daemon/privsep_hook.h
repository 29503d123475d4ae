/* Test hooks of the worker's containment (tests/e2e/privsep.sh), compiled
 * in only with -DLLMOBS_TEST_HOOKS (the Makefile's $(OUTPUT)/tests/
 * llmobsd-hooks, never llmobsd): without it both calls do nothing. */
#ifndef LLMOBS_PRIVSEP_HOOK_H
#define LLMOBS_PRIVSEP_HOOK_H

#include <stdint.h>

/* Once sandboxed, in the first worker only: LLMOBS_TEST_FORBIDDEN=
 * shadow (open /etc/shadow), ptrace (attach to the attacher), bpf (load a
 * program), exec (run /bin/true), socket (open an inet socket): each is
 * tried, and the worker lives on only if it was refused (EACCES, EPERM);
 * badreq sends malformed requests on sock. */
void privsep_test_hook_start(int sock, uint32_t generation);
/* LLMOBS_TEST_CRASH_AFTER=N: the first worker crashes (SIGSEGV) at its
 * Nth event, in the middle of the pipeline. */
void privsep_test_hook_event(uint64_t nevents);

#endif
