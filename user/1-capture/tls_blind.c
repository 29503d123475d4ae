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
#include <string.h>
#include <unistd.h>
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

static bool has_section(Elf *elf, size_t shstrndx, const char *want, GElf_Shdr *out)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, out))
			continue;
		name = elf_strptr(elf, shstrndx, out->sh_name);
		if (name && !strcmp(name, want))
			return true;
	}
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

int tls_blind_guess(const char *path, char *stack, size_t stack_cap)
{
	const uint8_t *raw;
	size_t size, shstrndx, i;
	GElf_Shdr sh;
	GElf_Ehdr eh;
	Elf *elf;
	int fd, found = 0;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    elf_getshdrstrndx(elf, &shstrndx))
		goto out;
	if (!is_executable(elf) && !(eh.e_type == ET_DYN && is_static_pie(elf)))
		goto out;
	if (has_section(elf, shstrndx, TLS_BLIND_SELF_SECTION, &sh))
		goto out;	/* llmobsd itself, and its copies */
	if (has_section(elf, shstrndx, ".gopclntab", &sh) ||
	    has_section(elf, shstrndx, ".data.rel.ro.gopclntab", &sh))
		goto out;	/* Go: go_capture.c's call */
	if (has_section(elf, shstrndx, ".bun", &sh) || has_section(elf, shstrndx, ".note.bun", &sh)) {
		snprintf(stack, stack_cap, "Bun (BoringSSL linked in without symbols)");
		found = 1;
		goto out;
	}
	raw = (const uint8_t *)elf_rawfile(elf, &size);
	if (!raw || !has_section(elf, shstrndx, ".rodata", &sh) || sh.sh_type == SHT_NOBITS ||
	    sh.sh_offset > size || size - sh.sh_offset < sh.sh_size)
		goto out;
	if (sh.sh_size > TLS_BLIND_SCAN_BYTES)
		sh.sh_size = TLS_BLIND_SCAN_BYTES;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (memmem(raw + sh.sh_offset, sh.sh_size, sigs[i].needle,
			   strlen(sigs[i].needle))) {
			snprintf(stack, stack_cap, "%s", sigs[i].name);
			found = 1;
			break;
		}
	}
out:
	elf_end(elf);
	close(fd);
	return found;
}
