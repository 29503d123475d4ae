// Official SDK clients with their default base URLs and dummy keys; the test's
// /etc/hosts and NODE_EXTRA_CA_CERTS send them to the local server.
// Prints one line per call and exits non-zero on the first failure.
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";

const openai = new OpenAI({ apiKey: "sk-e2e-dummy", maxRetries: 0, timeout: 30000 });
const anthropic = new Anthropic({ apiKey: "sk-ant-e2e-dummy", maxRetries: 0, timeout: 30000 });
// Gemini's SDK calls Node's fetch: the same OpenSSL inside node, another HTTP
// stack. v1beta, where the recorded exchanges are (the SDK's default is v1).
const gemini = new GoogleGenAI({ apiKey: "AIza-e2e-dummy", apiVersion: "v1beta" });

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const calls = {
  async "openai-chat"() {
    const r = await openai.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Name one prime number." }],
    });
    check(r.usage?.prompt_tokens === 1234, "chat prompt_tokens");
    return `model=${r.model} text=${JSON.stringify(r.choices[0].message.content)} usage=${JSON.stringify(r.usage)}`;
  },
  async "openai-chat-stream"() {
    const s = await openai.chat.completions.create({
      model: "gpt-4.1-mini",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "Count from one to five in words." }],
    });
    let text = "", usage = null, n = 0;
    for await (const c of s) {
      n++;
      if (c.choices?.[0]?.delta?.content) text += c.choices[0].delta.content;
      if (c.usage) usage = c.usage;
    }
    check(usage?.completion_tokens === 11, "chat stream usage");
    return `chunks=${n} text=${JSON.stringify(text)} usage=${JSON.stringify(usage)}`;
  },
  async "openai-responses"() {
    const r = await openai.responses.create({
      model: "gpt-5-mini",
      input: "Why is the sky blue? One sentence.",
      reasoning: { effort: "medium" },
    });
    check(r.usage?.output_tokens_details?.reasoning_tokens === 384, "responses reasoning");
    return `model=${r.model} text=${JSON.stringify(r.output_text)} usage=${JSON.stringify(r.usage)}`;
  },
  async "openai-responses-stream"() {
    const s = await openai.responses.create({ model: "o4-mini", stream: true, input: "Add 17 and 25." });
    let text = "", usage = null, n = 0;
    for await (const ev of s) {
      n++;
      if (ev.type === "response.output_text.delta") text += ev.delta;
      if (ev.type === "response.completed") usage = ev.response.usage;
    }
    check(usage?.output_tokens === 211, "responses stream usage");
    return `events=${n} text=${JSON.stringify(text)} usage=${JSON.stringify(usage)}`;
  },
  async "anthropic-messages"() {
    const r = await anthropic.messages.create({
      model: "claude-sonnet-4-5",
      max_tokens: 1024,
      messages: [{ role: "user", content: "Summarize the context in five words." }],
    });
    check(r.usage?.cache_creation_input_tokens === 3000, "messages cache_creation");
    return `model=${r.model} text=${JSON.stringify(r.content[0].text)} usage=${JSON.stringify(r.usage)}`;
  },
  async "anthropic-messages-stream"() {
    const s = anthropic.messages.stream({
      model: "claude-haiku-4-5",
      max_tokens: 256,
      messages: [{ role: "user", content: "Say hello." }],
    });
    let n = 0;
    s.on("streamEvent", () => n++);
    const m = await s.finalMessage();
    check(m.usage?.output_tokens === 85, "messages stream output_tokens");
    return `events=${n} model=${m.model} text=${JSON.stringify(m.content[0].text)} usage=${JSON.stringify(m.usage)}`;
  },
  async "gemini-generate"() {
    const r = await gemini.models.generateContent({
      model: "gemini-2.5-flash",
      contents: "What is 6 times 7?",
      config: { thinkingConfig: { thinkingBudget: 1024 } },
    });
    check(r.usageMetadata?.thoughtsTokenCount === 120, "generateContent thoughtsTokenCount");
    return `text=${JSON.stringify(r.text)} usage=${JSON.stringify(r.usageMetadata)}`;
  },
  async "gemini-stream"() {
    const s = await gemini.models.generateContentStream({
      model: "gemini-2.5-flash-lite",
      contents: "Name three colors.",
    });
    let text = "", usage = null, n = 0;
    for await (const c of s) {
      n++;
      text += c.text ?? "";
      if (c.usageMetadata) usage = c.usageMetadata;
    }
    check(usage?.candidatesTokenCount === 7, "streamGenerateContent candidatesTokenCount");
    return `chunks=${n} text=${JSON.stringify(text)} usage=${JSON.stringify(usage)}`;
  },
};

const only = process.argv.slice(2);
let failed = 0;
for (const [name, fn] of Object.entries(calls)) {
  if (only.length && !only.includes(name)) continue;
  try {
    console.log(`ok node ${name} ${await fn()}`);
  } catch (e) {
    failed++;
    console.log(`FAIL node ${name} ${e?.stack || e}`);
  }
}
process.exit(failed ? 1 : 0);
