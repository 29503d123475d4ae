#!/usr/bin/python3
"""Writes tests/e2e/fixtures.jsonl: our own exchanges in the corpus format.

The file is generated so that the wire bytes and the `expected` usage come
from the same numbers; run it again after editing, and commit both.
Each fixture is answered by request-body hash (curl and the Python clients
send these exact bodies) and, unless `e2e_hash_only`, also by
(path, model, stream), which is how the SDK clients' own bodies find it.
"""
import base64
import json
import os

J = dict(separators=(",", ":"), ensure_ascii=False)


def b64(b):
    return base64.b64encode(b if isinstance(b, bytes) else b.encode()).decode()


def sse(events, named=False):
    out = []
    for ev in events:
        if isinstance(ev, str):
            out.append(f"data: {ev}\n\n")
        elif named:
            out.append(f"event: {ev['type']}\ndata: {json.dumps(ev, **J)}\n\n")
        else:
            out.append(f"data: {json.dumps(ev, **J)}\n\n")
    return "".join(out).encode()


def usage(inp=0, cached=0, cw=0, cw1h=0, out=0, reasoning=0, model="", present=True, **kw):
    d = dict(usage_present=present, input_tokens=inp, cached_input_tokens=cached,
             cache_write_tokens=cw, cache_write_1h_tokens=cw1h, output_tokens=out,
             reasoning_tokens=reasoning, model=model, error=False)
    d.update(kw)
    return d


def fixture(fid, provider, api, host, path, req, resp_body, expected, stream=False,
            status=200, ctype=None, **extra):
    ctype = ctype or ("text/event-stream; charset=utf-8" if stream else "application/json")
    e = {
        "id": f"e2e:{fid}", "source": "llm-observer-e2e", "license": "MIT",
        "provider": provider, "api": api, "scheme": "https", "host": host,
        "method": "POST", "path": path,
        "req_headers": [["accept", "application/json"], ["content-type", "application/json"]],
        "req_body_b64": b64(json.dumps(req, **J)),
        "status": status,
        "resp_headers": [["content-type", ctype]],
        "resp_body_b64": b64(resp_body if isinstance(resp_body, bytes)
                             else json.dumps(resp_body, **J)),
        "stream": stream, "expected": expected,
    }
    e.update(extra)
    return e


def openai_chat():
    req = {"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": "You are terse. " + "Policy text. " * 40},
        {"role": "user", "content": "Name one prime number."}]}
    resp = {"id": "chatcmpl-e2e0001", "object": "chat.completion", "created": 1767225600,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "7",
                                                 "refusal": None, "annotations": []},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1234, "completion_tokens": 56, "total_tokens": 1290,
                      "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                    "accepted_prediction_tokens": 0,
                                                    "rejected_prediction_tokens": 0}},
            "service_tier": "default", "system_fingerprint": "fp_e2e0001"}
    return fixture("openai-chat", "openai", "chat.completions", "api.openai.com",
                   "/v1/chat/completions", req, resp,
                   usage(1234, 1024, 0, 0, 56, 0, "gpt-4o-mini-2024-07-18",
                         raw_usage=resp["usage"]))


def openai_chat_stream():
    req = {"model": "gpt-4.1-mini", "stream": True, "stream_options": {"include_usage": True},
           "messages": [{"role": "user", "content": "Count from one to five in words."}]}
    model = "gpt-4.1-mini-2025-04-14"
    base = {"id": "chatcmpl-e2e0002", "object": "chat.completion.chunk", "created": 1767225601,
            "model": model, "service_tier": "default", "system_fingerprint": "fp_e2e0002"}
    events = [dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": "",
                                                         "refusal": None},
                                   "logprobs": None, "finish_reason": None}], usage=None)]
    for word in ["One", ",", " two", ",", " three", ",", " four", ",", " five", "."]:
        events.append(dict(base, choices=[{"index": 0, "delta": {"content": word},
                                           "logprobs": None, "finish_reason": None}],
                           usage=None))
    events.append(dict(base, choices=[{"index": 0, "delta": {}, "logprobs": None,
                                       "finish_reason": "stop"}], usage=None))
    u = {"prompt_tokens": 17, "completion_tokens": 11, "total_tokens": 28,
         "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
         "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                       "accepted_prediction_tokens": 0,
                                       "rejected_prediction_tokens": 0}}
    events.append(dict(base, choices=[], usage=u))
    events.append("[DONE]")
    return fixture("openai-chat-stream", "openai", "chat.completions", "api.openai.com",
                   "/v1/chat/completions", req, sse(events),
                   usage(17, 0, 0, 0, 11, 0, model, raw_usage=u), stream=True)


