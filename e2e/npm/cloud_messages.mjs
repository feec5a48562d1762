// The official Anthropic TypeScript SDK against a gateway whose providers are Claude on Amazon Bedrock and on
// Google Vertex AI (loopback fakes that check signatures and tokens), driven by e2e/cloud_messages_test.go:
//
//   AIGW_BASE_URL=http://127.0.0.1:8080 AIGW_API_KEY=key AIGW_SIGNATURE=<the fakes' signature> node cloud_messages.mjs
//
// It prints "ok cloud-messages" and exits 0, or prints what did not match and exits 1.
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ baseURL: process.env.AIGW_BASE_URL, apiKey: process.env.AIGW_API_KEY, maxRetries: 0, timeout: 30_000 });
const signature = process.env.AIGW_SIGNATURE;
const models = ['bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'vertex/claude-sonnet-4-5@20250929'];

function check(cond, message) {
  if (!cond) throw new Error(message);
}

const show = (v) => JSON.stringify(v)?.slice(0, 600);

// A Claude Code-like turn: extended thinking, a cached system prompt, one tool.
const params = (model) => ({
  model,
  max_tokens: 4096,
  thinking: { type: 'enabled', budget_tokens: 1024 },
  system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
  tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }],
  messages: [{ role: 'user', content: 'Weather in Paris?' }],
});

// A tool-use answer: a thinking block with the model's signature, then get_weather for Paris, with cache usage.
function checkToolUse(where, msg, model) {
  check(msg.model === model, `${where}: model ${msg.model}`);
  const [thinking, use] = msg.content;
  check(thinking?.type === 'thinking' && thinking.signature === signature, `${where}: thinking ${show(thinking)}`);
  check(use?.type === 'tool_use' && use.name === 'get_weather' && use.input?.city === 'Paris', `${where}: tool_use ${show(use)}`);
  check(msg.stop_reason === 'tool_use', `${where}: stop_reason ${msg.stop_reason}`);
  const u = msg.usage;
  check(u.cache_read_input_tokens === 3000 && u.cache_creation_input_tokens === 1500 && u.input_tokens === 12 && u.output_tokens === 7,
    `${where}: usage ${show(u)}`);
}

async function main() {
  for (const model of models) {
    const msg = await client.messages.create(params(model));
    checkToolUse(`${model} create`, msg, model);

    // the next turn sends the thinking block back with the tool's result
    const use = msg.content[1];
    const next = await client.messages.create({
      ...params(model),
      messages: [...params(model).messages, { role: 'assistant', content: msg.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18°C and sunny' }] }],
    });
    check(next.content.at(-1)?.text === 'The tool said: 18°C and sunny', `${model} tool result turn: ${show(next)}`);

    const stream = client.messages.stream(params(model));
    let events = 0;
    stream.on('streamEvent', () => { events++; });
    const streamed = await stream.finalMessage();
    checkToolUse(`${model} stream`, streamed, model);
    check(events >= 8, `${model} stream: only ${events} events`);

    const count = await client.messages.countTokens({ model, messages: [{ role: 'user', content: 'How many tokens is this?' }] });
    check(Number.isInteger(count.input_tokens) && count.input_tokens > 0, `${model} count_tokens: ${show(count)}`);
  }

  try {
    await client.messages.create({ model: models[0], max_tokens: 10, messages: [{ role: 'user', content: 'throttle always' }] });
    check(false, 'a throttled request succeeded');
  } catch (err) {
    check(err instanceof Anthropic.RateLimitError && err.error?.error?.type === 'rate_limit_error',
      `throttled: ${err} ${show(err.error)}, want a RateLimitError`);
  }
  console.log('ok cloud-messages');
}

main().catch((err) => {
  console.error(String(err?.stack ?? err));
  process.exit(1);
});
