// Acceptance scenarios: the npm `openai` client and the Vercel AI SDK against a running gateway, one scenario
// per run. e2e/npm_test.go starts the quickstart and runs every scenario that `--list` prints.
//
//   AIGW_BASE_URL=http://127.0.0.1:8080/v1 AIGW_API_KEY=quickstart-key node acceptance.mjs chat
//
// A scenario prints "ok <name>" and exits 0, or prints what did not match and exits 1.
import OpenAI, { toFile } from 'openai';
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

  // A video job on each provider that makes them: create (multipart, with a reference image), poll until it
  // completes, download the MP4 and read its movie header for the length asked for.
  async videos(client) {
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
      '1f15c4890000000d49444154789c63f80f00000101000518d84e0000000049454e44ae426082', 'hex');
    for (const model of ['openai/sora-2', 'google/veo-3.1-generate-preview']) {
      let video = await client.videos.create({
        model, prompt: 'A paper boat on a pond', seconds: '4', size: '1280x720',
        input_reference: await OpenAI.toFile(png, 'ref.png', { type: 'image/png' }),
      });
      check(video.id?.startsWith('video_') && video.model === model && video.status === 'queued', `${model}: created ${show(video)}`);
      const seen = new Set([video.status]);
      for (const deadline = Date.now() + 20_000; video.status === 'queued' || video.status === 'in_progress';) {
        check(Date.now() < deadline, `${model}: still ${video.status} after 20 s`);
        await new Promise((r) => setTimeout(r, 200));
        video = await client.videos.retrieve(video.id);
        seen.add(video.status);
      }
      check(video.status === 'completed' && video.progress === 100 && video.seconds === '4',
        `${model}: finished ${show(video)} (statuses ${[...seen]})`);
      const res = await client.videos.downloadContent(video.id);
      const mp4 = Buffer.from(await res.arrayBuffer());
      check(res.headers.get('content-type') === 'video/mp4' && mp4.subarray(4, 8).toString() === 'ftyp',
        `${model}: downloaded ${mp4.length} bytes of ${res.headers.get('content-type')}`);
      const mvhd = mp4.indexOf('mvhd');
      check(mvhd > 0 && mp4.readUInt32BE(mvhd + 20) === 4 * mp4.readUInt32BE(mvhd + 16), `${model}: the video does not last 4 s`);
    }
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

  // Images from an OpenAI-compatible provider and from Gemini: real PNGs (the simulator inverts an edited one).
  async images(client) {
    const size = (png) => [png.readUInt32BE(16), png.readUInt32BE(20)];
    for (const model of ['openai/gpt-image-1', 'google/gemini-2.5-flash-image']) {
      const res = await client.images.generate({ model, prompt: 'a lighthouse at dusk', size: '1024x1024' });
      const png = Buffer.from(res.data?.[0]?.b64_json ?? '', 'base64');
      check(png.subarray(1, 4).toString() === 'PNG', `${model} generate: not a PNG: ${show(res).slice(0, 200)}`);
      check(size(png).join('x') === '1024x1024', `${model} generate: ${size(png).join('x')}`);
      const small = Buffer.from(
        (await client.images.generate({ model: 'openai/gpt-image-1', prompt: 'a small square', size: '64x64' })).data[0].b64_json, 'base64');
      const edit = await client.images.edit({ model, prompt: 'the opposite colours', image: await toFile(small, 'in.png', { type: 'image/png' }) });
      const out = Buffer.from(edit.data?.[0]?.b64_json ?? '', 'base64');
      check(out.subarray(1, 4).toString() === 'PNG' && size(out).join('x') === '64x64', `${model} edit: ${size(out)}`);
      check(!out.equals(small), `${model} edit: the image came back unchanged`);
    }
  },

  // Speech (bytes as they arrive, a WAV of the input's length) and a multi-megabyte transcription.
  async audio(client) {
    const input = 'Hello from the gateway. '.repeat(10);
    for (const model of ['openai/tts-1', 'google/gemini-2.5-flash-preview-tts']) {
      const res = await client.audio.speech.create({ model, voice: 'alloy', input, response_format: 'wav' });
      const reader = res.body.getReader();
      const chunks = [];
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(Buffer.from(value));
      }
      const wav = Buffer.concat(chunks);
      check(wav.subarray(0, 4).toString() === 'RIFF' && wav.subarray(8, 12).toString() === 'WAVE', `${model}: not a WAV file`);
      const seconds = wav.readUInt32LE(40) / wav.readUInt32LE(28);
      check(Math.abs(seconds - input.length * 0.06) < 0.1, `${model}: ${seconds} s for ${input.length} characters`);
      if (model === 'openai/tts-1') {
        check(chunks.length > 1 && chunks[0].length < wav.length / 2, `${model}: the audio arrived in ${chunks.length} piece(s): it was held back`);
      }
    }
    const big = Buffer.alloc(3 << 20, 'not really audio ');
    const tr = await client.audio.transcriptions.create({ model: 'openai/whisper-1', file: await toFile(big, 'big.mp3', { type: 'audio/mpeg' }) });
    check(tr.text?.startsWith(`The file big.mp3 has ${big.length} bytes`), `transcription: ${show(tr)}`);
    const stream = await client.audio.transcriptions.create({
      model: 'openai/gpt-4o-mini-transcribe', stream: true, file: await toFile(big.subarray(0, 1000), 'a.wav', { type: 'audio/wav' }),
    });
    let deltas = 0;
    let text = '';
    for await (const ev of stream) {
      if (ev.type === 'transcript.text.delta') deltas++;
      if (ev.type === 'transcript.text.done') text = ev.text;
    }
    check(deltas > 3 && text.startsWith('The file a.wav has 1000 bytes'), `transcription stream: ${deltas} deltas, ${show(text)}`);
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
