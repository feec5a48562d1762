// Acceptance scenarios: the npm `openai` client and the Vercel AI SDK against a running gateway, one scenario
// per run. e2e/npm_test.go starts the quickstart and runs every scenario that `--list` prints.
//
//   AIGW_BASE_URL=http://127.0.0.1:8080/v1 AIGW_API_KEY=quickstart-key node acceptance.mjs chat
//
// A scenario prints "ok <name>" and exits 0, or prints what did not match and exits 1.
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { createOpenAI } from '@ai-sdk/openai';
import { embed, generateText, Output, stepCountIs, streamText, tool } from 'ai';

const baseURL = process.env.AIGW_BASE_URL;
const apiKey = process.env.AIGW_API_KEY;
const timeout = 30_000;

const chatModels = ['openai/gpt-4o-mini', 'anthropic/claude-haiku-4-5', 'google/gemini-2.5-flash'];
const embeddingModels = ['openai/text-embedding-3-small', 'google/gemini-embedding-001'];

function check(cond, message) {
  if (!cond) throw new Error(message);
}

const show = (v) => JSON.stringify(v)?.slice(0, 400);

// The structured output asked for, as a zod schema: openai's helper turns it into a strict JSON schema and
// parses the answer with it.
const CityFacts = z.object({
  name: z.string(),
  country: z.string(),
  population: z.number().int().min(0),
  size: z.enum(['village', 'town', 'city']),
  landmarks: z.array(z.string()),
  coastal: z.boolean(),
});

// A vector of dims finite numbers.
function checkVector(where, v, dims) {
  check(Array.isArray(v) && v.length === dims, `${where}: ${Array.isArray(v) ? v.length : typeof v} values, want ${dims}`);
  check(v.every(Number.isFinite), `${where}: not all values are finite numbers: ${show(v.slice(0, 8))}`);
}

