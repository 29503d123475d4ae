/* Embeds the price table so the daemon needs no file at run time, each blob
 * NUL-terminated: llmobs_prices_json[], the data of @pydantic/genai-prices
 * dumped at build time (tools/fetch-genai-prices.sh); llmobs_prices_overrides_json[],
 * our corrections (data/prices-overrides.json); llmobs_prices_origin[], the
 * package and version the data came from. */
	.section .rodata
	.global llmobs_prices_json
	.type llmobs_prices_json, @object
	.balign 16
llmobs_prices_json:
	.incbin PRICES_JSON
	.byte 0
	.global llmobs_prices_overrides_json
	.type llmobs_prices_overrides_json, @object
	.balign 16
llmobs_prices_overrides_json:
	.incbin PRICES_OVERRIDES
	.byte 0
	.global llmobs_prices_origin
	.type llmobs_prices_origin, @object
llmobs_prices_origin:
	.incbin PRICES_ORIGIN
	.byte 0
	.section .note.GNU-stack,"",@progbits
