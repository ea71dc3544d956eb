// The station console: one WebSocket to /api (the HttpOnly cookie authenticates it), every DOM update
// through textContent (payloads are data, never markup), no network resource but this server.
"use strict";
(() => {
  const I18N = window.PASSERELLE_I18N;
  let lang = localStorage.getItem("passerelle.lang") || (navigator.language.startsWith("fr") ? "fr" : "en");
  const t = (key) => (I18N[lang] && I18N[lang][key]) || key;
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  };
  const state = { devices: null, availability: {}, health: null, seen: new Set(), lastEventId: null,
    observance: {}, selftest: null, linked: false };
  const MAX_ROWS = 100;

  function translate() {
    document.documentElement.lang = lang;
    for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
    $("lang").textContent = t("lang");
    renderLink(); renderDevices(); renderObservance();
  }
  $("lang").addEventListener("click", () => {
    lang = lang === "fr" ? "en" : "fr";
    localStorage.setItem("passerelle.lang", lang);
    translate();
  });

  function renderLink() {
    const link = $("link");
    link.textContent = state.linked ? t("connected") : t("disconnected");
    link.className = "badge " + (state.linked ? "green" : "red");
  }

  function renderDevices() {
    const rows = $("device-rows");
    rows.replaceChildren();
    const inventory = state.devices || { devices: [], disabled: [] };
    for (const device of inventory.devices) {
      const tr = el("tr");
      const avail = state.availability[device.id] || device.state || "";
      tr.append(el("td", device.id), el("td", device.family), el("td", device.model || ""),
        el("td", t(avail), "badge " + avail));
      rows.append(tr);
    }
    const disabled = $("disabled");
    disabled.replaceChildren();
    for (const item of inventory.disabled) disabled.append(el("li", `${item.family}: ${t("disabled")} — ${item.reason}`));
  }

  function renderHealth() {
    const health = state.health || { status: "", problems: [] };
    const badge = $("health-status");
    badge.textContent = health.status;
    badge.className = "badge " + health.status;
    $("health-problems").replaceChildren(...(health.problems || []).map((p) => el("li", p)));
  }

  function summary(topic, payload) {
    if (!payload || typeof payload !== "object") return JSON.stringify(payload);
    const data = payload.data || {};
    if (payload.schema) {
      const bits = [payload.schema, data.kind, data.event, data.gtin || data.cip13, data.label, data.tier]
        .filter((v) => v !== undefined && v !== null);
      return bits.join(" · ");
    }
    return JSON.stringify(payload).slice(0, 160);
  }

  function addEventRow(topic, payload) {
    const rows = $("event-rows");
    const tr = el("tr");
    const when = payload && payload.occurred_at ? payload.occurred_at.slice(11, 19) : new Date().toTimeString().slice(0, 8);
    tr.append(el("td", when), el("td", topic), el("td", summary(topic, payload)));
    rows.prepend(tr);
    while (rows.children.length > MAX_ROWS) rows.lastChild.remove();
  }

  function selftest(kind) {
    const status = $("selftest");
    status.className = "badge";
    status.textContent = t(kind === "scan" ? "waiting_scan" : "waiting_card");
    clearTimeout(state.selftest && state.selftest.timer);
    state.selftest = { kind, timer: setTimeout(() => {
      status.textContent = t("timeout"); status.className = "badge red"; state.selftest = null;
    }, 30000) };
  }
  $("test-scan").addEventListener("click", () => selftest("scan"));
  $("test-card").addEventListener("click", () => selftest("card"));
  function selftestSeen(topic) {
    if (!state.selftest) return;
    const kind = state.selftest.kind;
    if ((kind === "scan" && topic === "scan") || (kind === "card" && topic === "card")) {
      clearTimeout(state.selftest.timer);
      state.selftest = null;
      const status = $("selftest");
      status.textContent = t(kind === "scan" ? "got_scan" : "got_card");
      status.className = "badge green";
    }
  }

  function observe(payload) {
    const schema = payload.schema || "";
    const data = payload.data || {};
    if (!schema.startsWith("passerelle.observance.") || !data.device_serial) return;
    const device = state.observance[data.device_serial] ||= { periods: {}, renewal: null };
    if (schema.startsWith("passerelle.observance.period/")) device.periods[data.index] = data;
    if (schema.startsWith("passerelle.observance.renewal/")) device.renewal = data;
    renderObservance();
  }

  function chart(periods) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("viewBox", "0 0 360 160");
    svg.setAttribute("role", "img");
    const top = Math.max(140, ...periods.map((p) => p.hours));
    const y = (h) => 140 - (h / top) * 130;
    const width = 340 / Math.max(periods.length, 1);
    periods.forEach((p, i) => {
      const bar = document.createElementNS(ns, "rect");
      bar.setAttribute("class", "bar");
      bar.setAttribute("x", 20 + i * width + 1);
      bar.setAttribute("width", Math.max(width - 2, 1));
      bar.setAttribute("y", y(p.hours));
      bar.setAttribute("height", 140 - y(p.hours));
      const title = document.createElementNS(ns, "title");
      title.textContent = `${t("period")} ${p.index}: ${p.hours} h (${p.tier})`;
      bar.append(title);
      svg.append(bar);
    });
    for (const [hours, cls] of [[112, "tl1"], [56, "tl2"]]) {
      const line = document.createElementNS(ns, "line");
      line.setAttribute("class", cls);
      line.setAttribute("x1", 20); line.setAttribute("x2", 360);
      line.setAttribute("y1", y(hours)); line.setAttribute("y2", y(hours));
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", 0); label.setAttribute("y", y(hours) + 3);
      label.textContent = `${hours}h`;
      svg.append(line, label);
    }
    svg.setAttribute("aria-label", periods.map((p) => `${p.index}: ${p.hours} h ${p.tier}`).join("; "));
    return svg;
  }

  function renderObservance() {
    const box = $("observance-devices");
    box.replaceChildren();
    const serials = Object.keys(state.observance);
    $("observance-empty").hidden = serials.length > 0;
    for (const serial of serials) {
      const device = state.observance[serial];
      const periods = Object.values(device.periods).sort((a, b) => a.index - b.index);
      const block = el("div");
      block.append(el("h3", serial));
      if (device.renewal) {
        block.append(el("p", `${t("renewal")}: ${device.renewal.status} — ${device.renewal.reason}`,
          "badge " + (device.renewal.eligible ? "green" : "yellow")));
      }
      const table = el("table");
      const head = el("tr");
      head.append(el("th", t("period")), el("th", t("hours")), el("th", t("tier")));
      table.append(head);
      for (const p of periods.slice(-12)) {
        const tr = el("tr");
        tr.append(el("td", `${p.index} (${p.start} → ${p.end})`), el("td", p.hours), el("td", p.tier));
        table.append(tr);
      }
      block.append(chart(periods.slice(-12)), table);
      box.append(block);
    }
  }

  $("run-doctor").addEventListener("click", async () => {
    const list = $("doctor-results");
    list.replaceChildren(el("li", t("running")));
    try {
      const response = await fetch("/api/doctor", { credentials: "same-origin" });
      const checks = await response.json();
      list.replaceChildren(...checks.map((c) => {
        const li = el("li");
        li.append(el("span", c.ok ? "ok" : "FAIL", "badge " + (c.ok ? "ok" : "fail")), el("span", ` ${c.name}: ${c.detail}`));
        if (!c.ok && c.fix) li.append(el("div", `${t("fix")}: ${c.fix}`));
        return li;
      }));
    } catch (error) {
      list.replaceChildren(el("li", String(error), "problems"));
    }
  });

  function onFrame(message) {
    const { topic, payload } = JSON.parse(message.data);
    if (payload && payload.event_id) {
      if (state.seen.has(payload.event_id)) return; // at least once: a resumed stream may repeat
      state.seen.add(payload.event_id);
      state.lastEventId = payload.event_id;
      addEventRow(topic, payload);
      selftestSeen(topic);
      observe(payload);
      return;
    }
    if (topic === "bridge/devices") { state.devices = payload; renderDevices(); }
    else if (topic === "bridge/health") { state.health = payload; renderHealth(); }
    else if (topic === "bridge/info" && payload) { $("station").textContent = payload.station || ""; }
    else if (topic.endsWith("/availability") && payload) {
      state.availability[topic.slice(0, -"/availability".length)] = payload.state; renderDevices();
    }
  }

  let delay = 500;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const since = state.lastEventId ? `?since=${encodeURIComponent(state.lastEventId)}` : "";
    const socket = new WebSocket(`${scheme}://${location.host}/api${since}`);
    socket.onopen = () => { state.linked = true; delay = 500; renderLink(); };
    socket.onmessage = onFrame;
    socket.onclose = () => {
      state.linked = false; renderLink();
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }
  async function loadObservance() {
    // Periods imported before the console was opened are in the daemon's journal.
    try {
      const response = await fetch("/api/journal?topic=observance", { credentials: "same-origin" });
      if (response.ok) for (const payload of await response.json()) observe(payload);
    } catch (error) {
      console.warn("observance history unavailable", error);
    }
  }

  translate();
  loadObservance();
  connect();
})();
