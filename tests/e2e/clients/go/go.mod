module llmobs/e2e/goclient

go 1.19
