/* Embeds the BPE rank files that tools/fetch-bpe-ranks.sh builds from a
 * pinned npm package (empty when the registry was unreachable: bpe.c then
 * reports estimation as unavailable). */
	.section .rodata
	.global llmobs_bpe_o200k, llmobs_bpe_o200k_end
	.global llmobs_bpe_cl100k, llmobs_bpe_cl100k_end
	.balign 16
llmobs_bpe_o200k:
	.incbin BPE_O200K
llmobs_bpe_o200k_end:
	.balign 16
llmobs_bpe_cl100k:
	.incbin BPE_CL100K
llmobs_bpe_cl100k_end:
	.section .note.GNU-stack,"",@progbits
