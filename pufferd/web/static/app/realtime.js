// The WebSocket: resumes with ?since=<seq> after sleep or network loss, renews its token with an
// `auth` frame, acknowledges deliveries with `ack`, and reports `resync_required` (CONTRACT.md).
import * as api from "./api.js";

export class Realtime {
  constructor({ onEvent, onResync, onState, onRevoked }) {
    Object.assign(this, { onEvent, onResync, onState, onRevoked });
    this.seq = null;          // the newest seq applied; null until the first `ready`
    this.ws = null;
    this.state = "offline";   // offline | connecting | online
    this.backoff = 1000;
    this.stopped = true;
    this.lastFrame = 0;
    this.acks = new Map();    // chat_id -> newest message id waiting to be acknowledged
    this.typingSent = new Map();
    this.heartbeat = 30;
    this.onOnline = () => this.reconnectSoon(0);
    this.onOffline = () => this.drop();
    this.onVisible = () => { if (!document.hidden) this.check(); };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    addEventListener("online", this.onOnline);
    addEventListener("offline", this.onOffline);
    document.addEventListener("visibilitychange", this.onVisible);
    this.watchdog = setInterval(() => this.check(), 5000);
    this.connect();
  }

  stop() {
    this.stopped = true;
    removeEventListener("online", this.onOnline);
    removeEventListener("offline", this.onOffline);
    document.removeEventListener("visibilitychange", this.onVisible);
    clearInterval(this.watchdog);
    clearTimeout(this.timer);
    clearTimeout(this.renewTimer);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.setState("offline");
  }

  setState(state) {
    if (this.state !== state) { this.state = state; this.onState && this.onState(state); }
  }

  async connect() {
    if (this.stopped || this.ws) return;
    this.setState("connecting");
    let token;
    try { token = await api.token(); } catch (e) {
      if (e.status === 401) return; // signed out; the app shows the sign-in screen
      return this.reconnectSoon();
    }
    if (this.stopped || this.ws) return;
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const since = this.seq === null ? "" : `&since=${this.seq}`;
    const ws = new WebSocket(`${proto}://${location.host}/api/v1/ws?token=${encodeURIComponent(token)}${since}`);
    this.ws = ws;
    ws.onmessage = e => this.receive(e.data);
    ws.onclose = e => this.closed(ws, e.code);
    ws.onerror = () => {};
  }

  closed(ws, code) {
    if (this.ws !== ws) return;
    this.ws = null;
    clearTimeout(this.renewTimer);
    this.setState("offline");
    if (this.stopped) return;
    if (code === 4001) { this.stop(); this.onRevoked && this.onRevoked(); return; }
    this.reconnectSoon(code === 4002 ? 0 : undefined);
  }

  drop() {
    if (this.ws) { const ws = this.ws; ws.close(); this.closed(ws, 1006); }
  }

  reconnectSoon(delay) {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    const wait = delay ?? this.backoff;
    this.backoff = Math.min(this.backoff * 2, 15000);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  // A socket silent for longer than the heartbeat (the laptop slept, the network went away
  // without a close) is replaced; a closed one is reopened.
  check() {
    if (this.stopped) return;
    if (!this.ws) { if (navigator.onLine !== false) this.reconnectSoon(0); return; }
    const silent = Date.now() - this.lastFrame;
    if (this.state === "online" && silent > this.heartbeat * 1500) this.drop();
    else if (this.state === "online" && silent > 10_000) this.send({ type: "ping" }); // answered by a pong
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) { this.ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  receive(raw) {
    this.lastFrame = Date.now();
    let frame;
    try { frame = JSON.parse(raw); } catch { return; }
    const { type, data } = frame;
    if (type === "ready") {
      this.backoff = 1000;
      this.heartbeat = data.heartbeat_seconds || 30;
      const first = this.seq === null;
      if (first) this.seq = data.seq;
      this.setState("online");
      this.scheduleRenew();
      this.flushAcks();
      if (first) this.onResync && this.onResync(false);
      return;
    }
    if (type === "resync_required") {
      this.seq = data.seq;
      this.onResync && this.onResync(true);
      return;
    }
    if (type === "pong" || type === "auth_ok" || type === "error") return;
    if (typeof frame.seq === "number") {
      if (this.seq !== null && frame.seq <= this.seq) return; // already applied: never twice
      this.seq = frame.seq;
    }
    this.onEvent && this.onEvent(type, data);
  }

  // renew the socket's expiry a minute before the access token runs out (close code 4002)
  scheduleRenew() {
    clearTimeout(this.renewTimer);
    const wait = Math.max(5000, api.accessExpiresAt() - Date.now() - 60_000);
    this.renewTimer = setTimeout(async () => {
      try {
        const token = await api.token();
        this.send({ type: "auth", data: { token } });
      } catch { /* the socket closes with 4002 and reconnects */ }
      this.scheduleRenew();
    }, wait);
  }

  ack(chatId, messageId) {
    const prev = this.acks.get(chatId) || 0;
    if (messageId <= prev) return;
    this.acks.set(chatId, messageId);
    if (!this.ackScheduled) {
      this.ackScheduled = true;
      setTimeout(() => { this.ackScheduled = false; this.flushAcks(); }, 50);
    }
  }

  flushAcks() {
    for (const [chat_id, message_id] of this.acks) {
      if (!this.send({ type: "ack", data: { chat_id, message_id } })) return;
      this.acks.delete(chat_id);
    }
  }

  typing(chatId) {
    const now = Date.now();
    if (now - (this.typingSent.get(chatId) || 0) < 2500) return;
    if (this.send({ type: "typing", data: { chat_id: chatId } })) this.typingSent.set(chatId, now);
  }
}
