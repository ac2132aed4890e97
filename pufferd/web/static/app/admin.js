// The administration console: pages for the server's /api/v1/system API, shown to those it allows.
import { html, useState, useEffect, link, useRoute } from "./lib.js";
import * as api from "./api.js";
import { Icon, Spinner } from "./ui.js";

export function AdminConsole() {
  const [paths, setPaths] = useState(null);
  useEffect(() => {
    fetch("/openapi.json").then(r => r.json()).then(doc => setPaths(Object.keys(doc.paths).filter(p => p.startsWith("/api/v1/system"))), () => setPaths([]));
  }, []);
  return html`<section class="admin" aria-labelledby="admin-title">
    <header class="conv-head"><a class="icon-btn back" href="/" onClick=${link}><${Icon} name="back" label="Back to chats"/></a>
      <h2 id="admin-title">Administration</h2></header>
    <div class="settings-page">${paths === null ? html`<${Spinner}/>` : paths.length ? html`<ul>${paths.map(p => html`<li><code>${p}</code></li>`)}</ul>`
      : html`<p>This server has no administration API yet.</p>`}</div></section>`;
}
