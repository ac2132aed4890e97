// Small shared components: icons, avatars, dialogs, menus, toasts.
import { html, useEffect, useRef, useState, initials, hue, cls, useStore } from "./lib.js";
import * as api from "./api.js";
import { store } from "./state.js";

const PATHS = {
  send: "M3 20l18-8L3 4v6l12 2-12 2z",
  attach: "M16.5 6.5l-8 8a2.1 2.1 0 003 3l8.5-8.5a4 4 0 00-5.7-5.7L5.6 12a6 6 0 008.5 8.5l7-7",
  search: "M10 4a6 6 0 104.5 10l5 5 1.4-1.4-5-5A6 6 0 0010 4zm0 2a4 4 0 110 8 4 4 0 010-8z",
  bell: "M12 22a2.5 2.5 0 002.5-2.5h-5A2.5 2.5 0 0012 22zm7-6V11a7 7 0 00-5.5-6.8V3a1.5 1.5 0 00-3 0v1.2A7 7 0 005 11v5l-2 2v1h18v-1z",
  menu: "M12 7a2 2 0 110-4 2 2 0 010 4zm0 7a2 2 0 110-4 2 2 0 010 4zm0 7a2 2 0 110-4 2 2 0 010 4z",
  back: "M15.4 5.4L14 4l-8 8 8 8 1.4-1.4L8.8 12z",
  close: "M6.4 5L5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z",
  plus: "M11 5h2v6h6v2h-6v6h-2v-6H5v-2h6z",
  settings: "M12 8a4 4 0 100 8 4 4 0 000-8zm8.5 4l2-1.6-2-3.4-2.4.8a7 7 0 00-1.7-1L16 4.3h-4l-.4 2.5a7 7 0 00-1.7 1l-2.4-.8-2 3.4 2 1.6a7 7 0 000 2l-2 1.6 2 3.4 2.4-.8a7 7 0 001.7 1l.4 2.5h4l.4-2.5a7 7 0 001.7-1l2.4.8 2-3.4-2-1.6a7 7 0 000-2z",
  check: "M9 16.2L4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z",
  checks: "M1.5 12.6L3 11.2l4.6 4.6L6.2 17.2zM7.6 15.8L18.3 5.1l1.4 1.4L7.6 18.6l-4.3-4.3 1.4-1.4zM12 15.8L22.6 5.2 24 6.6 12 18.6l-1.4-1.4z",
  clock: "M12 2a10 10 0 100 20 10 10 0 000-20zm1 10.4l3.6 2.1-.8 1.3L11 13V6.5h2z",
  info: "M11 7h2v2h-2zm0 4h2v6h-2zm1-9a10 10 0 100 20 10 10 0 000-20z",
  shield: "M12 2l8 3v6c0 5-3.4 9.7-8 11-4.6-1.3-8-6-8-11V5z",
  reply: "M10 9V5l-7 7 7 7v-4.1c5 0 8.5 1.6 11 5.1-1-5-4-10-11-11z",
  pin: "M16 3l5 5-3 1-4 4 1 5-2 2-4-4-5 5-1-1 5-5-4-4 2-2 5 1 4-4z",
  archive: "M4 3h16l1 4H3zm-1 5h18v13H3zm6 3v2h6v-2z",
  saved: "M6 2h12v20l-6-4-6 4z",
  download: "M12 16l-5-5 1.4-1.4 2.6 2.6V3h2v9.2l2.6-2.6L17 11zm-7 3h14v2H5z",
  warn: "M1 21h22L12 2zm12-3h-2v-2h2zm0-4h-2v-4h2z",
};
export function Icon({ name, label, size = 20 }) {
  return html`<svg class="icon" width=${size} height=${size} viewBox="0 0 24 24" aria-hidden=${label ? undefined : "true"}
    role=${label ? "img" : undefined} aria-label=${label} focusable="false"><path d=${PATHS[name]} fill="currentColor"/></svg>`;
}

