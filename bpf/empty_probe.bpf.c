// SPDX-License-Identifier: GPL-2.0
/* The benchmark's baseline, not part of the daemon: uprobe programs that do
 * nothing, attached by tools/bench/empty_probe.c where llmobsd attaches
 * its own. The trap into the kernel costs the same whatever runs; what
 * llmobsd costs beyond it is the ratio make bench prints. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("uprobe")
int empty_enter(void *ctx)
{
	return 0;
}

SEC("uretprobe")
int empty_exit(void *ctx)
{
	return 0;
}
