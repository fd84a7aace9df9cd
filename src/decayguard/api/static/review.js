// The review page: shows the oldest prediction waiting for review and records the
// reviewer's verdict through the JSON API. The page is rendered with how to answer:
// "choice" (pick a class: buttons, keys shown) or "value" (type a number, Enter records
// it); `s` skips.
"use strict";

(function () {
  const el = (id) => document.getElementById(id);
  const state = { item: null, busy: false, mode: null, numeric: false, keyToValue: new Map() };
  const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

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
    if (answerChanged(body.answer, body.label_values)) return;
    showItem(body.items.length ? body.items[0] : null);
    focusAnswer();
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
      const recorded = await response.json();
      say(status === "labeled"
        ? "Labeled " + id + " as " + recorded.value + "." : "Skipped " + id + ".");
      el("value-input").value = "";
      el("value-input").removeAttribute("aria-invalid");
      await loadNext();
    } catch (e) {
      say("Not recorded: " + e, true);
    } finally {
      state.busy = false;
    }
  }

  // How to answer, rendered into the page: [[key, class], ...] for the keys.
  function buildChoices(values, shortcuts) {
    const choices = el("choices");
    const hints = el("key-hints");
    const keyOf = new Map(shortcuts.map(([key, value]) => [value, key]));
    state.keyToValue = new Map(shortcuts);
    for (const [key, value] of shortcuts) { // `b` picks class B too, unless `b` is a class
      const other = key === key.toLowerCase() ? key.toUpperCase() : key.toLowerCase();
      if (!state.keyToValue.has(other) && other.toLowerCase() !== "s") {
        state.keyToValue.set(other, value);
      }
    }
    for (const value of values) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.value = value;
      const key = keyOf.get(value);
      // A class typed as itself needs no "(key)"; one picked by position does.
      button.textContent = key === undefined || key === value ? value : value + " (" + key + ")";
      button.addEventListener("click", () => submit("labeled", value));
      choices.append(button);
    }
    for (const [key, value] of shortcuts) {
      const kbd = document.createElement("kbd");
      kbd.textContent = key;
      if (hints.childNodes.length) hints.append(", ");
      hints.append(kbd, " " + value);
    }
  }

  function useAnswer(answer, values, shortcuts) {
    state.mode = JSON.stringify([answer, values]);
    if (sessionStorage.getItem("decayguard.reloaded-for") === state.mode) {
      sessionStorage.removeItem("decayguard.reloaded-for"); // the reload got the new page
    }
    state.numeric = answer === "value";
    const typed = state.numeric || values.length === 0; // a classifier of unknown classes
    el("choices").hidden = typed;
    el("choice-hint").hidden = typed;
    el("value-form").hidden = !typed;
    el("value-hint").hidden = !state.numeric;
    const input = el("value-input");
    input.inputMode = state.numeric ? "decimal" : "text";
    input.placeholder = state.numeric ? "a number, e.g. 1250.5" : "class name";
    el("value-label").textContent = state.numeric ? "True value" : "True class";
    if (!typed) buildChoices(values, shortcuts);
  }

  // The queue repeats how to answer; if it changed (a new champion's classes), reload
  // once to get the new page (twice for the same change means something is off: say so).
  function answerChanged(answer, values) {
    const mode = JSON.stringify([answer, values]);
    if (mode === state.mode) return false;
    if (sessionStorage.getItem("decayguard.reloaded-for") !== mode) {
      sessionStorage.setItem("decayguard.reloaded-for", mode);
      location.reload();
    } else {
      say("The review page and the queue disagree on the answers: reload the page.", true);
    }
    return true;
  }

  function focusAnswer() {
    if (state.item !== null && !el("value-form").hidden) el("value-input").focus();
  }

  el("value-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = el("value-input");
    const text = input.value.trim();
    const bad = text === "" ||
      (state.numeric && !(NUMBER.test(text) && Number.isFinite(Number(text))));
    input.setAttribute("aria-invalid", bad ? "true" : "false");
    if (bad) {
      say(state.numeric
        ? "Not a number: \u201c" + text + "\u201d. Type the true value, such as 1250.5."
        : "Type the true class.", true);
      input.focus();
      return;
    }
    submit("labeled", text);
  });

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target instanceof HTMLInputElement) {
      // `s` is never part of a number: in the value field it still skips.
      if (target.id === "value-input" && state.numeric && event.key === "s") {
        event.preventDefault();
        submit("skipped", null);
      }
      return;
    }
    if (event.key === "s") {
      event.preventDefault();
      submit("skipped", null);
    } else if (state.keyToValue.has(event.key)) {
      event.preventDefault();
      submit("labeled", state.keyToValue.get(event.key));
    }
  });

  el("skip").addEventListener("click", () => submit("skipped", null));
  el("save-settings").addEventListener("click", () => {
    settings.save();
    say("Saved.");
    el("save-settings").blur();
    loadNext();
  });
  el("reviewer").value = settings.reviewer;
  el("token").value = settings.token;
  const root = el("review");
  useAnswer(root.dataset.answer, JSON.parse(root.dataset.labelValues),
    JSON.parse(root.dataset.shortcuts));
  loadNext();
})();
