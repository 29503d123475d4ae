module llmobs/e2e/go_stack

go 1.19
