/* Embeds the price table JSON (data/prices.json) as llmobs_prices_json[],
 * NUL-terminated, so the daemon needs no file at run time. */
	.section .rodata
	.global llmobs_prices_json
	.type llmobs_prices_json, @object
	.balign 16
llmobs_prices_json:
	.incbin PRICES_JSON
	.byte 0
	.global llmobs_prices_json_end
llmobs_prices_json_end:
	.section .note.GNU-stack,"",@progbits
