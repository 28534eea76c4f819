// The annotate page's label form (decision, reject reason, category, languages, difficulty and the
// actions). Its state lives here, in the browser: a key changes it at once, with no server round
// trip, and keys pressed while the server is busy (after submit, skip or back) are queued and
// applied in order to whatever item comes next. The server hears of the labels with a draft save
// (a moment after the last change, or Alt+S) and with submit, each carrying every label. Until
// the server has saved them, the labels are also kept in localStorage, so a reload or a crash
// loses nothing.

const AUTOSAVE_MS = 5000;        // a pause this long after a change saves the draft (the browser keeps it meanwhile)
const SERVER_WAIT_MS = 30000;    // after this long without an answer, the form stops waiting
const STORE = "curation-labels:";
const MAX_AGE_MS = 7 * 24 * 3600 * 1000;

// One form per page: the state outlives Streamlit's reruns and a remount of the element.
const S = window.__curationLabelForm || (window.__curationLabelForm = {
  data: null, item: null, version: null, fields: null, changes: 0, saved: 0, picker: null,
  busy: null, queue: [], pending: {}, timer: null, waitTimer: null, root: null, send: null,
  mounted: false, away: null, lastSeq: 0, note: "",
});

const clone = (value) => JSON.parse(JSON.stringify(value));
const nextSeq = () => (S.lastSeq = Math.max(S.lastSeq + 1, Date.now()));
const storeKey = () => `${STORE}${S.data.user}:${S.item}`;

// ---- what a key does --------------------------------------------------------------------------

const DIGITS = ["Digit1", "Digit2", "Digit3", "Digit4", "Digit5", "Digit6", "Digit7", "Digit8", "Digit9"];

function options(kind) {
  const d = S.data;
  if (kind === "category") return d.categories.map(([main, sub]) => ({ value: [main, sub], text: `${sub} · ${main}` }));
  if (kind === "languages") return d.languages.filter((l) => !(S.fields.languages || []).includes(l)).map((l) => ({ value: l, text: l }));
  return d.reasons.map((r, i) => ({ value: r, text: `${i + 1}  ${r}` }));
}

function matches(kind, query) {
  const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
  const all = options(kind).filter((o) => terms.every((t) => o.text.toLowerCase().includes(t)));
  if (!terms.length) return all;
  const first = terms[0];  // names that start with what was typed come first
  const starts = (o) => o.text.toLowerCase().split(/[\s·]+/).some((w) => w.startsWith(first));
  return [...all.filter(starts), ...all.filter((o) => !starts(o))];
}

function change(apply, { saveNow = false } = {}) {
  if (S.data.read_only) return;
  apply(S.fields);
  if (S.fields.decision === "keep") S.fields.reject_reason = null;
  if (S.fields.decision === "reject") S.fields.difficulty = null;  // a rejected item has no difficulty
  S.changes += 1;
  remember();
  clearTimeout(S.timer);
  S.timer = setTimeout(() => save("save"), saveNow ? 0 : AUTOSAVE_MS);
}

function decide(decision) {
  change((f) => { f.decision = decision; }, { saveNow: decision === "reject" });  // rejecting clears text fields
  if (decision === "reject") openPicker("reason");
  else closePicker();
}

function rate(level) {
  closePicker();
  change((f) => { f.difficulty = level; f.decision = "keep"; });  // only a kept item has a difficulty
}

function openPicker(kind) {
  if (S.data.read_only) return;
  S.picker = { kind, query: "", active: 0 };
}

function closePicker() {
  S.picker = null;
}

function choose(option) {
  const kind = S.picker.kind;
  if (kind === "category") {
    change((f) => { [f.category, f.subcategory] = option.value; });
    closePicker();
  } else if (kind === "languages") {
    change((f) => { f.languages = [...(f.languages || []), option.value]; });
    S.picker.query = "";
    S.picker.active = 0;
  } else {
    change((f) => { f.reject_reason = option.value; });
    closePicker();
  }
}

