// Text typed into the annotate page's text areas is kept in this browser's localStorage until the
// app has saved it, so a reload or a crash before the field is committed loses nothing typed.
// Streamlit saves a text area when it loses focus; this covers the keystrokes before that.
// Never put a '<' right before a letter in this file: the page's HTML sanitiser would take it
// for a tag and drop the whole script.
(() => {
  const PREFIX = __PREFIX__;            // "annotate-USER-ITEM", as in the widgets' st-key classes
  const FIELDS = __FIELDS__;            // text fields of the annotation
  const STORE = "curation-draft:";      // localStorage key prefix, one entry per item
  const MAX_AGE_MS = 7 * 24 * 3600 * 1000;

  const read = (key) => { try { return JSON.parse(localStorage.getItem(key) || "{}"); } catch { return {}; } };
  const write = (key, value) => {
    if (Object.keys(value).length) localStorage.setItem(key, JSON.stringify(value));
    else localStorage.removeItem(key);
  };
  const fieldOf = (element) => {
    const box = element.closest("[class*='st-key-annotate-']");
    if (!box) return null;
    const name = Array.from(box.classList).find((c) => c.startsWith("st-key-annotate-"));
    const field = FIELDS.find((f) => name.endsWith("-" + f));
    return field ? { item: name.slice("st-key-".length, name.length - field.length - 1), field } : null;
  };

  if (!window.__curationDrafts) {
    window.__curationDrafts = true;
    const base = new WeakMap();  // the value the app had saved when the annotator started typing
    document.addEventListener("focusin", (event) => {
      if (event.target instanceof HTMLTextAreaElement && fieldOf(event.target)) base.set(event.target, event.target.value);
    });
    document.addEventListener("keydown", (event) => {  // Ctrl+Enter in a text area saves it too
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target instanceof HTMLTextAreaElement
          && fieldOf(event.target)) base.set(event.target, event.target.value);
    });
    document.addEventListener("input", (event) => {
      const where = event.target instanceof HTMLTextAreaElement && fieldOf(event.target);
      if (!where || event.__curationRestore) return;
      const key = STORE + where.item;
      const entry = read(key);
      entry[where.field] = { base: base.has(event.target) ? base.get(event.target) : "", value: event.target.value, at: Date.now() };
      write(key, entry);
    });
  }

  // Old entries of items done long ago go.
  for (const key of Object.keys(localStorage)) {
    if (!key.startsWith(STORE)) continue;
    const entry = read(key);
    for (const field of Object.keys(entry)) if (!(entry[field].at > Date.now() - MAX_AGE_MS)) delete entry[field];
    write(key, entry);
  }

  // Put back what was typed but not saved, if the saved value is still the one typing started from.
  const restore = (attempt) => {
    const areas = FIELDS.map((f) => document.querySelector(`.st-key-${PREFIX}-${f} textarea`));
    if (areas.some((a) => !a) && attempt < 50) { setTimeout(() => restore(attempt + 1), 100); return; }
    const key = STORE + PREFIX;
    const entry = read(key);
    const setValue = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
    const changed = [];
    FIELDS.forEach((field, i) => {
      const saved = entry[field];
      if (!saved || !areas[i]) return;
      if (saved.value !== areas[i].value && saved.base === areas[i].value && !areas[i].disabled) {
        setValue.call(areas[i], saved.value);
        const event = new Event("input", { bubbles: true });
        event.__curationRestore = true;
        areas[i].dispatchEvent(event);
        changed.push(areas[i]);
      } else {
        delete entry[field];  // saved already, or changed elsewhere since: the app's value stands
      }
    });
    write(key, entry);
    changed.forEach((area) => { area.focus(); area.blur(); });  // leaving the field saves it
  };
  restore(0);
})();
