/* Executable file -> the name of a TLS stack in it that the capture cannot
 * probe, or none (see tls_blind.h).
 *
 * Sections first, they cost nothing: Bun writes .bun / .note.bun (Claude
 * Code is a Bun executable), Go writes .gopclntab (go_capture.c judges
 * those). Then the strings each stack cannot help carrying, in .rodata
 * (bounded, TLS_BLIND_SCAN_BYTES): rustls' crate paths, BoringSSL's and
 * OpenSSL's source file names. Only executables are judged: a shared
 * libcrypto has OpenSSL's strings and no SSL_* either, and is no blind
 * spot. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "binfile.h"
#include "tls_blind.h"

/* Every program that links this file carries the stacks' strings below
 * (and bssl_find.c's); this section tells it, and its copies, from a
 * program that has such a stack. */
__attribute__((used, section(TLS_BLIND_SELF_SECTION)))
static const char self_mark[] = "llm-observer: TLS-stack fingerprints, not a TLS stack";

struct stack_sig {
	const char *needle;
	const char *name;
};

/* In order of precedence: rustls programs may carry OpenSSL for other
 * uses (Codex), so the more specific stack is named. */
static const struct stack_sig sigs[] = {
	{ "rustls", "rustls (Rust): no symbols to probe" },
	{ "vendor/boringssl/", "BoringSSL linked in without symbols" },
	{ "ssl/ssl_lib.c", "OpenSSL linked in without symbols" },
};

static bool is_executable(Elf *elf)
{
	GElf_Ehdr eh;
	size_t n, i;
	GElf_Phdr ph;

	if (!gelf_getehdr(elf, &eh))
		return false;
	if (eh.e_type == ET_EXEC)
		return true;
	if (eh.e_type != ET_DYN || elf_getphdrnum(elf, &n))
		return false;
	/* A PIE has an interpreter; a library has none (static-pie aside). */
	for (i = 0; i < n; i++)
		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_INTERP)
			return true;
	return false;
}

/* A static-pie (Codex) has no PT_INTERP; the linker marks every PIE with
 * DF_1_PIE, which no library has. */
static bool is_static_pie(Elf *elf)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;
		GElf_Dyn dyn;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++)
			if (gelf_getdyn(d, i, &dyn) && dyn.d_tag == DT_FLAGS_1)
				return dyn.d_un.d_val & DF_1_PIE;
		return false;
	}
	return false;
}

/* .rodata read in chunks that overlap by the longest needle, so that the
 * bounded scan costs a chunk of memory, not the section. */
#define CHUNK_BYTES	(1u << 20)
#define NEEDLE_MAX	128

static int scan_rodata(int fd, uint8_t *buf, const GElf_Shdr *sh, char *stack, size_t cap)
{
	size_t i, best = sizeof(sigs) / sizeof(sigs[0]);
	uint64_t done = 0, keep = 0, n, len;

	while (done < sh->sh_size && best) {
		n = sh->sh_size - done < CHUNK_BYTES ? sh->sh_size - done : CHUNK_BYTES;
		if (binfile_pread(fd, buf + keep, n, sh->sh_offset + done))
			return 0;
		len = keep + n;
		/* The first of sigs found anywhere wins, as in one memmem. */
		for (i = 0; i < best; i++) {
			if (memmem(buf, len, sigs[i].needle, strlen(sigs[i].needle))) {
				best = i;
				break;
			}
		}
		done += n;
		/* A needle cut by the chunk's end starts in its last bytes. */
		keep = len < NEEDLE_MAX ? len : NEEDLE_MAX;
		memmove(buf, buf + len - keep, keep);
	}
	if (best == sizeof(sigs) / sizeof(sigs[0]))
		return 0;
	snprintf(stack, cap, "%s", sigs[best].name);
	return 1;
}

int tls_blind_guess(const char *path, char *stack, size_t stack_cap)
{
	uint8_t *rodata = NULL;
	GElf_Shdr sh;
	GElf_Ehdr eh;
	Elf *elf = NULL;
	int fd, found = 0;

	fd = binfile_open(path, 0, NULL, NULL);
	if (fd < 0)
		return fd;
	elf = binfile_elf(fd);
	if (!elf || !gelf_getehdr(elf, &eh))
		goto out;
	if (!is_executable(elf) && !(eh.e_type == ET_DYN && is_static_pie(elf)))
		goto out;
	if (binfile_has_section(elf, TLS_BLIND_SELF_SECTION, &sh))
		goto out;	/* llmobsd itself, and its copies */
	if (binfile_has_section(elf, ".gopclntab", &sh) ||
	    binfile_has_section(elf, ".data.rel.ro.gopclntab", &sh))
		goto out;	/* Go: go_capture.c's call */
	if (binfile_has_section(elf, ".bun", &sh) || binfile_has_section(elf, ".note.bun", &sh)) {
		snprintf(stack, stack_cap, "Bun (BoringSSL linked in without symbols)");
		found = 1;
		goto out;
	}
	if (!binfile_has_section(elf, ".rodata", &sh) || sh.sh_type == SHT_NOBITS)
		goto out;
	if (sh.sh_size > TLS_BLIND_SCAN_BYTES)
		sh.sh_size = TLS_BLIND_SCAN_BYTES;
	rodata = malloc(CHUNK_BYTES + NEEDLE_MAX);
	if (rodata)
		found = scan_rodata(fd, rodata, &sh, stack, stack_cap);
out:
	free(rodata);
	elf_end(elf);
	close(fd);
	return found;
}