// Returns true when the key was the form's (so the browser must not act on it too).
function handleKey(e) {
  const code = e.code || "";
  if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { act("submit"); return true; }
  if (e.altKey && !e.ctrlKey && !e.metaKey) {
    const digit = DIGITS.indexOf(code);
    if (digit >= 0 && digit < S.data.difficulties.length) { rate(S.data.difficulties[digit]); return true; }
    const letter = code.startsWith("Key") ? code.slice(3) : "";
    const actions = {
      K: () => decide("keep"),
      X: () => decide("reject"),
      C: () => openPicker("category"),
      L: () => openPicker("languages"),
      S: () => { closePicker(); save("save"); },
      N: () => act("skip"),
      P: () => { if (S.data.previous) act("back"); },
      B: () => { if (S.data.baseline) act("baseline"); },
    };
    if (actions[letter]) { actions[letter](); return true; }
    return false;
  }
  if (!S.picker) return false;
  // A picker is open: its keys, typed as well as navigated, are the form's.
  const found = matches(S.picker.kind, S.picker.query);
  if (e.key === "Escape") { closePicker(); return true; }
  if (e.key === "Tab") {  // on to the next list (Shift: back), or out of the form after the last
    const order = ["reason", "category", "languages"].filter((kind) => kind !== "reason" || S.fields.decision === "reject");
    const next = order[order.indexOf(S.picker.kind) + (e.shiftKey ? -1 : 1)];
    closePicker();
    if (next) openPicker(next);
    return true;
  }
  if (e.key === "ArrowDown") { S.picker.active = Math.min(S.picker.active + 1, found.length - 1); return true; }
  if (e.key === "ArrowUp") { S.picker.active = Math.max(S.picker.active - 1, 0); return true; }
  if (e.key === "Enter") { if (found[S.picker.active]) choose(found[S.picker.active]); return true; }
  if (e.key === "Backspace") {
    if (S.picker.query) S.picker.query = S.picker.query.slice(0, -1);
    else if (S.picker.kind === "languages") change((f) => { f.languages = (f.languages || []).slice(0, -1); });
    S.picker.active = 0;
    return true;
  }
  if (S.picker.kind === "reason" && !S.picker.query && /^[1-9]$/.test(e.key)) {
    const reason = S.data.reasons[Number(e.key) - 1];
    if (reason) choose({ value: reason });
    return true;
  }
  if (e.key.length === 1 && !e.ctrlKey && !e.metaKey) { S.picker.query += e.key; S.picker.active = 0; return true; }
  return false;
}

// ---- talking to the server --------------------------------------------------------------------

function payload(kind) {
  const seq = nextSeq();
  S.pending[seq] = S.changes;
  return { kind, seq, item: S.item, fields: clone(S.fields), to: kind === "back" ? S.data.previous : null };
}

function save(kind) {
  clearTimeout(S.timer);
  S.timer = null;
  if (S.busy || S.data.read_only || (kind === "save" && S.changes === S.saved)) return;
  S.send("action", payload(kind));
  S.note = "Saving…";
  render();
}

// Submit, skip and back move to another item: until the server answers, keys wait in the queue.
function act(kind) {
  if (S.busy) return;
  if (S.data.read_only && kind !== "back") return;
  clearTimeout(S.timer);
  S.timer = null;
  closePicker();
  const active = document.activeElement;
  // A text area that is being typed in commits its text when it is left, ahead of this action.
  if (active && active !== document.body && typeof active.blur === "function") active.blur();
  const sent = payload(kind);
  S.busy = { seq: sent.seq, kind, item: S.item };
  S.note = { submit: "Submitting…", skip: "Skipping…", back: "Opening the item you submitted last…",
             baseline: "Copying the baseline answer…" }[kind];
  clearTimeout(S.waitTimer);
  S.waitTimer = setTimeout(() => {
    if (!S.busy || S.busy.seq !== sent.seq) return;
    S.busy = null;
    S.note = "The server did not answer; your labels are still here. Try again.";
    replay();
  }, SERVER_WAIT_MS);
  setTimeout(() => S.send("action", sent), 0);  // after the text area's own commit
  render();
}

function remember() {
  if (!S.item) return;
  if (S.changes === S.saved) { localStorage.removeItem(storeKey()); return; }
  localStorage.setItem(storeKey(), JSON.stringify({ fields: S.fields, revision: S.data.revision, at: Date.now() }));
}

