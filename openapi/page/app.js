// The "Try it" page: loads ../openapi.json with the key typed in (kept in this closure only: no cookie, no
// storage), lists the operations, and sends one with the body editor's content, showing a streamed answer
// as it arrives.
"use strict";
(() => {
  let key = "";
  let doc = null;
  let current = null;
  const $ = (id) => document.getElementById(id);

  function headers(json) {
    const h = {};
    if (key) h["Authorization"] = "Bearer " + key;
    if (json) h["Content-Type"] = "application/json";
    return h;
  }

  function resolve(schema) {
    while (schema && schema.$ref) {
      schema = doc.components.schemas[schema.$ref.split("/").pop()];
    }
    return schema || {};
  }

  function models() {
    const m = resolve({ $ref: "#/components/schemas/Model" });
    const names = [];
    for (const alt of m.anyOf || [m]) if (alt.enum) names.push(...alt.enum);
    return names;
  }

  async function load(ev) {
    ev.preventDefault();
    key = $("key").value.trim();
    $("key").value = "";
    $("key").placeholder = key ? "key set for this tab" : "sk-… (kept in this tab only)";
    const nav = $("ops");
    nav.textContent = "Loading…";
    try {
      const res = await fetch("../openapi.json", { headers: headers(false), cache: "no-store" });
      const text = await res.text();
      if (!res.ok) {
        let msg = text;
        try { msg = JSON.parse(text).error.message; } catch (_) { /* not JSON */ }
        nav.innerHTML = "";
        const p = document.createElement("p");
        p.className = "error";
        p.textContent = res.status === 401 ? "That key was refused (401): " + msg : res.status + ": " + msg;
        nav.append(p);
        return;
      }
      doc = JSON.parse(text);
      renderOps();
    } catch (e) {
      nav.textContent = "Could not load the API: " + e;
    }
  }

  function renderOps() {
    const nav = $("ops");
    nav.innerHTML = "";
    const entries = [];
    for (const [path, item] of Object.entries(doc.paths).sort()) {
      for (const [method, op] of Object.entries(item)) entries.push({ path, method, op });
    }
    for (const e of entries) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "op";
      b.dataset.op = e.op.operationId;
      const m = document.createElement("span");
      m.className = "method " + e.method;
      m.textContent = e.method.toUpperCase();
      const t = document.createElement("span");
      t.textContent = e.path;
      t.title = e.op.summary || "";
      b.append(m, t);
      b.addEventListener("click", () => select(e, b));
      nav.append(b);
    }
    if (entries.length) select(entries[0], nav.querySelector("button.op"));
  }

  function select(e, button) {
    current = e;
    for (const b of document.querySelectorAll("nav button.op")) b.setAttribute("aria-current", String(b === button));
    $("panel").hidden = false;
    $("op-title").textContent = e.op.summary || e.op.operationId;
    $("op-route").textContent = e.method.toUpperCase() + " " + doc.servers[0].url.replace(/\/$/, "") + e.path;
    showText($("op-desc"), e.op.description || "");
    const params = $("params");
    params.innerHTML = "";
    for (const p of e.op.parameters || []) {
      const row = document.createElement("div");
      row.className = "row";
      const l = document.createElement("label");
      l.textContent = p.name;
      const i = document.createElement("input");
      i.type = "text";
      i.dataset.param = p.name;
      if (p.name === "model") i.value = models()[0] || "";
      row.append(l, i);
      params.append(row);
    }
    const multipartOnly = !!(e.op.requestBody && !e.op.requestBody.content["application/json"]);
    const body = e.op.requestBody && e.op.requestBody.content["application/json"];
    const schema = body ? resolve(body.schema) : null;
    const sel = $("model");
    sel.innerHTML = "";
    const hasModel = !!(schema && schema.properties && schema.properties.model);
    $("model-row").hidden = !body;
    sel.disabled = !hasModel;
    const example = schema && schema.examples ? structuredClone(schema.examples[0]) : {};
    for (const name of models()) {
      const o = document.createElement("option");
      o.textContent = name;
      sel.append(o);
    }
    if (hasModel && example.model && models().includes(example.model)) sel.value = example.model;
    else if (hasModel && sel.options.length) example.model = sel.value;
    const streams = !!(e.op.responses["200"] && e.op.responses["200"].content["text/event-stream"]);
    $("stream-row").hidden = !streams;
    $("stream").checked = false;
    $("body-label").hidden = $("body").hidden = !body;
    $("body").value = body ? JSON.stringify(example, null, 2) : "";
    $("answer").textContent = "";
    $("answer-text").hidden = true;
    $("send").disabled = multipartOnly;
    $("status").textContent = multipartOnly
      ? "This endpoint takes files (multipart/form-data): use the curl example of its docs page."
      : "";
    $("media").replaceChildren();
  }

  // showText writes text into el, `code` spans as <code> elements; nothing is parsed as HTML.
  function showText(el, text) {
    el.textContent = "";
    text.split("`").forEach((part, i) => {
      if (i % 2) {
        const c = document.createElement("code");
        c.textContent = part;
        el.append(c);
      } else {
        el.append(part);
      }
    });
  }

  function editBody(fn) {
    try {
      const v = JSON.parse($("body").value || "{}");
      fn(v);
      $("body").value = JSON.stringify(v, null, 2);
    } catch (_) { /* leave a body the user is still typing alone */ }
  }

  async function send() {
    if (!current) return;
    let path = current.path;
    for (const i of document.querySelectorAll("#params input")) {
      path = path.replace("{" + i.dataset.param + "}", encodeURIComponent(i.value));
    }
    const url = doc.servers[0].url.replace(/\/$/, "") + path;
    const hasBody = !$("body").hidden;
    const opts = { method: current.method.toUpperCase(), headers: headers(hasBody) };
    if (hasBody) opts.body = $("body").value;
    const out = $("answer"), text = $("answer-text"), status = $("status"), btn = $("send");
    out.textContent = "";
    text.textContent = "";
    text.hidden = true;
    status.textContent = "sending…";
    btn.disabled = true;
    const started = performance.now();
    try {
      const res = await fetch(url, opts);
      status.textContent = res.status + " " + res.statusText + " · first byte " + Math.round(performance.now() - started) + " ms";
      const type = res.headers.get("Content-Type") || "";
      if (res.ok && (type.startsWith("audio/") || type.startsWith("video/") || type.startsWith("image/"))) {
        // Media answers play in the page: an element over a blob URL of the bytes.
        const blob = await res.blob();
        const el = document.createElement(type.startsWith("image/") ? "img" : type.split("/")[0]);
        el.src = URL.createObjectURL(blob);
        if (el.tagName !== "IMG") el.controls = true;
        $("media").replaceChildren(el);
        out.textContent = type + ", " + blob.size + " bytes";
        status.textContent += " · done in " + Math.round(performance.now() - started) + " ms";
        return;
      }
      const sse = type.startsWith("text/event-stream");
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let pending = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const chunk = dec.decode(value, { stream: true });
        out.textContent += chunk;
        out.scrollTop = out.scrollHeight;
        if (sse) {
          pending += chunk;
          const lines = pending.split("\n");
          pending = lines.pop();
          for (const line of lines) {
            if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
            try {
              const ev = JSON.parse(line.slice(6));
              const d = ev.choices && ev.choices[0] && ev.choices[0].delta;
              const piece = (d && d.content) || ev.delta || (ev.choices && ev.choices[0] && ev.choices[0].text) || "";
              if (typeof piece === "string" && piece) {
                text.hidden = false;
                text.textContent += piece;
              }
            } catch (_) { /* not JSON: shown raw above */ }
          }
        }
      }
      if (!sse) {
        try { out.textContent = JSON.stringify(JSON.parse(out.textContent), null, 2); } catch (_) { /* not JSON */ }
      }
      status.textContent += " · done in " + Math.round(performance.now() - started) + " ms";
    } catch (e) {
      status.textContent = "failed: " + e;
    } finally {
      btn.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("signin").addEventListener("submit", load);
    $("send").addEventListener("click", send);
    $("model").addEventListener("change", () => editBody((v) => { v.model = $("model").value; }));
    $("stream").addEventListener("change", () => editBody((v) => {
      if ($("stream").checked) v.stream = true; else delete v.stream;
    }));
  });
})();