def openai_chat_stream_no_usage():
    # No stream_options.include_usage: the stream carries no usage and the
    # daemon must estimate it (usage_source "estimated"). The counts are
    # o200k_base tokens (checked with js-tiktoken): input 3 per message +
    # role (1) + content ("You are a concise assistant." 6, "Name three
    # primary colours, comma separated." 8) + 3 for the reply = 25; output
    # "Red, yellow and blue." 6 + 1 for the end of the message = 7.
    req = {"model": "gpt-4o-mini", "stream": True,
           "messages": [{"role": "system", "content": "You are a concise assistant."},
                        {"role": "user", "content": "Name three primary colours, comma separated."}]}
    model = "gpt-4o-mini-2024-07-18"
    base = {"id": "chatcmpl-e2e0009", "object": "chat.completion.chunk", "created": 1767225609,
            "model": model, "system_fingerprint": "fp_e2e0009"}
    events = [dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""},
                                   "finish_reason": None}])]
    for word in ["Red", ", yellow", " and", " blue."]:
        events.append(dict(base, choices=[{"index": 0, "delta": {"content": word},
                                           "finish_reason": None}]))
    events.append(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    events.append("[DONE]")
    return fixture("openai-chat-stream-no-usage", "openai", "chat.completions", "api.openai.com",
                   "/v1/chat/completions", req, sse(events),
                   usage(25, 0, 0, 0, 7, 0, model, present=False), stream=True,
                   e2e_hash_only=True, e2e_expect_usage_source="estimated")


def responses_obj(rid, model, text, u, status="completed"):
    return {"id": rid, "object": "response", "created_at": 1767225602, "status": status,
            "background": False, "error": None, "incomplete_details": None,
            "instructions": None, "max_output_tokens": None, "model": model,
            "output": [] if not text else [
                {"id": "rs_" + rid[5:], "type": "reasoning", "summary": []},
                {"id": "msg_" + rid[5:], "type": "message", "status": "completed",
                 "role": "assistant",
                 "content": [{"type": "output_text", "annotations": [], "logprobs": [],
                              "text": text}]}],
            "parallel_tool_calls": True, "previous_response_id": None,
            "reasoning": {"effort": "medium", "summary": None}, "store": True,
            "temperature": 1.0, "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": "auto", "tools": [], "top_p": 1.0, "truncation": "disabled",
            "usage": u, "user": None, "metadata": {}}


def openai_responses():
    req = {"model": "gpt-5-mini", "input": "Why is the sky blue? One sentence.",
           "reasoning": {"effort": "medium"}}
    model = "gpt-5-mini-2025-08-07"
    u = {"input_tokens": 2048, "input_tokens_details": {"cached_tokens": 1536},
         "output_tokens": 420, "output_tokens_details": {"reasoning_tokens": 384},
         "total_tokens": 2468}
    text = "Rayleigh scattering sends short blue wavelengths across the sky more than red ones."
    resp = responses_obj("resp_e2e0003", model, text, u)
    return fixture("openai-responses", "openai", "responses", "api.openai.com",
                   "/v1/responses", req, resp,
                   usage(2048, 1536, 0, 0, 420, 384, model, raw_usage=u))


def openai_responses_stream():
    req = {"model": "o4-mini", "stream": True, "input": "Add 17 and 25."}
    model = "o4-mini-2025-04-16"
    u = {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0},
         "output_tokens": 211, "output_tokens_details": {"reasoning_tokens": 192},
         "total_tokens": 223}
    rid = "resp_e2e0004"
    start = responses_obj(rid, model, "", None, status="in_progress")
    final = responses_obj(rid, model, "17 + 25 = 42.", u)
    msg_id = "msg_" + rid[5:]
    ev = [{"type": "response.created", "sequence_number": 0, "response": start},
          {"type": "response.in_progress", "sequence_number": 1, "response": start},
          {"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
           "item": {"id": "rs_" + rid[5:], "type": "reasoning", "summary": []}},
          {"type": "response.output_item.done", "sequence_number": 3, "output_index": 0,
           "item": {"id": "rs_" + rid[5:], "type": "reasoning", "summary": []}},
          {"type": "response.output_item.added", "sequence_number": 4, "output_index": 1,
           "item": {"id": msg_id, "type": "message", "status": "in_progress",
                    "role": "assistant", "content": []}},
          {"type": "response.content_part.added", "sequence_number": 5, "item_id": msg_id,
           "output_index": 1, "content_index": 0,
           "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}}]
    seq = 6
    for piece in ["17", " +", " 25", " =", " 42", "."]:
        ev.append({"type": "response.output_text.delta", "sequence_number": seq,
                   "item_id": msg_id, "output_index": 1, "content_index": 0,
                   "delta": piece, "logprobs": []})
        seq += 1
    ev += [{"type": "response.output_text.done", "sequence_number": seq, "item_id": msg_id,
            "output_index": 1, "content_index": 0, "text": "17 + 25 = 42.", "logprobs": []},
           {"type": "response.content_part.done", "sequence_number": seq + 1,
            "item_id": msg_id, "output_index": 1, "content_index": 0,
            "part": {"type": "output_text", "annotations": [], "logprobs": [],
                     "text": "17 + 25 = 42."}},
           {"type": "response.output_item.done", "sequence_number": seq + 2,
            "output_index": 1, "item": final["output"][1]},
           {"type": "response.completed", "sequence_number": seq + 3, "response": final}]
    return fixture("openai-responses-stream", "openai", "responses", "api.openai.com",
                   "/v1/responses", req, sse(ev, named=True),
                   usage(12, 0, 0, 0, 211, 192, model, raw_usage=u), stream=True)


def anthropic_messages():
    req = {"model": "claude-sonnet-4-5", "max_tokens": 1024,
           "system": [{"type": "text", "text": "Long shared context. " * 50,
                       "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
           "messages": [{"role": "user", "content": "Summarize the context in five words."}]}
    u = {"input_tokens": 50, "cache_creation_input_tokens": 3000,
         "cache_read_input_tokens": 1500,
         "cache_creation": {"ephemeral_5m_input_tokens": 1000,
                            "ephemeral_1h_input_tokens": 2000},
         "output_tokens": 200, "service_tier": "standard"}
    resp = {"id": "msg_e2e0005", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "Shared context repeats one phrase."}],
            "stop_reason": "end_turn", "stop_sequence": None, "usage": u}
    return fixture("anthropic-messages", "anthropic", "messages", "api.anthropic.com",
                   "/v1/messages", req, resp,
                   usage(4550, 1500, 3000, 2000, 200, 0, "claude-sonnet-4-5-20250929",
                         raw_usage=u))


def anthropic_stream(fid="anthropic-messages-stream", text="Hello there, friend!",
                     prompt="Say hello.", **extra):
    req = {"model": "claude-haiku-4-5", "max_tokens": 256, "stream": True,
           "messages": [{"role": "user", "content": prompt}]}
    model = "claude-haiku-4-5-20251001"
    start_u = {"input_tokens": 20, "cache_creation_input_tokens": 0,
               "cache_read_input_tokens": 100,
               "cache_creation": {"ephemeral_5m_input_tokens": 0,
                                  "ephemeral_1h_input_tokens": 0},
               "output_tokens": 1, "service_tier": "standard"}
    ev = [{"type": "message_start", "message": {
        "id": "msg_e2e0006", "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_u}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "text", "text": ""}},
        {"type": "ping"}]
    words = text.split(" ")
    for i, w in enumerate(words):
        ev.append({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "text_delta", "text": (" " if i else "") + w}})
    ev.append({"type": "content_block_stop", "index": 0})
    # message_delta usage is cumulative: the second repeats the input counts
    # and carries the final output count. Summing would double them.
    mid = {"input_tokens": 20, "cache_creation_input_tokens": 0,
           "cache_read_input_tokens": 100, "output_tokens": 40}
    fin = dict(mid, output_tokens=85)
    ev.append({"type": "message_delta", "delta": {"stop_reason": None, "stop_sequence": None},
               "usage": mid})
    ev.append({"type": "message_delta",
               "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": fin})
    ev.append({"type": "message_stop"})
    return fixture(fid, "anthropic", "messages", "api.anthropic.com", "/v1/messages",
                   req, sse(ev, named=True),
                   usage(120, 100, 0, 0, 85, 0, model, raw_usage=fin), stream=True, **extra)


def gemini():
    req = {"contents": [{"role": "user", "parts": [{"text": "What is 6 times 7?"}]}],
           "generationConfig": {"thinkingConfig": {"thinkingBudget": 256}}}
    u = {"promptTokenCount": 900, "cachedContentTokenCount": 512, "candidatesTokenCount": 9,
         "thoughtsTokenCount": 120, "totalTokenCount": 1029,
         "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 900}]}
    resp = {"candidates": [{"content": {"role": "model", "parts": [{"text": "6 x 7 = 42"}]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": u, "modelVersion": "gemini-2.5-flash",
            "responseId": "e2e0007"}
    return fixture("gemini-generate", "google", "generate_content",
                   "generativelanguage.googleapis.com",
                   "/v1beta/models/gemini-2.5-flash:generateContent", req, resp,
                   usage(900, 512, 0, 0, 129, 120, "gemini-2.5-flash", raw_usage=u))


def gemini_stream():
    req = {"contents": [{"role": "user", "parts": [{"text": "Name three colors."}]}]}
    chunks = []
    for i, t in enumerate(["Red", ", green", " and blue."]):
        c = {"candidates": [{"content": {"role": "model", "parts": [{"text": t}]},
                             "index": 0}],
             "usageMetadata": {"promptTokenCount": 6, "totalTokenCount": 6},
             "modelVersion": "gemini-2.5-flash-lite", "responseId": "e2e0008"}
        if i == 2:
            c["candidates"][0]["finishReason"] = "STOP"
            c["usageMetadata"] = {"promptTokenCount": 6, "candidatesTokenCount": 7,
                                  "totalTokenCount": 13}
        chunks.append(c)
    return fixture("gemini-stream", "google", "stream_generate_content",
                   "generativelanguage.googleapis.com",
                   "/v1beta/models/gemini-2.5-flash-lite:streamGenerateContent?alt=sse",
                   req, sse(chunks),
                   usage(6, 0, 0, 0, 7, 0, "gemini-2.5-flash-lite",
                         raw_usage=chunks[-1]["usageMetadata"]), stream=True)


def ndjson(objs):
    return "".join(json.dumps(o, **J) + "\n" for o in objs).encode()


# Local model servers over plain HTTP on loopback (captured by the syscall
# path); answered by body hash only, so the TLS clients never get them.
def ollama_chat_stream():
    req = {"model": "llama3.2", "messages": [{"role": "user", "content": "Why is the sky blue?"}]}
    t = "2026-01-01T00:00:0{}Z"
    objs = [{"model": "llama3.2", "created_at": t.format(i),
             "message": {"role": "assistant", "content": w}, "done": False}
            for i, w in enumerate(["Rayleigh", " scattering", " favours", " blue."])]
    fin = {"model": "llama3.2", "created_at": t.format(5),
           "message": {"role": "assistant", "content": ""}, "done_reason": "stop", "done": True,
           "total_duration": 4883583458, "load_duration": 1334875, "prompt_eval_count": 26,
           "prompt_eval_duration": 342546000, "eval_count": 298, "eval_duration": 4535599000}
    return fixture("ollama-chat-stream", "ollama", "ollama.chat", "127.0.0.1", "/api/chat",
                   req, ndjson(objs + [fin]), usage(26, 0, 0, 0, 298, 0, "llama3.2"),
                   stream=True, ctype="application/x-ndjson", scheme="http",
                   e2e_hash_only=True, e2e_expect_unpriced=True)


def ollama_generate():
    req = {"model": "qwen2.5:0.5b", "prompt": "Say hi.", "stream": False}
    resp = {"model": "qwen2.5:0.5b", "created_at": "2026-01-01T00:00:00Z", "response": "Hi!",
            "done": True, "done_reason": "stop", "context": [1, 2, 3],
            "total_duration": 5043500667, "prompt_eval_count": 30, "eval_count": 12}
    return fixture("ollama-generate", "ollama", "ollama.generate", "127.0.0.1",
                   "/api/generate", req, resp, usage(30, 0, 0, 0, 12, 0, "qwen2.5:0.5b"),
                   ctype="application/json; charset=utf-8", scheme="http",
                   e2e_hash_only=True, e2e_expect_unpriced=True)


def vllm_chat_stream():
    model = "Qwen/Qwen2.5-0.5B-Instruct"
    req = {"model": model, "stream": True, "stream_options": {"include_usage": True},
           "messages": [{"role": "user", "content": "Count to three."}]}
    base = {"id": "chatcmpl-e2e-vllm", "object": "chat.completion.chunk",
            "created": 1767225600, "model": model}
    events = [dict(base, choices=[{"index": 0, "delta": {"content": w}, "finish_reason": None}])
              for w in ["One,", " two,", " three."]]
    events.append(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    u = {"prompt_tokens": 14, "completion_tokens": 6, "total_tokens": 20}
    events.append(dict(base, choices=[], usage=u))
    events.append("[DONE]")
    return fixture("vllm-chat-stream", "openai", "chat.completions", "127.0.0.1",
                   "/v1/chat/completions", req, sse(events), usage(14, 0, 0, 0, 6, 0, model),
                   stream=True, scheme="http", e2e_hash_only=True, e2e_expect_unpriced=True)


def main():
    fx = [openai_chat(), openai_chat_stream(), openai_responses(), openai_responses_stream(),
          anthropic_messages(), anthropic_stream(), gemini(), gemini_stream(),
          # The server closes the connection after 4 events: complete must be false.
          anthropic_stream("anthropic-stream-truncated", text="This answer never ends " * 4,
                           prompt="Tell a story that gets cut.", e2e_hash_only=True,
                           e2e_truncate_after_events=4, e2e_expect_complete=False),
          ollama_chat_stream(), ollama_generate(), vllm_chat_stream(),
          openai_chat_stream_no_usage()]
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures.jsonl")
    with open(out, "w") as f:
        for e in fx:
            f.write(json.dumps(e, **J) + "\n")
    print(f"wrote {len(fx)} fixtures to {out}")


if __name__ == "__main__":
    main()
