// The writing page of `lstmtext serve`: ghost text as you type, ranked completions, streamed generation and the
// LSTM's gates as a heat map, all from this server's API. Text from the model or the user enters the page only as
// text (textContent, never HTML), and the server's Content-Security-Policy allows no other script.
"use strict";

const $ = (id) => document.getElementById(id);
const GHOST_CHARS = 32;   // about how much ghost text to ask for
const MEMORY_CHARS = 2000; // the end of the text the heat map shows

const page = {
  key: sessionStorage.getItem("lstmtext-key"),
  ghost: "",           // the suggestion shown after the caret...
  ghostAt: null,       // ...when the text before the caret is this
  asking: null,        // the AbortController of the suggestion request in flight
  generating: null,    // the AbortController of the generation in flight
  session: null,       // this page's writing session, when it learns from what is written
  learnedTo: 0,        // how much of the text the session has been given
  latencies: [],       // ms from a keystroke's input event to its suggestion drawn (make bench reads them)
  asked: 0,            // suggestions asked for
};
window.lstmtext = page;

class Refusal extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function api(path, body, signal, method) {
  const headers = {"Content-Type": "application/json"};
  if (page.key) headers.Authorization = `Bearer ${page.key}`;
  const response = await fetch(path, {method: method || (body === undefined ? "GET" : "POST"), headers, signal,
                                      body: body === undefined ? undefined : JSON.stringify(body),
                                      keepalive: method === "DELETE"}); // a page that goes still closes its session
  if (response.ok) return response;
  if (response.status === 401) askForKey();
  let message = response.statusText;
  try { message = (await response.json()).error.message; } catch (_) { /* not JSON: keep the status text */ }
  throw new Refusal(message, response.status);
}

function say(message) { $("status").textContent = message || ""; }

function failed(error) {
  // A request a newer one made stale (aborted here, or skipped by the page's session) is no failure.
  if (error.name !== "AbortError" && error.status !== 409) say(error.message);
}

function askForKey() {
  $("key-form").hidden = false;
  $("key").focus();
}

async function loadModels() {
  const models = (await (await api("/v1/models")).json()).data;
  const picker = $("model");
  picker.replaceChildren(...models.map((model) => new Option(model.id, model.id)));
  say("");
}

function model() { return $("model").value || undefined; }

function writer() { return page.session ? {session: page.session} : {model: model()}; }

// ---- ghost text ----------------------------------------------------------------------------------------------

const text = $("text");

function beforeCaret() { return text.value.slice(0, text.selectionStart); }

function caretAtLineEnd() {
  const at = text.selectionStart;
  return at === text.selectionEnd && (at === text.value.length || text.value[at] === "\n");
}

function ghostShown() {
  return page.ghost !== "" && caretAtLineEnd() && beforeCaret() === page.ghostAt;
}

function draw() {
  const at = text.selectionStart;
  $("before").textContent = text.value.slice(0, at);
  $("ghost").textContent = ghostShown() ? page.ghost : "";
  $("after").textContent = text.value.slice(at) + "\n";
  $("mirror").scrollTop = text.scrollTop;
}

function keepMatchingGhost(before) {
  // What was typed since the suggestion: the rest of it stays while it still matches.
  if (page.ghostAt !== null && before.startsWith(page.ghostAt)) {
    const typed = before.slice(page.ghostAt.length);
    if (page.ghost.startsWith(typed)) {
      page.ghost = page.ghost.slice(typed.length);
      page.ghostAt = before;
      return;
    }
  }
  page.ghost = "";
  page.ghostAt = null;
}

function onInput() {
  const typedAt = performance.now();
  const before = beforeCaret();
  keepMatchingGhost(before);
  draw();
  suggest(before, typedAt);
  learnFinishedLines();
}