// An avatar: the picture through a signed URL when there is one, else initials on a stable colour.
export function Avatar({ name, id, url, size = 40, online }) {
  const [src, setSrc] = useState(null);
  useEffect(() => {
    let live = true;
    setSrc(null);
    if (url) api.downloadUrl(url).then(u => live && setSrc(u), () => {});
    return () => { live = false; };
  }, [url]);
  return html`<span class=${cls("avatar", `s${size}`, `h${Math.floor(hue(id) / 30)}`)} aria-hidden="true">
    ${src ? html`<img src=${src} alt="" loading="lazy"/>` : initials(name)}
    ${online ? html`<span class="dot" title="online"></span>` : null}</span>`;
}

// A modal dialog on the native <dialog>: focus is trapped, Escape closes, the title labels it.
export function Modal({ title, onClose, children, wide }) {
  const ref = useRef();
  useEffect(() => {
    const d = ref.current;
    if (!d.open) d.showModal();
    const close = e => { e.preventDefault(); onClose(); };
    d.addEventListener("cancel", close);
    return () => d.removeEventListener("cancel", close);
  }, []);
  const id = `dlg-${title.replace(/\W+/g, "-")}`;
  return html`<dialog ref=${ref} class=${cls("modal", wide && "wide")} aria-labelledby=${id}>
    <header><h2 id=${id}>${title}</h2>
      <button class="icon-btn" type="button" onClick=${onClose}><${Icon} name="close" label="Close"/></button></header>
    <div class="modal-body">${children}</div></dialog>`;
}

// A menu button: a list of actions in a popover; arrow keys move, Escape closes. ITEMS may be a
// function, called only when the menu opens (a message list renders many closed menus).
export function Menu({ label, items, icon = "menu", className }) {
  const [open, setOpen] = useState(false);
  const ref = useRef();
  useEffect(() => {
    if (!open) return;
    const first = ref.current.querySelector("[role=menuitem]");
    if (first) first.focus();
    const away = e => { if (!ref.current.contains(e.target)) setOpen(false); };
    document.addEventListener("pointerdown", away);
    return () => document.removeEventListener("pointerdown", away);
  }, [open]);
  const key = e => {
    const all = [...ref.current.querySelectorAll("[role=menuitem]")];
    const i = all.indexOf(document.activeElement);
    if (e.key === "Escape") { setOpen(false); ref.current.querySelector("button").focus(); e.stopPropagation(); }
    else if (e.key === "ArrowDown") { e.preventDefault(); all[(i + 1) % all.length].focus(); }
    else if (e.key === "ArrowUp") { e.preventDefault(); all[(i - 1 + all.length) % all.length].focus(); }
  };
  return html`<div class=${cls("menu", className)} ref=${ref} onKeyDown=${key}>
    <button type="button" class="icon-btn" aria-haspopup="menu" aria-expanded=${open} onClick=${() => setOpen(!open)}>
      <${Icon} name=${icon} label=${label}/></button>
    ${open && html`<ul role="menu" aria-label=${label}>${(typeof items === "function" ? items() : items).filter(Boolean).map(it => html`<li role="none">
      <button type="button" role="menuitem" class=${it.danger ? "danger" : ""}
        onClick=${() => { setOpen(false); it.action(); }}>${it.label}</button></li>`)}</ul>`}</div>`;
}

export function Toasts() {
  const s = useStore(store);
  return html`<div class="toasts" role="status" aria-live="polite">${s.toasts.map(t =>
    html`<div key=${t.id} class=${cls("toast", t.kind)}>${t.text}</div>`)}</div>`;
}

// A form field with a visible label; extra props go to the input.
export function Field({ label, hint, ...props }) {
  const id = props.id || `f-${props.name || label.replace(/\W+/g, "-").toLowerCase()}`;
  return html`<div class="field"><label for=${id}>${label}</label>
    <input id=${id} ...${props} aria-describedby=${hint ? `${id}-hint` : undefined}/>
    ${hint && html`<small id=${`${id}-hint`}>${hint}</small>`}</div>`;
}

export function Spinner({ label = "Loading" }) {
  return html`<div class="spinner" role="progressbar" aria-label=${label}></div>`;
}
