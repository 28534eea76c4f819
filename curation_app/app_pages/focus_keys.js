// Alt+letter puts the cursor in one of the annotate page's type-ahead lists (category, languages)
// from anywhere on the page; typing then filters the list. So every field is labelled by keyboard. Never put a '<' right before a
// letter in this file: the page's HTML sanitiser would take it for a tag and drop the script.
(() => {
  window.__curationFocusTargets = __TARGETS__;  // {"C": "annotate-1-demo-019-category_pair", ...}
  if (window.__curationFocusKeys) return;  // one listener per page load; the targets follow each run
  window.__curationFocusKeys = true;
  document.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey || !event.code.startsWith("Key")) return;
    const target = window.__curationFocusTargets[event.code.slice(3)];
    const input = target && document.querySelector(".st-key-" + CSS.escape(target) + " input");
    if (!input || input.disabled) return;
    event.preventDefault();
    event.stopPropagation();
    input.focus();
  }, true);
})();