async function suggest(before, typedAt) {
  if (page.asking) page.asking.abort(); // stale now: the server drops it at its next step
  page.asking = null;
  if (!caretAtLineEnd() || before.trim() === "") return;
  const asking = new AbortController();
  page.asking = asking;
  page.asked += 1;
  try {
    const answer = await (await api("/v1/suggest", {...writer(), prompt: before, max_chars: GHOST_CHARS},
                                    asking.signal)).json();
    if (asking.signal.aborted || beforeCaret() !== before) return;
    if (answer.text !== "" || page.ghostAt !== before) { // an empty answer keeps what still matches
      page.ghost = answer.text;
      page.ghostAt = before;
    }
    draw();
    requestAnimationFrame(() => {
      const latency = performance.now() - typedAt;
      page.latencies.push(latency);
      $("latency").textContent = `suggested in ${Math.round(latency)} ms`;
    });
    say("");
  } catch (error) {
    failed(error);
  } finally {
    if (page.asking === asking) page.asking = null;
  }
}

function insert(words) {
  text.setRangeText(words, text.selectionStart, text.selectionEnd, "end");
  onInput();
}

function accept(part) {
  if (!ghostShown()) return false;
  insert(part === "word" ? page.ghost.match(/^\s*\S*/)[0] : page.ghost);
  return true;
}

text.addEventListener("input", onInput);
text.addEventListener("keydown", (event) => {
  const taken = (event.key === "Tab" && !event.shiftKey && accept("all"))
    || (event.key === "ArrowRight" && event.ctrlKey && accept("word"))
    || (event.key === "Escape" && ghostShown() && dismiss());
  if (taken) event.preventDefault();
});
text.addEventListener("scroll", () => { $("mirror").scrollTop = text.scrollTop; });
for (const moved of ["click", "keyup", "select"]) text.addEventListener(moved, draw);

function dismiss() {
  page.ghost = "";
  page.ghostAt = null;
  draw();
  return true;
}

// ---- learning from what is written ------------------------------------------------------------------------------

async function learning(on) {
  if (on && !page.session) {
    const started = await (await api("/v1/sessions", {model: model()})).json();
    page.session = started.id;
    page.learnedTo = 0;
    learnFinishedLines();
  } else if (!on && page.session) {
    const closing = page.session;
    page.session = null;
    $("learned").textContent = "";
    await api(`/v1/sessions/${closing}`, undefined, undefined, "DELETE");
  }
}

async function learnFinishedLines() {
  // The lines finished since the session last read (from the start if text before them was edited away).
  const end = text.value.lastIndexOf("\n") + 1;
  const start = page.learnedTo <= end ? page.learnedTo : 0;
  if (!page.session || end <= start) return;
  page.learnedTo = end;
  try {
    const read = await (await api(`/v1/sessions/${page.session}/read`, {text: text.value.slice(start, end)})).json();
    $("learned").textContent = `(${read.learned_texts} learned)`;
  } catch (error) {
    failed(error);
  }
}

// ---- ranked completions ----------------------------------------------------------------------------------------

async function rank() {
  const prompt = beforeCaret();
  const body = {...writer(), prompt, n: Number($("ranked-n").value), until: $("ranked-until").value};
  try {
    const answer = await (await api("/v1/complete", body)).json();
    $("ranked-list").replaceChildren(...answer.completions.map((completion) => {
      const item = document.createElement("li");
      const words = document.createElement("span");
      words.className = "completion";
      words.textContent = completion.text;
      const probability = document.createElement("span");
      probability.className = "probability";
      probability.textContent = `${(100 * completion.probability).toFixed(1)}%`;
      item.append(words, probability);
      item.addEventListener("click", () => { text.focus(); insert(completion.text); });
      return item;
    }));
    say("");
  } catch (error) {
    failed(error);
  }
}

// ---- generation ------------------------------------------------------------------------------------------------

async function generate() {
  const generating = new AbortController();
  page.generating = generating;
  $("generate-go").disabled = true;
  $("generate-stop").disabled = false;
  const body = {model: model(), prompt: beforeCaret(), stream: true, max_tokens: Number($("length").value),
                temperature: Number($("temperature").value), top_p: Number($("top-p").value)};
  try {
    const response = await api("/v1/completions", body, generating.signal);
    for await (const chunk of events(response)) {
      if (chunk.error) throw new Refusal(chunk.error.message);
      const piece = chunk.choices.length ? chunk.choices[0].text : "";
      if (piece) text.setRangeText(piece, text.selectionStart, text.selectionEnd, "end");
    }
    say("");
  } catch (error) {
    failed(error);
  } finally {
    page.generating = null;
    $("generate-go").disabled = false;
    $("generate-stop").disabled = true;
    onInput();
  }
}

