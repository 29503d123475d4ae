module llmobs/bench/gotls

go 1.19