// Labels kept in this browser from before a reload are put back when nothing was saved since.
function restore() {
  for (const key of Object.keys(localStorage)) {
    if (!key.startsWith(STORE)) continue;
    let entry = null;
    try { entry = JSON.parse(localStorage.getItem(key)); } catch { entry = null; }
    const stale = !entry || !(entry.at > Date.now() - MAX_AGE_MS) || !key.startsWith(`${STORE}${S.data.user}:`);
    if (stale) localStorage.removeItem(key);
  }
  let kept = null;
  try { kept = JSON.parse(localStorage.getItem(storeKey()) || "null"); } catch { kept = null; }
  if (!kept) return;
  if (kept.revision !== S.data.revision || S.data.read_only) { localStorage.removeItem(storeKey()); return; }
  if (JSON.stringify(kept.fields) === JSON.stringify(S.fields)) { localStorage.removeItem(storeKey()); return; }
  S.fields = kept.fields;
  S.changes = 1;
  S.note = "Labels kept in this browser since the last save were put back.";
  S.timer = setTimeout(() => save("save"), 0);
}

function receive(data) {
  const previous = S.data;
  S.data = data;
  if (data.item !== S.item || data.version !== S.version) {  // another item, or the saved state again
    clearTimeout(S.timer);
    Object.assign(S, { item: data.item, version: data.version, fields: clone(data.fields), changes: 0, timer: null,
                       saved: 0, picker: null, pending: {}, note: "" });
    restore();
  } else if (previous && previous.revision !== data.revision && S.changes !== S.saved) {
    remember();  // saved elsewhere on the page (a text field): what is kept here is still newer
  }
  if (data.ack in S.pending) {  // the server has handled one of this form's sends
    if (data.ack_ok) S.saved = Math.max(S.saved, S.pending[data.ack]);
    delete S.pending[data.ack];
    remember();
    S.note = data.ack_ok ? "" : data.ack_error || "Not saved.";
    if (S.changes !== S.saved && !S.timer) S.timer = setTimeout(() => save("save"), AUTOSAVE_MS);
  }
  if (S.busy && data.ack === S.busy.seq) {
    const { kind, item } = S.busy;
    S.busy = null;
    clearTimeout(S.waitTimer);
    const moves = kind === "submit" || kind === "skip" || kind === "back";
    if (moves && data.ack_ok) localStorage.removeItem(`${STORE}${data.user}:${item}`);  // the server has it
    if (moves && (!data.ack_ok || data.item === item)) {
      // Keys pressed for the next item must not land on this one.
      const dropped = S.queue.splice(0).length;
      const why = data.ack_ok ? `Still on ${item}.` : data.ack_error || "Not done.";
      const keys = dropped > 1 ? `The ${dropped} keys pressed since were` : "The key pressed since was";
      if (dropped) S.note = `${why} ${keys} not applied.`;
    }
  }
}

function replay() {
  const keys = S.queue.splice(0);
  for (const [index, key] of keys.entries()) {
    if (S.busy) { S.queue.push(...keys.slice(index)); break; }
    handleKey(key);
  }
  render();
}

const isTextField = (node) => !!node && (node.tagName === "TEXTAREA" || node.tagName === "INPUT" || node.isContentEditable);

// Streamlit takes the form off the page and draws it again on some reruns: a key pressed in
// between waits for it (unless it is typed into another field, or the page is another page now).
function waitsForTheForm(e) {
  if (S.mounted && S.root && S.root.isConnected) return false;
  // Taken off the page before its cleanup ran: the gap starts now.
  if (!S.away && S.mounted) S.away = { at: performance.now(), path: window.location.pathname };
  if (!S.away || window.location.pathname !== S.away.path || performance.now() - S.away.at > SERVER_WAIT_MS) return false;
  return S.busy || !isTextField(e.target);
}

function onKey(e) {
  if (e.isComposing || ["Shift", "Alt", "Control", "Meta", "AltGraph", "CapsLock"].includes(e.key)) return;
  const away = waitsForTheForm(e);
  if (!away && (!S.mounted || !S.root || !S.root.isConnected)) return;
  if (S.busy || away) {  // everything waits for the next item (or the form's return), in order
    S.queue.push({ key: e.key, code: e.code, altKey: e.altKey, ctrlKey: e.ctrlKey, metaKey: e.metaKey,
                   shiftKey: e.shiftKey, at: performance.now() });
    e.preventDefault();
    e.stopPropagation();
    if (!away) render();
    return;
  }
  const inPicker = S.picker && e.composedPath().includes(S.root.querySelector(`[data-field="${S.picker.kind}"] input`));
  const left = S.picker && !inPicker && !e.altKey && !e.ctrlKey && !e.metaKey;  // typing elsewhere
  if (left) closePicker();
  const handled = handleKey(e);
  if (handled) {
    e.preventDefault();
    e.stopPropagation();
  }
  if (handled || left) render();  // keys typed into the page's text fields leave the form as it is
}