async function* events(response) {
  // Server-sent events: "data: {json}" blocks separated by a blank line, ending with "data: [DONE]".
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buffered += value;
    let end;
    while ((end = buffered.indexOf("\n\n")) !== -1) {
      const data = buffered.slice(0, end).replace(/^data: /, "");
      buffered = buffered.slice(end + 2);
      if (data === "[DONE]") return;
      yield JSON.parse(data);
    }
  }
}

// ---- the LSTM's memory -----------------------------------------------------------------------------------------

async function inspect() {
  const shown = text.value.slice(-MEMORY_CHARS);
  if (shown.trim() === "") { say("write something first: the heat map shows what the LSTM does as it reads it"); return; }
  const body = {model: model(), text: shown, show: $("memory-show").value, count: Number($("memory-count").value)};
  try {
    drawHeatmap(await (await api("/v1/inspect", body)).json());
    say("");
  } catch (error) {
    failed(error);
  }
}

function colour(value, [low, high]) {
  const share = high > low ? Math.min(1, Math.max(0, (value - low) / (high - low))) : 0.5;
  return `hsl(${Math.round(230 - 230 * share)}, 75%, ${Math.round(92 - 42 * share)}%)`;
}

function drawHeatmap(inspection) {
  const {tokens, values, units, range, show, why} = inspection;
  const map = $("heatmap");
  map.style.gridTemplateColumns = `3.5em repeat(${tokens.length}, 10px)`;
  const cells = [];
  units.forEach((unit, row) => {
    cells.push(Object.assign(document.createElement("span"), {textContent: unit, title: why[row]}));
    tokens.forEach((token, column) => {
      const cell = document.createElement("div");
      const value = values[column][row];
      cell.style.backgroundColor = colour(value, range);
      cell.title = `${JSON.stringify(token)} · unit ${unit} · ${show} ${value.toFixed(3)}`;
      cell.dataset.row = row;
      cell.dataset.column = column;
      cells.push(cell);
    });
  });
  map.replaceChildren(...cells);
  $("memory-range").textContent = `${show}: ${range[0].toFixed(2)} (blue) to ${range[1].toFixed(2)} (red)`;
  const words = tokens.map((token) => Object.assign(document.createElement("span"), {textContent: token}));
  $("memory-text").replaceChildren(...words);
  map.onmouseover = (event) => {
    const cell = event.target;
    if (cell.dataset.row === undefined) return;
    const row = Number(cell.dataset.row);
    $("memory-readout").textContent = cell.title;
    words.forEach((word, column) => { word.style.backgroundColor = colour(values[column][row], range); });
  };
}

// ---- the page --------------------------------------------------------------------------------------------------

function showView(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.setAttribute("aria-selected", tab.dataset.view === name);
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== name;
}

for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showView(tab.dataset.view));
$("ranked-go").addEventListener("click", rank);
$("generate-go").addEventListener("click", generate);
$("generate-stop").addEventListener("click", () => page.generating && page.generating.abort());
$("memory-go").addEventListener("click", inspect);
$("model").addEventListener("change", () => {
  dismiss();
  if (page.session) learning(false).then(() => learning(true)).catch(failed);
});
$("learn").addEventListener("change", () => learning($("learn").checked).catch((error) => {
  $("learn").checked = false;
  failed(error);
}));
window.addEventListener("pagehide", () => { if (page.session) learning(false).catch(() => {}); });
$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  page.key = $("key").value;
  sessionStorage.setItem("lstmtext-key", page.key);
  $("key-form").hidden = true;
  loadModels().catch(failed);
});
$("learn").checked = false; // a reloaded page starts without a session
loadModels().catch(failed);
draw();
