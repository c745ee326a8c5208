// Minotaur's page behaviour on top of htmx and its hx-ws extension:
//  - keeps every game action until the server acknowledges it, and sends the unacknowledged
//    ones again after a reconnect (the server recognises resends by their id);
//  - shows a "reconnecting…" badge whenever the live socket is down;
//  - runs the round countdown against the server's clock.
(function () {
  'use strict';

  var offset = 0; // server time minus local time, in ms
  var pendingKey = function (code) { return 'minotaur:pending:' + code; };
  var openSocket = null;

  function liveRoot() { return document.querySelector('[data-live]'); }
  function gameCode() { var g = document.getElementById('game'); return g ? g.getAttribute('data-code') : null; }

  function loadPending(code) {
    try { return JSON.parse(sessionStorage.getItem(pendingKey(code)) || '[]'); } catch (e) { return []; }
  }
  function savePending(code, list) {
    try { sessionStorage.setItem(pendingKey(code), JSON.stringify(list)); } catch (e) { /* private mode: memory only */ }
  }
  function addPending(code, msg) {
    var list = loadPending(code).filter(function (m) { return m.actionId !== msg.actionId; });
    list.push(msg);
    savePending(code, list.slice(-20));
  }
  function dropPending(code, actionId) {
    savePending(code, loadPending(code).filter(function (m) { return m.actionId !== actionId; }));
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return 'a' + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function setBadge(down) {
    var badge = document.getElementById('conn-badge');
    if (badge) badge.hidden = !down;
    document.documentElement.classList.toggle('offline', down);
  }

  function notice(text) {
    var n = document.getElementById('game-notice');
    if (!n) return;
    n.textContent = text;
    n.classList.add('show');
    clearTimeout(n._t);
    n._t = setTimeout(function () { n.classList.remove('show'); }, 3500);
  }

  function sendRaw(msg) {
    if (openSocket && openSocket.readyState === WebSocket.OPEN) {
      openSocket.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  // Outgoing: turn the clicked button's values into an action with its own id, remember it
  // until acknowledged, and send it now if the socket is open (otherwise after reconnecting).
  document.addEventListener('htmx:ws:before:message:outgoing', function (evt) {
    var code = gameCode();
    var v = evt.detail.message.values || {};
    if (!code || !v.kind) return;
    var msg = { type: 'act', actionId: uuid(), round: Number(v.round), kind: String(v.kind) };
    if (v.dir) msg.dir = String(v.dir);
    addPending(code, msg);
    var actions = document.getElementById('game-actions');
    if (actions) actions.classList.add('sending');
    evt.detail.message.data = JSON.stringify(msg);
    var socket = evt.detail.connection && evt.detail.connection.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) evt.detail.cancelled = true; // resent on reconnect
  });

  document.addEventListener('htmx:ws:after:connection', function (evt) {
    openSocket = evt.detail.connection.socket;
    setBadge(false);
    var code = gameCode();
    if (!code) return;
    loadPending(code).forEach(function (m) { sendRaw(m); });
  });

  document.addEventListener('htmx:ws:close', function () {
    openSocket = null;
    setBadge(true);
  });

  // Incoming data-only messages (JSON without "content"): acks, refusals, clock sync.
  document.addEventListener('htmx:ws:after:message:incoming', function (evt) {
    var data = evt.detail.message.data;
    if (typeof data !== 'string' || data.charAt(0) !== '{') return;
    var msg;
    try { msg = JSON.parse(data); } catch (e) { return; }
    var code = gameCode();
    if (msg.type === 'time' && typeof msg.now === 'number') {
      offset = msg.now - Date.now();
    } else if (msg.type === 'ack' && code) {
      dropPending(code, msg.actionId);
    } else if (msg.type === 'error') {
      var actions = document.getElementById('game-actions');
      if (actions) actions.classList.remove('sending');
      if (code && msg.actionId && !msg.retry) dropPending(code, msg.actionId);
      if (msg.retry && code && msg.actionId) {
        setTimeout(function () {
          var m = loadPending(code).filter(function (p) { return p.actionId === msg.actionId; })[0];
          if (m) sendRaw(m);
        }, 1000);
      }
      if (msg.message && !msg.quiet) notice(msg.message);
    } else if (msg.type === 'redirect' && typeof msg.to === 'string' && msg.to.charAt(0) === '/') {
      window.location.assign(msg.to);
    }
  });

  // A swap of the actions panel means the server's view of our action changed.
  document.addEventListener('htmx:after:swap', function () {
    var actions = document.getElementById('game-actions');
    if (actions) actions.classList.remove('sending');
    tick();
  });

  function tick() {
    var els = document.querySelectorAll('.countdown[data-deadline]');
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var deadline = Number(el.getAttribute('data-deadline'));
      if (!deadline) continue;
      var max = Number(el.getAttribute('data-seconds')) || Infinity;
      var left = Math.min(max, Math.max(0, Math.ceil((deadline - (Date.now() + offset)) / 1000)));
      var num = el.querySelector('.countdown-num');
      if (num && num.textContent !== String(left)) num.textContent = String(left);
      el.classList.toggle('urgent', left <= 3);
    }
  }

  document.addEventListener('click', function (evt) {
    var t = evt.target;
    if (!(t instanceof Element)) return;
    var dismiss = t.closest('[data-dismiss]');
    if (dismiss) {
      var overlay = dismiss.closest('.overlay');
      if (overlay) overlay.classList.add('dismissed');
    }
    var copy = t.closest('[data-copy]');
    if (copy && navigator.clipboard) {
      navigator.clipboard.writeText(copy.getAttribute('data-copy')).then(function () { copy.textContent = 'copied'; });
    }
  });

  document.addEventListener('DOMContentLoaded', function () {
    var root = document.getElementById('game');
    if (root) {
      var serverNow = Number(root.getAttribute('data-server-now'));
      if (serverNow) offset = serverNow - Date.now();
    }
    if (liveRoot()) {
      // Show the badge only if the first connection takes noticeably long.
      setTimeout(function () { if (!openSocket) setBadge(true); }, 1500);
    }
    setInterval(tick, 200);
    tick();
  });
})();