// ---- drawing ----------------------------------------------------------------------------------

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function button(label, keys, { pressed = false, primary = false, disabled = false, onclick, name, title = null }) {
  return el("button", { type: "button", class: `${primary ? "primary" : ""} ${pressed ? "pressed" : ""}`,
                        "aria-pressed": pressed ? "true" : "false", disabled: disabled || S.data.read_only,
                        "data-action": name, title, onclick: () => { onclick(); render(); },
                        onmousedown: (e) => e.preventDefault() },
            [el("span", { text: label }), keys ? el("kbd", { text: keys }) : null]);
}

function picker(kind, label, keys, shown, placeholder) {
  const open = S.picker && S.picker.kind === kind;
  const input = el("input", {
    type: "text", placeholder: open ? "Type to filter, Enter to choose, Esc to close" : placeholder,
    "aria-label": label, disabled: S.data.read_only, autocomplete: "off", spellcheck: "false",
    onfocus: () => { if (!S.picker || S.picker.kind !== kind) { openPicker(kind); render(); } },
    // Left for another part of the page (not redrawn by a key): the list closes.
    onblur: () => setTimeout(() => {
      const current = S.root.querySelector(`[data-field="${kind}"] input`);
      if (S.picker && S.picker.kind === kind && !S.busy && S.root.getRootNode().activeElement !== current) {
        closePicker();
        render();
      }
    }, 0),
    oninput: (e) => { if (S.picker) { S.picker.query = e.target.value; S.picker.active = 0; render(); } },
  });
  input.value = open ? S.picker.query : "";
  const field = el("div", { class: `field ${open ? "open" : ""}`, "data-field": kind }, [
    el("label", {}, [el("span", { text: label }), keys ? el("kbd", { text: keys }) : null]),
    el("div", { class: "box" }, [...shown, input]),
  ]);
  if (open) {
    const found = matches(kind, S.picker.query);
    const list = el("ul", { role: "listbox" });
    found.forEach((option, index) => list.append(el("li", {
      role: "option", class: index === S.picker.active ? "active" : "", "aria-selected": index === S.picker.active,
      text: option.text, onmousedown: (e) => { e.preventDefault(); choose(option); render(); },
    })));
    if (!found.length) list.append(el("li", { class: "none", text: "Nothing matches" }));
    field.append(list);
  }
  return field;
}

function chip(text, onremove) {
  return el("span", { class: "chip" }, [el("span", { text }), onremove && !S.data.read_only
    ? el("button", { type: "button", class: "remove", "aria-label": `Remove ${text}`, text: "×",
                     onmousedown: (e) => e.preventDefault(), onclick: onremove }) : null]);
}

// Every key, in the form itself (drawn here, so it costs the server nothing on each item).
function keyList(k) {
  const levels = S.data.difficulties.map((level, i) => `Alt+${i + 1} ${level}`).join(", ");
  const rows = [
    [k.keep, "keep"], [k.reject, "reject, then the reason by its number"],
    [k.category, "category: type part of a subcategory or main category, Enter sets both"],
    [k.languages, "languages: type to filter, Enter adds, Backspace removes the last, Esc closes"],
    ["Tab", "from one list to the next"], [levels, "difficulty"], [k.baseline, "start from the baseline answer"],
    [k.save, "save the draft now"], [k.skip, "skip"], [k.previous, "back to the item submitted last"],
    [k.submit, "submit and next"],
  ];
  const details = el("details", { class: "keys", open: !!S.keysOpen,
                                  ontoggle: (e) => { S.keysOpen = e.target.open; } }, [
    el("summary", { text: "Keyboard shortcuts" }),
    el("ul", {}, rows.map(([keys, what]) => el("li", {}, [el("kbd", { text: keys }), el("span", { text: ` ${what}` })]))),
  ]);
  return details;
}

