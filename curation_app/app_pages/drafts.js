// Text typed into the annotate page's text areas is kept in this browser's localStorage until the
// app has saved it, so a reload or a crash before the field is committed loses nothing typed.
// Streamlit saves a text area when it loses focus; this covers the keystrokes before that.
// Never put a '<' right before a letter in this file: the page's HTML sanitiser would take it
// for a tag and drop the whole script.
//
// Each kept value carries the annotation's revision when it was typed. It is put back only on a
// fresh page load, for the same item, when the saved annotation is still at that revision: if
// anything was saved since (here or elsewhere), the saved value stands.
(() => {
  const PREFIX = __PREFIX__;            // "annotate-USER-ITEM", as in the widgets' st-key classes
  const USER_PREFIX = __USER_PREFIX__;  // "annotate-USER-": entries of anyone else are dropped
  const ITEM = __ITEM__;                // the item's exact id (two ids can share a class name)
  const REVISION = __REVISION__;        // the annotation's saved revision, as this page knows it
  const FIELDS = __FIELDS__;            // text fields of the annotation
  const STORE = "curation-draft:";      // localStorage key prefix, one entry per item
  const MAX_AGE_MS = 7 * 24 * 3600 * 1000;

  const read = (key) => {
    try { return JSON.parse(localStorage.getItem(key) || "null") || { fields: {} }; } catch { return { fields: {} }; }
  };
  const write = (key, entry) => {
    if (Object.keys(entry.fields || {}).length) localStorage.setItem(key, JSON.stringify(entry));
    else localStorage.removeItem(key);
  };
  const fieldOf = (element) => {
    const box = element.closest("[class*='st-key-annotate-']");
    const name = box && Array.from(box.classList).find((c) => c.startsWith("st-key-annotate-"));
    const field = name && FIELDS.find((f) => name.endsWith("-" + f));
    return field ? { prefix: name.slice("st-key-".length, name.length - field.length - 1), field } : null;
  };

  const firstRun = !window.__curationDrafts;  // the first run after the page (re)loaded
  window.__curationDraftItem = { prefix: PREFIX, item: ITEM, revision: REVISION };
  if (firstRun) {
    window.__curationDrafts = true;
    document.addEventListener("input", (event) => {
      const where = event.target instanceof HTMLTextAreaElement && fieldOf(event.target);
      const now = window.__curationDraftItem;
      if (!where || event.__curationRestore || where.prefix !== now.prefix) return;
      const key = STORE + now.prefix;
      const entry = read(key);
      if (entry.item !== now.item) entry.fields = {};
      entry.item = now.item;
      entry.fields[where.field] = { value: event.target.value, revision: now.revision, at: Date.now() };
      write(key, entry);
    });
  }

  // Entries of other users, and old ones, go.
  for (const key of Object.keys(localStorage)) {
    if (!key.startsWith(STORE)) continue;
    if (!key.startsWith(STORE + USER_PREFIX)) { localStorage.removeItem(key); continue; }
    const entry = read(key);
    for (const field of Object.keys(entry.fields || {})) {
      if (!(entry.fields[field].at > Date.now() - MAX_AGE_MS)) delete entry.fields[field];
    }
    write(key, entry);
  }

  const settle = (attempt) => {
    const areas = FIELDS.map((f) => document.querySelector(`.st-key-${PREFIX}-${f} textarea`));
    if (areas.some((a) => !a) && attempt < 50) { setTimeout(() => settle(attempt + 1), 100); return; }
    const key = STORE + PREFIX;
    const entry = read(key);
    if (entry.item !== ITEM) { localStorage.removeItem(key); return; }
    const restored = {};
    FIELDS.forEach((field, i) => {
      const kept = entry.fields[field];
      const area = areas[i];
      if (!kept || !area) return;
      if (kept.value === area.value) {
        // Shown already: saved (after a load) or still being typed (after a save of another field).
        if (firstRun) delete entry.fields[field]; else kept.revision = REVISION;
      } else if (firstRun && kept.revision === REVISION && !area.disabled) {
        restored[field] = { value: kept.value, saved: area.value };
      } else if (kept.revision !== REVISION) {
        delete entry.fields[field];  // saved since, here or elsewhere: the saved value stands
      }
    });
    write(key, entry);
    if (Object.keys(restored).length) putBack(restored, 0);
  };

  // Streamlit saves a text area when it is left, if its last render saw a change; so the value is
  // put in, and the field left in a later task, once React has rendered it. Until the app has
  // saved (its rerun brings a newer revision), this is repeated a few times: a field that could
  // not take focus yet, or was drawn again with the saved value, gets another chance. While the
  // annotator is in a field, nothing is touched (no focus is taken from them).
  const putBack = (values, attempt) => {
    const now = window.__curationDraftItem;
    if (now.item !== ITEM || now.revision !== REVISION || attempt >= 20) return;
    setTimeout(() => putBack(values, attempt + 1), 700);
    if (document.activeElement && document.activeElement !== document.body) return;
    for (const [field, { value, saved }] of Object.entries(values)) {
      const area = document.querySelector(`.st-key-${PREFIX}-${field} textarea`);
      if (!area || area.disabled || (area.value !== value && area.value !== saved)) continue;  // edited since
      if (area.value !== value) {
        setValue.call(area, value);
        const event = new Event("input", { bubbles: true });
        event.__curationRestore = true;
        area.dispatchEvent(event);
      }
      setTimeout(() => {
        if (document.activeElement && document.activeElement !== document.body) return;
        area.focus();
        area.blur();
      }, 100);
    }
  };
  const setValue = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
  settle(0);
})();
