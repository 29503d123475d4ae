/* Embeds the prompt-cache rules (data/cache_rules.json) as
 * llmobs_cache_rules_json[], NUL-terminated: no file needed at run time. */
	.section .rodata
	.global llmobs_cache_rules_json
	.type llmobs_cache_rules_json, @object
	.balign 16
llmobs_cache_rules_json:
	.incbin CACHE_RULES_JSON
	.byte 0
	.section .note.GNU-stack,"",@progbits
