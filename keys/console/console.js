// The gateway's key console. It talks only to the management API next to it (…/keys), with the admin key
// held in this closure only: never in a cookie or in web storage.
"use strict";
(() => {
  const api = new URL("../", location.href); // …/console/ → …/
  let adminKey = "";
  let offset = 0;
  const pageSize = 50;
  let editing = null; // the key being edited, or null when creating

  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  };

  async function call(method, path, body) {
    const res = await fetch(new URL(path, api), {
      method,
      headers: Object.assign({ Authorization: "Bearer " + adminKey }, body ? { "Content-Type": "application/json" } : {}),
      body: body ? JSON.stringify(body) : undefined,
      credentials: "omit",
      cache: "no-store",
    });
    let data = null;
    try { data = await res.json(); } catch (_) { /* empty answer */ }
    if (!res.ok) {
      const msg = (data && data.error && data.error.message) || res.status + " " + res.statusText;
      const err = new Error(msg);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  const usd = (n) => n == null ? "—" : "$" + (n < 0.01 && n > 0 ? n.toFixed(6).replace(/0+$/, "") : n.toFixed(2));
  const num = (n) => n >= 1e6 ? (n / 1e6).toFixed(1) + "M" : n >= 1e4 ? (n / 1e3).toFixed(1) + "k" : String(n);
  const status = (msg) => { $("status").textContent = msg; };

  // Sign in and out.
  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    adminKey = $("admin-key").value.trim();
    $("admin-key").value = "";
    $("signin-error").hidden = true;
    try {
      offset = 0;
      await load();
      $("signin").hidden = true;
      $("app").hidden = false;
      $("sign-out").hidden = false;
      $("refresh").hidden = false;
    } catch (e) {
      adminKey = "";
      $("signin-error").textContent = e.status === 401 || e.status === 403 ? "That is not an admin key of this gateway." : e.message;
      $("signin-error").hidden = false;
    }
  });
  $("sign-out").addEventListener("click", () => {
    adminKey = "";
    $("keys").tBodies[0].replaceChildren();
    $("app").hidden = true;
    $("sign-out").hidden = true;
    $("refresh").hidden = true;
    $("signin").hidden = false;
    $("admin-key").focus();
  });
  $("refresh").addEventListener("click", () => load().catch((e) => status(e.message)));
  $("prev").addEventListener("click", () => { offset = Math.max(0, offset - pageSize); load(); });
  $("next").addEventListener("click", () => { offset += pageSize; load(); });

  // The list.
  async function load() {
    const page = await call("GET", "keys?limit=" + pageSize + "&offset=" + offset);
    const body = $("keys").tBodies[0];
    body.replaceChildren(...page.data.map(row));
    $("empty").hidden = page.data.length > 0;
    $("count").textContent = page.total === 1 ? "1 key" : page.total + " keys";
    $("prev").disabled = offset === 0;
    $("next").disabled = page.next_offset == null;
    status("Updated " + new Date().toLocaleTimeString());
  }

  function row(k) {
    const limits = el("td", { class: "limits" });
    if (k.requests) limits.append(el("div", {}, k.requests.replace("/", " req / ")));
    if (k.tokens) limits.append(el("div", {}, k.tokens.replace("/", " tok / ")));
    if (k.models.length) limits.append(el("div", { class: "meta" }, "models: " + k.models.join(", ")));
    if (k.expires_at) limits.append(el("div", { class: "meta" }, "expires " + k.expires_at.slice(0, 10)));
    if (!limits.childNodes.length) limits.append(el("span", { class: "muted" }, "none"));

    const spend = el("td", {}, el("div", {}, usd(k.usage) + (k.limit != null ? " of " + usd(k.limit) + " " + k.limit_reset : " this month")));
    if (k.limit != null) {
      const share = Math.min(1, k.usage / k.limit);
      const fill = el("span", { class: share > 0.9 ? "high" : "" });
      fill.style.width = (share * 100).toFixed(1) + "%";
      spend.append(el("div", { class: "bar", title: Math.round(share * 100) + "% of the budget" }, fill));
    }
    spend.append(el("div", { class: "meta" }, "today " + usd(k.usage_daily)));

    const meta = Object.entries(k.metadata).map(([n, v]) => n + ": " + v).join(" · ");
    return el("tr", { "data-id": k.id },
      el("td", {}, el("div", { class: "name" }, k.name), el("div", { class: "label" }, k.label), meta ? el("div", { class: "meta" }, meta) : null),
      el("td", {}, el("span", { class: "badge " + k.status }, k.status)),
      limits,
      spend,
      el("td", {}, num(k.today.prompt_tokens + k.today.completion_tokens), el("div", { class: "meta" }, k.today.requests + " requests")),
      el("td", { class: "actions" },
        el("button", { class: "link", "data-action": "usage", onclick: () => showUsage(k) }, "Usage"),
        el("button", { class: "link", "data-action": "edit", onclick: () => openEdit(k) }, "Edit"),
        el("button", { class: "link", "data-action": "rotate", onclick: () => rotate(k) }, "Rotate"),
        el("button", { class: "link danger-link", "data-action": "revoke", onclick: () => revoke(k) }, "Revoke")));
  }

  // Create and edit.
  $("new-key").addEventListener("click", () => openEdit(null));
  $("f-cancel").addEventListener("click", () => $("edit").close());
  function openEdit(k) {
    editing = k;
    $("edit-title").textContent = k ? "Edit " + k.name : "New key";
    $("f-save").textContent = k ? "Save" : "Create key";
    $("f-name").value = k ? k.name : "";
    $("f-models").value = k ? k.models.join(", ") : "";
    $("f-requests").value = (k && k.requests) || "";
    $("f-tokens").value = (k && k.tokens) || "";
    $("f-limit").value = k && k.limit != null ? k.limit : "";
    $("f-reset").value = (k && k.limit_reset) || "monthly";
    $("f-expires").value = k && k.expires_at ? k.expires_at.slice(0, 10) : "";
    $("f-disabled").checked = !!(k && k.disabled);
    $("f-metadata").value = k ? Object.entries(k.metadata).map(([n, v]) => n + "=" + v).join("\n") : "";
    $("edit-error").hidden = true;
    $("edit").showModal();
    $("f-name").focus();
  }
  $("edit-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const metadata = {};
    for (const line of $("f-metadata").value.split("\n")) {
      const i = line.indexOf("=");
      if (line.trim() && i > 0) metadata[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    const limit = $("f-limit").value.trim();
    const body = {
      name: $("f-name").value.trim(),
      models: $("f-models").value.split(",").map((s) => s.trim()).filter(Boolean),
      requests: $("f-requests").value.trim() || null,
      tokens: $("f-tokens").value.trim() || null,
      limit: limit === "" ? null : Number(limit),
      expires_at: $("f-expires").value ? $("f-expires").value + "T00:00:00Z" : null,
      disabled: $("f-disabled").checked,
      metadata,
    };
    if (limit !== "") body.limit_reset = $("f-reset").value;
    try {
      if (editing) {
        await call("PATCH", "keys/" + editing.id, body);
        $("edit").close();
        status("Saved " + body.name);
      } else {
        const made = await call("POST", "keys", body);
        $("edit").close();
        showSecret("Your new key: " + made.data.name, made.key);
      }
      await load();
    } catch (e) {
      $("edit-error").textContent = e.message;
      $("edit-error").hidden = false;
    }
  });

  // The secret, shown once.
  function showSecret(title, secret) {
    $("secret-title").textContent = title;
    $("secret-value").textContent = secret;
    $("copied").hidden = true;
    $("secret").showModal();
  }
  $("copy").addEventListener("click", async () => {
    const text = $("secret-value").textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents($("secret-value"));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      document.execCommand("copy");
    }
    $("copied").hidden = false;
  });
  const forgetSecret = () => { $("secret-value").textContent = ""; $("copied").hidden = true; };
  $("secret-done").addEventListener("click", () => { forgetSecret(); $("secret").close(); });
  $("secret").addEventListener("close", forgetSecret); // Escape closes it too

  // Rotate and revoke, after a confirmation.
  function confirmThen(title, text, label, action) {
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-yes").textContent = label;
    $("confirm-yes").onclick = async () => {
      $("confirm").close();
      try { await action(); await load(); } catch (e) { status(e.message); }
    };
    $("confirm").showModal();
  }
  $("confirm-no").addEventListener("click", () => $("confirm").close());
  function rotate(k) {
    confirmThen("Rotate " + k.name + "?", "A new secret replaces the current one, which stops working at once on every gateway.", "Rotate",
      async () => {
        const r = await call("POST", "keys/" + k.id + "/rotate");
        showSecret("New secret for " + r.data.name, r.key);
      });
  }
  function revoke(k) {
    confirmThen("Revoke " + k.name + "?", "The key stops working at once on every gateway and is deleted with its usage. This cannot be undone.", "Revoke",
      async () => { await call("DELETE", "keys/" + k.id); status("Revoked " + k.name); });
  }

  // The 30-day chart: bars of tokens, a line of cost, drawn as SVG.
  $("usage-close").addEventListener("click", () => $("usage").close());
  async function showUsage(k) {
    let detail;
    try { detail = (await call("GET", "keys/" + k.id)).data; } catch (e) { status(e.message); return; }
    $("usage-title").textContent = "Usage of " + detail.name;
    $("chart").replaceChildren(chart(detail.daily));
    const tokens = detail.daily.reduce((s, d) => s + d.prompt_tokens + d.completion_tokens, 0);
    const cost = detail.daily.reduce((s, d) => s + d.cost_usd, 0);
    const reqs = detail.daily.reduce((s, d) => s + d.requests, 0);
    $("usage-total").textContent = "30 days: " + reqs + " requests, " + num(tokens) + " tokens, " + usd(cost) + ".";
    $("usage").showModal();
  }
  function chart(days) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = (tag, attrs) => {
      const e = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      return e;
    };
    const W = 700, H = 240, L = 48, R = 72, T = 12, B = 28;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Daily tokens and cost, last 30 days" });
    const tokens = days.map((d) => d.prompt_tokens + d.completion_tokens);
    const costs = days.map((d) => d.cost_usd);
    const maxT = Math.max(1, ...tokens), maxC = Math.max(1e-9, ...costs);
    const step = (W - L - R) / days.length;
    const y = (v, max) => T + (H - T - B) * (1 - v / max);
    root.append(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
    days.forEach((d, i) => {
      const x = L + i * step;
      const bar = svg("rect", { x: x + step * 0.15, width: step * 0.7, y: y(tokens[i], maxT), height: H - B - y(tokens[i], maxT), fill: "#9fb0f0", rx: 2 });
      const tip = svg("title", {});
      tip.textContent = d.date + ": " + tokens[i] + " tokens, " + d.requests + " requests, " + usd(d.cost_usd);
      bar.append(tip);
      root.append(bar);
      if (i % 5 === 0 || i === days.length - 1) {
        const t = svg("text", { x: x + step / 2, y: H - 10, "text-anchor": "middle" });
        t.textContent = d.date.slice(5);
        root.append(t);
      }
    });
    const pts = days.map((d, i) => (L + i * step + step / 2).toFixed(1) + "," + y(costs[i], maxC).toFixed(1)).join(" ");
    root.append(svg("polyline", { points: pts, fill: "none", stroke: "#c2352b", "stroke-width": 2 }));
    const label = (x, yy, text, anchor) => { const t = svg("text", { x, y: yy, "text-anchor": anchor }); t.textContent = text; root.append(t); };
    label(L - 6, T + 8, num(maxT) + " tok", "end");
    label(L - 6, H - B, "0", "end");
    label(W - 2, T + 8, usd(maxC), "end");
    return root;
  }
})();