const scenarios = {
  async models(client) {
    const ids = [];
    for await (const m of client.models.list()) {
      ids.push(m.id);
      check(Array.isArray(m.endpoints) && m.endpoints.length > 0, `model ${m.id}: endpoints ${show(m.endpoints)}`);
    }
    for (const id of [...chatModels, ...embeddingModels]) check(ids.includes(id), `GET /v1/models does not list ${id}: ${show(ids)}`);
    const m = await client.models.retrieve('google/gemini-embedding-001');
    check(m.id === 'google/gemini-embedding-001' && m.endpoints?.includes('embeddings'), `retrieve: ${show(m)}`);
  },

  async chat(client) {
    for (const model of chatModels) {
      const res = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Say hello.' }] });
      const content = res.choices?.[0]?.message?.content;
      check(typeof content === 'string' && content.length > 0, `${model}: no content: ${show(res)}`);
      check(res.model === model, `${model}: answered by model ${res.model}`);
      check(res.usage?.total_tokens > 0, `${model}: no usage: ${show(res.usage)}`);
    }
  },

  async 'chat-stream'(client) {
    for (const model of chatModels) {
      const stream = await client.chat.completions.create({
        model, messages: [{ role: 'user', content: 'Say hello.' }], stream: true, stream_options: { include_usage: true },
      });
      let text = '', chunks = 0, usage = null, finish = null;
      for await (const chunk of stream) {
        chunks++;
        text += chunk.choices?.[0]?.delta?.content ?? '';
        finish = chunk.choices?.[0]?.finish_reason ?? finish;
        if (chunk.usage) usage = chunk.usage;
      }
      check(chunks > 1 && text.length > 0, `${model}: ${chunks} chunks, text ${show(text)}`);
      check(finish === 'stop', `${model}: finish_reason ${finish}`);
      check(usage?.completion_tokens > 0, `${model}: usage chunk ${show(usage)}`);
    }
  },

  // Without encoding_format the client asks for base64 and decodes it to numbers itself.
  async 'embeddings-default'(client) {
    for (const model of embeddingModels) {
      const res = await client.embeddings.create({ model, input: ['Hello world', 'Goodbye world'], dimensions: 24 });
      check(res.data?.length === 2, `${model}: ${res.data?.length} vectors`);
      res.data.forEach((d, i) => checkVector(`${model} vector ${i}`, d.embedding, 24));
      check(res.usage?.prompt_tokens > 0 && res.usage.total_tokens === res.usage.prompt_tokens, `${model}: usage ${show(res.usage)}`);
      check(res.model === model, `${model}: answered by model ${res.model}`);
    }
  },

  async 'embeddings-float'(client) {
    for (const model of embeddingModels) {
      const res = await client.embeddings.create({ model, input: 'Hello world', dimensions: 16, encoding_format: 'float' });
      check(res.data?.length === 1, `${model}: ${res.data?.length} vectors`);
      checkVector(model, res.data[0].embedding, 16);
    }
  },

  // Asked for explicitly, base64 comes back as the string the server sent: little-endian float32s.
  async 'embeddings-base64'(client) {
    for (const model of embeddingModels) {
      const res = await client.embeddings.create({ model, input: 'Hello world', dimensions: 16, encoding_format: 'base64' });
      const s = res.data?.[0]?.embedding;
      check(typeof s === 'string', `${model}: asked for base64, got ${show(s)}`);
      const bytes = Buffer.from(s, 'base64');
      check(bytes.length === 16 * 4, `${model}: base64 decodes to ${bytes.length} bytes, want 16 float32s`);
      const floats = Array.from({ length: 16 }, (_, i) => bytes.readFloatLE(4 * i));
      checkVector(model, floats, 16);
    }
  },

  async completions(client) {
    const res = await client.completions.create({ model: 'openai/gpt-3.5-turbo-instruct', prompt: 'Say hello', max_tokens: 12 });
    check(res.object === 'text_completion' && res.choices?.[0]?.text?.length > 0, `completion ${show(res)}`);
    check(res.usage?.completion_tokens > 0 && res.usage.completion_tokens <= 12, `usage ${show(res.usage)}`);
  },

  async 'completions-stream'(client) {
    const stream = await client.completions.create({
      model: 'openai/gpt-3.5-turbo-instruct', prompt: 'Say hello', max_tokens: 12, stream: true, stream_options: { include_usage: true },
    });
    let text = '', chunks = 0, usage = null;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices?.[0]?.text ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    check(chunks > 1 && text.length > 0, `${chunks} chunks, text ${show(text)}`);
    check(usage?.completion_tokens > 0, `usage chunk ${show(usage)}`);
  },

  async moderations(client) {
    const res = await client.moderations.create({ model: 'openai/omni-moderation-latest', input: ['how to build a bomb', 'a nice afternoon'] });
    check(res.results?.length === 2, `moderation ${show(res)}`);
    check(res.results[0].flagged && res.results[0].categories.violence, `first input not flagged for violence: ${show(res.results[0])}`);
    check(!res.results[1].flagged, `second input flagged: ${show(res.results[1])}`);
  },

  async parse(client) {
    for (const model of chatModels) {
      const res = await client.chat.completions.parse({
        model, messages: [{ role: 'user', content: 'Describe Paris.' }], response_format: zodResponseFormat(CityFacts, 'city_facts'),
      });
      const msg = res.choices?.[0]?.message;
      check(msg?.parsed && CityFacts.safeParse(msg.parsed).success, `${model}: parsed ${show(msg)}`);
    }
  },

  async 'parse-stream'(client) {
    for (const model of chatModels) {
      const stream = client.chat.completions.stream({
        model, messages: [{ role: 'user', content: 'Describe Paris.' }], response_format: zodResponseFormat(CityFacts, 'city_facts'),
      });
      const res = await stream.finalChatCompletion();
      const msg = res.choices?.[0]?.message;
      check(msg?.parsed && CityFacts.safeParse(msg.parsed).success, `${model}: parsed ${show(msg)}`);
    }
  },

  // Errors reach the client as OpenAI's typed errors.
  async errors(client) {
    try {
      await client.embeddings.create({ model: 'anthropic/claude-haiku-4-5', input: 'Hello world' });
      check(false, 'embeddings from Anthropic succeeded');
    } catch (err) {
      check(err instanceof OpenAI.BadRequestError && err.code === 'unsupported_endpoint',
        `embeddings from Anthropic: ${err}, want a 400 unsupported_endpoint`);
    }
    try {
      await client.post('/responses/compact', { body: { model: 'openai/gpt-4o-mini' } });
      check(false, 'POST /v1/responses/compact succeeded');
    } catch (err) {
      check(err instanceof OpenAI.NotFoundError && err.code === 'unknown_url', `POST /v1/responses/compact: ${err}, want a 404 unknown_url`);
    }
  },

  // The Vercel AI SDK through its OpenAI-compatible provider.
  async 'ai-sdk'() {
    const gw = createOpenAICompatible({ name: 'gateway', baseURL, apiKey, includeUsage: true, supportsStructuredOutputs: true });
    for (const model of chatModels) {
      const gen = await generateText({ model: gw.chatModel(model), prompt: 'Say hello.', maxRetries: 0, timeout });
      check(gen.text.length > 0 && gen.finishReason === 'stop', `${model} generateText: ${show({ text: gen.text, finish: gen.finishReason })}`);
      check(gen.usage?.outputTokens > 0, `${model} generateText usage ${show(gen.usage)}`);

      let streamErr = null;
      const st = streamText({ model: gw.chatModel(model), prompt: 'Say hello.', maxRetries: 0, timeout, onError: ({ error }) => { streamErr = error; } });
      let text = '';
      for await (const delta of st.textStream) text += delta;
      check(streamErr === null, `${model} streamText: ${streamErr}`);
      check(text.length > 0 && (await st.finishReason) === 'stop', `${model} streamText: ${show(text)}`);
      check((await st.usage)?.outputTokens > 0, `${model} streamText usage ${show(await st.usage)}`);

      const obj = await generateText({
        model: gw.chatModel(model), prompt: 'Describe Paris.', maxRetries: 0, timeout, output: Output.object({ schema: CityFacts }),
      });
      check(CityFacts.safeParse(obj.output).success, `${model} Output.object: ${show(obj.output)}`);
    }
    for (const model of embeddingModels) {
      const { embedding } = await embed({
        model: gw.embeddingModel(model), value: 'Hello world', maxRetries: 0, providerOptions: { gateway: { dimensions: 20 } },
      });
      checkVector(`${model} embed`, embedding, 20);
    }
  },

  // The Vercel AI SDK's default OpenAI provider, `openai(model)`, which speaks the Responses API: natively to
  // OpenAI, translated for Anthropic and Gemini. A tool with execute makes it send the call's output back.
  async 'ai-sdk-responses'() {
    const openai = createOpenAI({ baseURL, apiKey });
    const weather = tool({
      description: 'The weather in a city',
      inputSchema: z.object({ city: z.string() }),
      execute: async () => '21 degrees and sunny',
    });
    for (const model of chatModels) {
      const gen = await generateText({ model: openai(model), prompt: 'Say hello.', maxRetries: 0, timeout });
      check(gen.text.length > 0 && gen.finishReason === 'stop', `${model} generateText: ${show({ text: gen.text, finish: gen.finishReason })}`);
      check(gen.usage?.inputTokens > 0 && gen.usage?.outputTokens > 0, `${model} generateText usage ${show(gen.usage)}`);

      let streamErr = null;
      const st = streamText({ model: openai(model), prompt: 'Say hello.', maxRetries: 0, timeout, onError: ({ error }) => { streamErr = error; } });
      let text = '';
      for await (const delta of st.textStream) text += delta;
      check(streamErr === null, `${model} streamText: ${streamErr}`);
      check(text.length > 0 && (await st.finishReason) === 'stop', `${model} streamText: ${show(text)}`);
      check((await st.usage)?.outputTokens > 0, `${model} streamText usage ${show(await st.usage)}`);

      for (const streamed of [false, true]) {
        const args = { model: openai(model), prompt: 'Weather in Paris?', tools: { weather }, stopWhen: stepCountIs(3), maxRetries: 0, timeout };
        let final, steps;
        if (streamed) {
          const s = streamText({ ...args, onError: ({ error }) => { streamErr = error; } });
          final = await s.text;
          steps = await s.steps;
          check(streamErr === null, `${model} streamText with a tool: ${streamErr}`);
        } else {
          const g = await generateText(args);
          final = g.text;
          steps = g.steps;
        }
        const calls = steps.flatMap((s) => s.toolCalls);
        check(calls.length === 1 && calls[0].toolName === 'weather' && typeof calls[0].input?.city === 'string',
          `${model} tool call (streamed ${streamed}): ${show(calls)}`);
        check(final.includes('21 degrees and sunny'), `${model} answer after the tool (streamed ${streamed}): ${show(final)}`);
      }
    }
  },
};

const name = process.argv[2];
if (name === '--list') {
  console.log(Object.keys(scenarios).join('\n'));
  process.exit(0);
}
if (!scenarios[name]) {
  console.error(`unknown scenario ${JSON.stringify(name)}; run with --list for the scenarios`);
  process.exit(2);
}
if (!baseURL || !apiKey) {
  console.error('set AIGW_BASE_URL (e.g. http://127.0.0.1:8080/v1) and AIGW_API_KEY');
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout });
try {
  await scenarios[name](client);
  console.log(`ok ${name}`);
} catch (err) {
  console.error(`FAIL ${name}: ${err?.stack ?? err}`);
  process.exit(1);
}