function render() {
  if (!S.root || !S.data) return;
  const d = S.data, f = S.fields, k = d.keys;
  const form = el("div", { class: "form", "data-item": S.item });
  form.append(el("div", { class: "caption", text: "Decision" }), el("div", { class: "row" }, [
    button("Keep", k.keep, { pressed: f.decision === "keep", name: "keep", onclick: () => decide("keep") }),
    button("Reject", k.reject, { pressed: f.decision === "reject", name: "reject", onclick: () => decide("reject") }),
  ]));
  if (f.decision === "reject") {
    form.append(picker("reason", "Reject reason", "1–9", f.reject_reason ? [chip(f.reject_reason)] : [], "Why reject?"));
  }
  const pair = f.category && f.subcategory ? [chip(`${f.subcategory} · ${f.category}`)]
    : f.category ? [chip(f.category)] : [];
  form.append(picker("category", "Category and subcategory", k.category, pair,
                     "Type part of a subcategory or main category"));
  const chips = (f.languages || []).map((l) => chip(l, () => {
    change((x) => { x.languages = x.languages.filter((y) => y !== l); });
    render();
  }));
  form.append(picker("languages", "Programming languages", k.languages, chips, "Pick languages (type to filter)"));
  if (d.suggested) form.append(el("div", { class: "caption", text: `Suggested: ${d.suggested}` }));
  form.append(el("div", { class: "caption", text: "Difficulty" }), el("div", { class: "row" },
    d.difficulties.map((level, i) => button(level[0].toUpperCase() + level.slice(1), `Alt+${i + 1}`, {
      pressed: f.difficulty === level, name: level, onclick: () => rate(level),
    }))));
  form.append(el("div", { class: "row" }, [button(d.editing ? "Save changes" : "Submit and next", k.submit, {
    primary: true, name: "submit", disabled: !!S.busy, onclick: () => act("submit") })]));
  form.append(el("div", { class: "row" }, [
    d.editing ? null : button("Save", k.save, { name: "save", onclick: () => save("save") }),
    d.editing ? null : button("Skip", k.skip, { name: "skip", disabled: !!S.busy, onclick: () => act("skip") }),
    d.previous ? button("Back", k.previous, { name: "back", disabled: !!S.busy, onclick: () => act("back"),
                                              title: `Back to ${d.previous}, the item you submitted last` }) : null,
  ]));
  const queued = S.queue.length ? ` (${S.queue.length} key${S.queue.length > 1 ? "s" : ""} waiting)` : "";
  const status = S.note ? S.note + queued
    : d.read_only ? "Final: a lead has decided this item."
    : S.changes !== S.saved ? "Changes not saved yet: they are saved in a moment."
    : d.saved_at ? `Draft saved at ${d.saved_at}.` : "Drafts are saved as you go.";
  form.append(el("div", { class: "status", role: "status", "data-busy": S.busy ? "true" : "false", text: status }));
  form.append(keyList(k));

  const focused = S.picker ? S.picker.kind : null;
  S.root.replaceChildren(form);
  if (focused && !S.busy) {
    const input = S.root.querySelector(`[data-field="${focused}"] input`);
    if (input) { input.focus({ preventScroll: true }); input.setSelectionRange(input.value.length, input.value.length); }
    const active = S.root.querySelector(`[data-field="${focused}"] li.active`);
    if (active) active.scrollIntoView({ block: "nearest" });
  }
}

export default function (component) {
  const { setTriggerValue, parentElement } = component;
  const data = typeof component.data === "string" ? JSON.parse(component.data) : component.data;
  S.send = setTriggerValue;
  let root = parentElement.querySelector(".label-form");
  if (!root) {
    root = document.createElement("div");
    root.className = "label-form";
    parentElement.appendChild(root);
  }
  S.root = root;
  S.mounted = true;
  if (!S.listening) {
    document.addEventListener("keydown", onKey, true);
    S.listening = true;
  }
  // Keys left waiting from a visit to the page long ago are not this visit's.
  S.queue = S.queue.filter((key) => performance.now() - key.at < SERVER_WAIT_MS);
  receive(data);
  S.away = null;
  if (S.busy) render();
  else replay();  // what was pressed while the server was busy, or while the form was off the page
  return () => {
    S.mounted = false;
    S.away = { at: performance.now(), path: window.location.pathname };
  };
}
