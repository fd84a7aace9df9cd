// The review page: shows the oldest prediction waiting for review and records the
// reviewer's verdict through the JSON API. Keyboard: the label keys shown, `s` to skip.
"use strict";

(function () {
  const root = document.getElementById("review");
  const shortcuts = JSON.parse(root.dataset.shortcuts); // [[key, labelValue], ...]
  const keyToValue = new Map(shortcuts);
  const el = (id) => document.getElementById(id);
  const state = { item: null, busy: false };

  const settings = {
    get reviewer() { return localStorage.getItem("decayguard.reviewer") || ""; },
    get token() { return sessionStorage.getItem("decayguard.token") || ""; },
    save() {
      localStorage.setItem("decayguard.reviewer", el("reviewer").value.trim());
      sessionStorage.setItem("decayguard.token", el("token").value.trim());
    },
  };

  function headers(extra) {
    const h = Object.assign({ Accept: "application/json" }, extra || {});
    if (settings.token) h.Authorization = "Bearer " + settings.token;
    return h;
  }

  function say(message, isError) {
    const status = el("status");
    status.textContent = message;
    status.className = isError ? "error" : "";
  }

  async function explain(response) {
    try {
      const body = await response.json();
      if (body.error) return body.error;
      if (typeof body.detail === "string") return body.detail;
      return JSON.stringify(body.detail || body);
    } catch (e) {
      return response.status + " " + response.statusText;
    }
  }

  function showProgress(p) {
    const bar = el("progress-bar");
    bar.max = Math.max(p.sampled, 1);
    bar.value = p.reviewed;
    el("progress-text").textContent =
      p.reviewed + " of " + p.sampled + " reviewed (" + p.labeled + " labeled, " +
      p.skipped + " skipped), " + p.pending + " left";
  }

  function formatValue(v) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "number" && !Number.isInteger(v)) return v.toFixed(4).replace(/0+$/, "");
    return String(v);
  }

  function showItem(item) {
    state.item = item;
    el("empty").hidden = item !== null;
    el("item").hidden = item === null;
    if (item === null) return;
    el("prediction-id").textContent = item.prediction_id;
    el("prediction-ts").textContent = item.ts;
    el("model-version").textContent = item.model_version;
    el("model-answer").textContent = formatValue(item.prediction);
    el("model-score").textContent =
      item.score === null ? "" : "(score " + formatValue(item.score) + ")";
    const body = el("inputs").querySelector("tbody");
    body.replaceChildren();
    for (const [name, value] of Object.entries(item.inputs)) {
      const row = document.createElement("tr");
      const k = document.createElement("td");
      const v = document.createElement("td");
      k.textContent = name;
      v.textContent = formatValue(value);
      row.append(k, v);
      body.append(row);
    }
  }

  async function loadNext() {
    const query = new URLSearchParams({ limit: "1" });
    if (settings.reviewer) query.set("reviewer", settings.reviewer);
    const response = await fetch("/api/v1/reviews/queue?" + query, { headers: headers() });
    if (!response.ok) {
      say("Cannot load the queue: " + (await explain(response)), true);
      return;
    }
    const body = await response.json();
    showProgress(body.progress);
    showItem(body.items.length ? body.items[0] : null);
  }

  async function submit(status, value) {
    if (state.busy || state.item === null) return;
    if (!settings.reviewer) {
      say("Enter your name as reviewer (and the API token), then Save.", true);
      el("reviewer").focus();
      return;
    }
    state.busy = true;
    const id = state.item.prediction_id;
    try {
      const response = await fetch("/api/v1/reviews", {
        method: "POST",
        headers: headers({ "Content-Type": "application/json" }),
        body: JSON.stringify({
          prediction_id: id, reviewer: settings.reviewer, status: status,
          value: status === "labeled" ? value : null,
        }),
      });
      if (!response.ok) {
        say("Not recorded: " + (await explain(response)), true);
        return;
      }
      say(status === "labeled" ? "Labeled " + id + " as " + value + "." : "Skipped " + id + ".");
      await loadNext();
    } catch (e) {
      say("Not recorded: " + e, true);
    } finally {
      state.busy = false;
    }
  }

  function buildChoices() {
    const choices = el("choices");
    const hints = el("key-hints");
    for (const [key, value] of shortcuts) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.value = value;
      button.textContent = value + " (" + key + ")";
      button.addEventListener("click", () => submit("labeled", value));
      choices.append(button);
      const kbd = document.createElement("kbd");
      kbd.textContent = key;
      if (hints.childNodes.length) hints.append(", ");
      hints.append(kbd, " " + value);
    }
    const skip = document.createElement("button");
    skip.type = "button";
    skip.id = "skip";
    skip.textContent = "skip (s)";
    skip.addEventListener("click", () => submit("skipped", null));
    choices.append(skip);
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    if (event.key === "s") {
      event.preventDefault();
      submit("skipped", null);
    } else if (keyToValue.has(event.key)) {
      event.preventDefault();
      submit("labeled", keyToValue.get(event.key));
    }
  });

  el("save-settings").addEventListener("click", () => {
    settings.save();
    say("Saved.");
    el("save-settings").blur();
    loadNext();
  });
  el("reviewer").value = settings.reviewer;
  el("token").value = settings.token;
  buildChoices();
  loadNext();
})();
